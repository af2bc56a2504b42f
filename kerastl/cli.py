"""`kerastl` command line: the same functions as the Python API.

Quiet by default: TensorFlow's C++ logging is silenced before TensorFlow loads (`kerastl/__init__.py`,
only when the process is this command), C-level output of converters is discarded, known
dependency warnings are filtered, and kerastl's progress is printed with the elapsed time.
`--verbose` shows everything. User errors exit with status 2 and a `kerastl: error:` line.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Iterator

from kerastl.errors import ExportVerificationError, InvalidArgumentError, KerastlError, first_line

# Warnings of dependencies that say nothing a kerastl user can act on.
NOISE = [
    r"`shuffle=True` was passed, but will be ignored",
    r".*is deprecated and will be removed",
    r".*np\.find_common_type is deprecated",
    r"Skipping variable loading for optimizer",
    r"Compiled the loaded model, but the compiled metrics",
    r"A total of \d+ objects could not be loaded",
]


def _list(args) -> int:
    from kerastl.zoo import list_backbones

    names = list_backbones(args.pattern, source=args.source)
    print(zoo_table(names) if args.markdown else "\n".join(names))
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
                    f"{spec.source} | {spec.input_size} | {pre} | {', '.join(spec.weights)}"
                    f"{' (shipped: works offline)' if spec.source == 'kerastl' else ''} |")
    return "\n".join(rows)


def _info(args) -> int:
    import kerastl

    print(json.dumps(kerastl.info(args.name), indent=2))
    return 0


def _options(args) -> dict:
    """Training options from a .toml recipe (if --recipe names one) and the flags given, checked."""
    from kerastl.train.options import OPTIONS, read_recipe, resolve

    options = {}
    if args.recipe and args.recipe.endswith(".toml"):
        options.update(read_recipe(args.recipe))
    options.update({k: v for k, v in vars(args).items() if k in OPTIONS and v is not None
                    and not (k == "recipe" and v.endswith(".toml"))})
    resolve(options, f"kerastl {args.command}")
    return options


def _run_and_report(run, args) -> int:
    from kerastl.train.run import summary

    metrics = run(export=not args.no_export, formats=tuple(args.formats), quantize=_tuple(args.quantize),
                  overwrite=args.overwrite, **_options(args))
    if "worker" in metrics:  # a non-chief worker of a cluster
        print(f"worker {metrics['worker']} of {metrics['workers']}: done; the chief writes {args.out}/")
        return 0
    print(summary(metrics))
    print(f"-> {args.out}/  ({metrics['seconds']['total']:.0f} s)")
    return 0


def _train(args) -> int:
    from kerastl.train.run import train_run

    return _run_and_report(lambda **kw: train_run(args.data, args.out, **kw), args)


def _demo(args) -> int:
    from kerastl import demo

    return _run_and_report(lambda **kw: demo.run(args.out, **kw), args)


def _load_model(path: str):
    """(model, labels): a .keras file and the labels.txt beside it (else "0" … "n-1")."""
    import keras

    file = Path(path)
    if not file.is_file():
        raise InvalidArgumentError(f"model file {path!r} does not exist (a run writes <out>/model.keras)")
    if file.suffix != ".keras":
        raise InvalidArgumentError(f"model file {path!r} is not a .keras file")
    try:
        model = keras.models.load_model(file)
    except (ValueError, OSError, KeyError) as error:
        raise InvalidArgumentError(f"cannot load {path!r} as a Keras model: {first_line(error)}") from None
    outputs = model.outputs[0].shape[-1]
    labels_file = file.parent / "labels.txt"
    labels = labels_file.read_text().splitlines() if labels_file.is_file() else [str(i) for i in range(outputs)]
    if len(labels) != outputs:
        raise InvalidArgumentError(f"{labels_file} names {len(labels)} classes but the model has {outputs} outputs")
    return model, labels


def _predict(args) -> int:
    import numpy as np
    import tensorflow as tf

    from kerastl.export import file_inputs
    from kerastl.heads import head_of

    model, labels = _load_model(args.model)
    audio = head_of(model).input == "waveform"
    for path in args.images:
        if not Path(path).is_file():
            raise InvalidArgumentError(f"{path!r} is {'a folder' if Path(path).is_dir() else 'not a file'}; "
                                       f"pass {'WAV files (e.g. clips/*.wav)' if audio else 'image files (e.g. photos/*.jpg)'}")
        try:
            inputs = next(iter(file_inputs(model, [path]).batch(1)))
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, ValueError) as error:
            raise InvalidArgumentError(f"cannot read {path!r} as {'a WAV file' if audio else 'an image'}: "
                                       f"{first_line(error)}") from None
        probabilities = model.predict(inputs, verbose=0)[0]
        top = np.argsort(probabilities)[::-1][: args.top]
        print(path + "\t" + "\t".join(f"{labels[i]}:{probabilities[i]:.4f}" for i in top))
    return 0


def _evaluate(args) -> int:
    from kerastl.data.image_folder import evaluation_files, stream
    from kerastl.heads import head_of

    model, labels = _load_model(args.model)
    if head_of(model).input == "waveform":
        return _evaluate_audio(args, model, labels)
    split, pairs, skipped = evaluation_files(args.data, args.split, seed=args.seed)
    return _score(model, labels, args.data, split, pairs, skipped, lambda indexed: stream(
        indexed, tuple(model.inputs[0].shape[1:3]), batch_size=32, skipped=skipped, where=f"{args.data} ({split})"))


def _score(model, labels: list[str], data: str, split: str, pairs: list[tuple[str, str]], skipped: list[str],
           dataset, classes: str = "class folders") -> int:
    """Print the accuracy of `model` on [(file, class name)] `pairs`, read by `dataset([(file, index)])`;
    a class name the model's labels lack is an error (naming the `classes`)."""
    from kerastl.train.reports import predict_labels

    unknown = sorted({name for _, name in pairs} - set(labels))
    if unknown:
        raise InvalidArgumentError(f"{classes} {unknown} of {data!r} are not among the model's "
                                   f"{len(labels)} labels {labels[:12]} (labels.txt beside the model)")
    if not pairs:
        raise InvalidArgumentError(f"no readable files in the {split} split of {data!r}")
    index = {name: i for i, name in enumerate(labels)}
    y_true, y_pred = predict_labels(model, dataset([(f, index[name]) for f, name in pairs]))
    print(json.dumps({"split": split, "images": len(y_true), "accuracy": round(float((y_true == y_pred).mean()), 4),
                      "classes": sorted({name for _, name in pairs}), "skipped_unreadable": len(skipped)}))
    return 0


