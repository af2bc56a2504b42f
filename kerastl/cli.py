"""`kerastl` command line: the same functions as the Python API."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _list(args) -> int:
    from kerastl.zoo import get, list_backbones

    names = list_backbones(args.pattern, source=args.source)
    if args.markdown:
        print(zoo_table(names))
    else:
        print("\n".join(names))
    return 0


def zoo_table(names: list[str]) -> str:
    """Markdown table of zoo entries, generated from the registry."""
    from kerastl.zoo import aliases, get

    by_target: dict[str, list[str]] = {}
    for alias, target in aliases().items():
        by_target.setdefault(target, []).append(alias)
    rows = ["| name | aliases | source | input | preprocessing | weights |", "|---|---|---|---|---|---|"]
    for name in names:
        spec = get(name)
        pre = "in network" if spec.preprocessing is None else (
            "caffe (BGR, mean)" if spec.preprocessing.reverse_channels else
            "[-1, 1]" if spec.preprocessing.scale == 1 / 127.5 else "ImageNet mean/std")
        rows.append(f"| `{spec.name}` | {', '.join(f'`{a}`' for a in by_target.get(spec.name, []))} | "
                    f"{spec.source} | {spec.input_size} | {pre} | {', '.join(spec.weights)} |")
    return "\n".join(rows)


def _info(args) -> int:
    import kerastl

    print(json.dumps(kerastl.info(args.name), indent=2))
    return 0


def _demo(args) -> int:
    from kerastl import demo

    metrics = demo.run(args.out, head_epochs=args.head_epochs, fine_tune_epochs=args.fine_tune_epochs,
                       export=not args.no_export)
    return 0 if metrics["val_accuracy"] > 0 else 1


def _export(args) -> int:
    import keras

    import kerastl
    from kerastl.data import image_folder
    from kerastl.export import table

    model = keras.models.load_model(args.model)
    images = image_folder(args.data, image_size=tuple(model.inputs[0].shape[1:3]))
    report = kerastl.export(model, args.out, tuple(args.formats), name=args.name, version=args.version,
                            labels=images.class_names, quantize=tuple(args.quantize) if args.quantize else None,
                            representative_data=images.train, verify_data=images.val if images.val is not None else images.train,
                            uint8_input=args.uint8_input, strict=not args.keep_failed)
    print(table(report))
    print(f"-> {args.out}/{args.name}/{args.version}/")
    return 0


TRAIN_OPTIONS = {  # option -> (type, default): mirrors kerastl.train.run.train_run
    "backbone": (str, "efficientnet_lite0"), "recipe": (str, "two_phase"), "head_epochs": (int, 100),
    "fine_tune_epochs": (int, 4), "unfreeze_blocks": (int, 3), "learning_rate": (float, 1e-3),
    "image_size": (int, None), "precision": (str, "float32"), "patience": (int, None), "name": (str, "model"),
    "seed": (int, 0), "tfds_dir": (str, None),
}


def _train(args) -> int:
    from kerastl.train.run import train_run

    options = {key: default for key, (_, default) in TRAIN_OPTIONS.items()}
    if args.recipe and args.recipe.endswith(".toml"):
        options.update(_read_recipe(args.recipe))
    options.update({k: v for k, v in vars(args).items() if k in TRAIN_OPTIONS and v is not None
                    and not (k == "recipe" and v.endswith(".toml"))})
    train_run(args.data, args.out, export=not args.no_export, overwrite=args.overwrite, **options)
    return 0


def _read_recipe(path: str) -> dict:
    import tomllib

    from kerastl.errors import InvalidArgumentError

    with open(path, "rb") as f:
        recipe = tomllib.load(f)
    unknown = set(recipe) - set(TRAIN_OPTIONS)
    if unknown:
        raise InvalidArgumentError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(TRAIN_OPTIONS)}")
    return recipe


def _load_run_model(path: str):
    import keras

    labels = Path(path).parent / "labels.txt"
    names = labels.read_text().split("\n")[:-1] if labels.is_file() else None
    return keras.models.load_model(path), names


def _predict(args) -> int:
    import numpy as np
    import tensorflow as tf

    from kerastl.errors import InvalidArgumentError

    model, names = _load_run_model(args.model)
    height, width = model.inputs[0].shape[1:3]
    for path in args.images:
        try:
            image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
            raise InvalidArgumentError(f"cannot read {path!r} as an image: {error.message.splitlines()[0]}") from None
        pixels = tf.image.resize(image, (height, width))[None]  # as image_dataset_from_directory
        probabilities = model.predict(pixels, verbose=0)[0]
        top = np.argsort(probabilities)[::-1][: args.top]
        print(path + "\t" + "\t".join(f"{names[i] if names else i}:{probabilities[i]:.4f}" for i in top))
    return 0


def _evaluate(args) -> int:
    from kerastl.data import image_folder
    from kerastl.train.reports import predict_labels

    model, names = _load_run_model(args.model)
    images = image_folder(args.data, image_size=tuple(model.inputs[0].shape[1:3]))
    dataset = images.val if images.val is not None else images.train
    y_true, y_pred = predict_labels(model, dataset)
    print(json.dumps({"images": len(y_true), "accuracy": round(float((y_true == y_pred).mean()), 4)}))
    return 0


def _benchmark(args) -> int:
    import keras
    import numpy as np

    from kerastl.export.fresh_process import p50_ms

    model = keras.models.load_model(args.model)
    rows = {}
    for batch in args.batch_sizes:
        pixels = np.random.default_rng(0).uniform(0, 255, (batch, *model.inputs[0].shape[1:])).astype("float32")
        ms = p50_ms(model.predict_on_batch, pixels, args.repeats)
        rows[batch] = {"p50_ms": ms, "images_per_second": round(1000 * batch / ms, 1)}
    print(json.dumps({"model": args.model, "keras_predict_on_batch": rows}, indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kerastl", description="Transfer learning with Keras 3.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("list", help="list zoo backbones")
    s.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'efficientnet*'")
    s.add_argument("--source", choices=["keras.applications", "keras_hub", "kerastl"])
    s.add_argument("--markdown", action="store_true", help="print a Markdown table")
    s.set_defaults(func=_list)
    s = sub.add_parser("info", help="show what the zoo knows about a backbone")
    s.add_argument("name")
    s.set_defaults(func=_info)
    s = sub.add_parser("demo", help="offline demo: Lite0 learns sign-language digits")
    s.add_argument("--out", default="runs/demo")
    s.add_argument("--head-epochs", type=int, default=100)
    s.add_argument("--fine-tune-epochs", type=int, default=4)
    s.add_argument("--no-export", action="store_true", help="skip the verified exports at the end")
    s.set_defaults(func=_demo)
    s = sub.add_parser("train", help="train a backbone on an image folder; writes a run directory")
    s.add_argument("--data", required=True, help="<class>/<image> folder, one with train/ and val/, or tfds:NAME")
    s.add_argument("--out", required=True, help="run directory (refused if it exists, unless --overwrite)")
    for key, (kind, default) in TRAIN_OPTIONS.items():
        extra = " (a recipe name, or a .toml file of these options, e.g. zoo/efficientnet_lite0_two_phase.toml)" \
            if key == "recipe" else ""
        s.add_argument("--" + key.replace("_", "-"), type=kind, default=None, help=f"default {default}{extra}")
    s.add_argument("--no-export", action="store_true", help="skip the verified exports")
    s.add_argument("--overwrite", action="store_true")
    s.set_defaults(func=_train)
    s = sub.add_parser("predict", help="labels and probabilities for image files")
    s.add_argument("images", nargs="+")
    s.add_argument("--model", required=True, help="a run's model.keras (labels.txt beside it names classes)")
    s.add_argument("--top", type=int, default=3)
    s.set_defaults(func=_predict)
    s = sub.add_parser("evaluate", help="accuracy of a model on an image folder's held-out split")
    s.add_argument("--model", required=True)
    s.add_argument("--data", required=True)
    s.set_defaults(func=_evaluate)
    s = sub.add_parser("benchmark", help="inference latency and throughput of a .keras model on this machine")
    s.add_argument("model")
    s.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    s.add_argument("--repeats", type=int, default=10)
    s.set_defaults(func=_benchmark)
    s = sub.add_parser("export", help="export a .keras classifier to SavedModel / TFLite / ONNX, verified")
    s.add_argument("model", help="a .keras file, e.g. runs/demo/model.keras")
    s.add_argument("out", help="export root; writes OUT/NAME/VERSION/")
    s.add_argument("--data", required=True, help="image folder (<class>/<image> or train/ val/) for "
                   "int8 calibration and verification; its class names become the labels")
    s.add_argument("--name", default="model")
    s.add_argument("--version", type=int, default=1)
    s.add_argument("--formats", nargs="+", default=["saved_model", "tflite", "onnx"])
    s.add_argument("--quantize", nargs="+", help="TFLite modes (default: all four for classification)")
    s.add_argument("--uint8-input", action="store_true", help="int8 TFLite takes uint8 pixels")
    s.add_argument("--keep-failed", action="store_true",
                   help="write the export even if an artefact misses its threshold (marked in the report)")
    s.set_defaults(func=_export)
    return p


def main(argv: list[str] | None = None) -> int:
    from kerastl.errors import KerastlError

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KerastlError as error:
        print(f"kerastl: error: {error}", file=sys.stderr)
        return 2