def _evaluate_audio(args, model, labels: list[str]) -> int:
    """`kerastl evaluate` of an audio model: every clip of the folder (`--split all`, the default) or the
    held-out speakers / clips of training's split rule (`--split val`, same --seed)."""
    from kerastl.data.audio_folder import audio_splits, clip_dataset, speaker_list
    from kerastl.models import sample_rate_of

    split = args.split or "all"
    if split == "test":
        raise InvalidArgumentError("an audio folder has no test/ split; choose --split all or val")
    _, splits, clips, skipped, _ = audio_splits(args.data, sample_rate=sample_rate_of(model),
                                                label_pattern=args.label_pattern, seed=args.seed,
                                                held_out_speakers=speaker_list(args.held_out_speakers)
                                                if split == "val" else None,
                                                validation_split=0.2 if split == "val" else 0)
    pairs = splits["val"] if split == "val" else splits["train"]
    return _score(model, labels, args.data, split, pairs, skipped,
                  lambda indexed: clip_dataset(indexed, clips, model.inputs[0].shape[1], batch_size=32), "classes")


def _benchmark(args) -> int:
    import numpy as np

    from kerastl.export.fresh_process import p50_ms

    model, _ = _load_model(args.model)
    rows = {}
    for batch in args.batch_sizes:
        pixels = np.random.default_rng(0).uniform(0, 255, (batch, *model.inputs[0].shape[1:])).astype("float32")
        ms = p50_ms(model.predict_on_batch, pixels, args.repeats)
        rows[batch] = {"p50_ms": ms, "images_per_second": round(1000 * batch / ms, 1)}
    print(json.dumps({"model": args.model, "keras_predict_on_batch": rows}, indent=2))
    return 0


def _export(args) -> int:
    import kerastl
    from kerastl.data import audio_folder, image_folder
    from kerastl.export import table
    from kerastl.heads import head_of
    from kerastl.models import sample_rate_of

    model, _ = _load_model(args.model)
    if head_of(model).input == "waveform":
        rate = sample_rate_of(model)
        images = audio_folder(args.data, sample_rate=rate, seconds=model.inputs[0].shape[1] / rate,
                              label_pattern=args.label_pattern)
    else:
        images = image_folder(args.data, image_size=tuple(model.inputs[0].shape[1:3]))
    try:
        report = kerastl.export(model, args.out, tuple(args.formats), name=args.name, version=args.version,
                                labels=images.class_names, quantize=_tuple(args.quantize),
                                representative_data=images.train,
                                verify_data=images.val if images.val is not None else images.train,
                                verify_files=images.val_files, strict=not args.keep_failed)
    except ExportVerificationError as error:
        raise ExportVerificationError(f"{error}\nNothing was written. Pass --keep-failed to write every artefact "
                                      "with the misses marked in export_report.json, or leave the failing mode "
                                      "out (e.g. --quantize fp32 fp16).") from None
    print(table(report))
    print(f"-> {args.out}/{args.name}/{args.version}/")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values else None


def _add_export_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--formats", nargs="+", default=["saved_model", "tflite", "onnx"])
    parser.add_argument("--quantize", nargs="+", help="TFLite modes: fp32 fp16 dynamic int8 "
                        "(default: fp32 fp16 int8 for classification, fp32 fp16 for other tasks)")


def _add_audio_options(parser: argparse.ArgumentParser, speakers: bool = False) -> None:
    from kerastl.train.options import OPTIONS

    for name in ("label_pattern", "held_out_speakers")[: 2 if speakers else 1]:
        parser.add_argument("--" + name.replace("_", "-"), help=OPTIONS[name].help.replace("%", "%%"))


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    from kerastl.train.options import IMAGE_DEFAULTS, OPTIONS

    for option in OPTIONS.values():
        flag = "--" + option.name.replace("_", "-")
        images = f"; two_phase on images: {IMAGE_DEFAULTS[option.name]}" if option.name in IMAGE_DEFAULTS else ""
        text = f"{option.help} (default: {option.default}{images})".replace("%", "%%")  # argparse formats help with %
        if option.kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif option.name == "recipe":
            parser.add_argument(flag, default=None, help=f"{text}; or a .toml file of these options "
                                "(e.g. zoo/efficientnet_lite0_two_phase.toml), overridden by the flags given")
        else:
            parser.add_argument(flag, type=option.kind, default=None, help=text)
    parser.add_argument("--no-export", action="store_true", help="skip the verified exports")
    _add_export_options(parser)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kerastl", description="Transfer learning with Keras 3.")
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's logs and dependency warnings")
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
    s.add_argument("--out", default="runs/demo", help="run directory (replaced if it exists)")
    _add_train_options(s)
    s.set_defaults(func=_demo, overwrite=True)
    s = sub.add_parser("train", help="train a backbone on an image (or WAV) folder; writes a run directory")
    s.add_argument("--data", required=True, help="<class>/<image> folder, one with train/ (val/, test/), tfds:NAME, "
                   "or a folder of WAV files (<class>/<clip>.wav, or named by --label-pattern): an audio model")
    s.add_argument("--out", required=True, help="run directory (refused if it exists, unless --overwrite)")
    _add_train_options(s)
    s.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out and discard another run's interrupted state in <out>.work/")
    s.set_defaults(func=_train)
    s = sub.add_parser("predict", help="labels and probabilities for image files (WAV files for an audio model)")
    s.add_argument("images", nargs="+", metavar="FILE")
    s.add_argument("--model", required=True, help="a run's model.keras (labels.txt beside it names classes)")
    s.add_argument("--top", type=_positive, default=3)
    s.set_defaults(func=_predict)
    s = sub.add_parser("evaluate", help="accuracy of a model on an image folder (a WAV folder for an audio model)")
    s.add_argument("--model", required=True, help="a run's model.keras; labels.txt beside it maps folder names")
    s.add_argument("--data", required=True, help="<class>/<image> folder, or one with train/ val/ test/; for an "
                   "audio model <class>/<clip>.wav or WAVs named by --label-pattern")
    s.add_argument("--split", choices=["test", "val", "all"],
                   help="default: test/ if present, else val/, else every image of a <class>/ folder (every clip "
                        "of an audio folder); val of a <class>/ folder (or of an audio folder) is the 20%% that "
                        "training held out (same --seed)")
    s.add_argument("--seed", type=int, default=0)
    _add_audio_options(s, speakers=True)
    s.set_defaults(func=_evaluate)
    s = sub.add_parser("benchmark", help="inference latency and throughput of a .keras model on this machine")
    s.add_argument("model")
    s.add_argument("--batch-sizes", type=_positive, nargs="+", default=[1, 32])
    s.add_argument("--repeats", type=_positive, default=10)
    s.set_defaults(func=_benchmark)
    s = sub.add_parser("export", help="export a .keras classifier to SavedModel / TFLite / ONNX, verified")
    s.add_argument("model", help="a .keras file, e.g. runs/demo/model.keras")
    s.add_argument("out", help="export root; writes OUT/NAME/VERSION/")
    s.add_argument("--data", required=True, help="image folder (<class>/<image> or train/ val/), or WAV folder for "
                   "an audio model, for int8 calibration and verification; its class names become the labels")
    s.add_argument("--name", default="model")
    s.add_argument("--version", type=int, default=1)
    _add_audio_options(s)
    _add_export_options(s)
    s.add_argument("--keep-failed", action="store_true",
                   help="write the export even if an artefact misses its threshold (marked in the report)")
    s.set_defaults(func=_export)
    return p


class _Elapsed(logging.Formatter):
    def __init__(self):
        super().__init__()
        self.start = time.perf_counter()

    def format(self, record):
        return f"[{time.perf_counter() - self.start:6.1f} s] {record.getMessage()}"


@contextlib.contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    """Print kerastl's progress; unless `verbose`, discard C-level output (TensorFlow, converters) and
    filter dependency warnings, for the duration of the command only. Python's own output (progress,
    results, errors) stays where it was."""
    logger = logging.getLogger("kerastl")
    with contextlib.ExitStack() as stack:
        if not verbose:
            stack.enter_context(warnings.catch_warnings())
            for pattern in NOISE:
                warnings.filterwarnings("ignore", message=pattern)
            for name in ("tensorflow", "absl", "tf2onnx", "h5py"):
                stack.callback(logging.getLogger(name).setLevel, logging.getLogger(name).level)
                logging.getLogger(name).setLevel(logging.ERROR)
            stack.enter_context(_c_output_discarded())
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_Elapsed())
        stack.callback(setattr, logger, "propagate", logger.propagate)
        stack.callback(logger.setLevel, logger.level)
        stack.callback(logger.removeHandler, handler)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        yield


@contextlib.contextmanager
def _c_output_discarded() -> Iterator[None]:
    """File descriptors 1 and 2 to /dev/null (what C++ code writes to); `sys.stdout` / `sys.stderr`, if
    they were the process's own, keep writing to the original terminal or pipe."""
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.ExitStack() as stack:  # undone in reverse order, also when a step fails
        null = stack.enter_context(open(os.devnull, "wb"))
        for fd, name in ((1, "stdout"), (2, "stderr")):
            copy = os.dup(fd)
            stack.callback(os.close, copy)
            stack.callback(os.dup2, copy, fd)
            if getattr(sys, name) is getattr(sys, f"__{name}__"):
                stack.callback(setattr, sys, name, getattr(sys, name))
                setattr(sys, name, stack.enter_context(os.fdopen(os.dup(copy), "w", buffering=1)))
            os.dup2(null.fileno(), fd)
        yield


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with _quiet(args.verbose):
            return args.func(args)
    except KerastlError as error:
        print(f"kerastl: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kerastl: interrupted", file=sys.stderr)
        return 130
