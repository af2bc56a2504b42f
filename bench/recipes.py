"""Recipes on few sign digits, several seeds: feature extraction, the old two-phase default, the augmented recipe.

    .venv/bin/python bench/recipes.py [--shots 20] [--seeds 0 1 2] [--backbones efficientnet_lite0 ...]
        [--result recipes]

Sign digits (`../shared`), `--shots` training images per class and one fixed held-out set of 500 photos
per seed (`few_shot_split`), each backbone at its own input size. Per backbone, shots and seed:
- feature_extraction: the head on cached frozen features, 100 epochs (phase 1 of the old default);
- two_phase (old default): that head, then the top 3 blocks for 4 epochs at lr 1e-4 (Adam, constant);
- augmented: the default of `kerastl train` on images, `zoo/efficientnet_lite0_augmented.toml` (random
  crops and shifts, the features of 4 views per image cached, label smoothing 0.1; phase 2 the top 5
  blocks for 8 epochs, AdamW, weight decay 0.01, warm-up + cosine decay: the variant
  `bench/recipe_selection.py` chose on a validation split);
- augmented, phase 1 only, with 1 and with 4 views (what caching several augmented views buys).
No validation split here: no run selects an epoch; every figure is the held-out accuracy of the final model.
"""
import argparse
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HELD_OUT, SIGN_DIGITS, accuracy, write_result  # noqa: E402

import kerastl  # noqa: E402
from kerastl.data import few_shot_split, load_images  # noqa: E402
from kerastl.zoo import get  # noqa: E402

TRAIN_OPTIONS = ("head_epochs", "fine_tune_epochs", "unfreeze_blocks", "learning_rate", "fine_tune_lr_factor",
                 "augment", "views", "label_smoothing", "weight_decay", "schedule")


def recipe_options() -> tuple[dict, dict]:
    """The `fine_tune` options of (the old default: `fine_tune`'s own, the augmented recipe: the default of a
    two_phase run on images, `zoo/efficientnet_lite0_augmented.toml`)."""
    resolve = kerastl.train.options.resolve
    return ({k: v for k, v in resolve({}).items() if k in TRAIN_OPTIONS},
            {k: v for k, v in resolve({}, images=True).items() if k in TRAIN_OPTIONS})


def run(backbone: str, data: tf.data.Dataset, held_out, options: dict, seed: int, phase_1_only: bool = False):
    """-> (held-out accuracy after phase 1, after phase 2 or None, training seconds)."""
    keras.utils.set_random_seed(seed)
    size = get(backbone).input_size
    model = kerastl.build(backbone, num_classes=10, input_shape=(size, size, 3))
    start = time.perf_counter()
    kerastl.fine_tune(model, data, recipe="feature_extraction", verbose=0,
                      **{k: v for k, v in options.items() if k != "fine_tune_epochs"})
    seconds, frozen = time.perf_counter() - start, accuracy(model, *held_out)
    if phase_1_only:
        return frozen, None, seconds
    start = time.perf_counter()  # phase 2 of the same recipe, on the phase-1 head (fine_tune's own order)
    kerastl.fine_tune(model, data, recipe="two_phase", verbose=0, **{**options, "head_epochs": 0, "views": 1})
    return frozen, accuracy(model, *held_out), seconds + time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, nargs="+", default=[20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--backbones", nargs="+", default=["efficientnet_lite0", "efficientnet_lite2"])
    parser.add_argument("--result", default="recipes", help="writes zoo/results/<result>.json")
    args = parser.parse_args()
    old, new = recipe_options()
    rows = []
    for backbone in args.backbones:
        size = get(backbone).input_size
        for shots in args.shots:
            for seed in args.seeds:
                train_pairs, held_pairs = few_shot_split(SIGN_DIGITS, shots, HELD_OUT, seed=seed)
                (x, y), held_out = load_images(train_pairs, size), load_images(held_pairs, size)
                data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(32)
                runs = [("two_phase (old default)", old, False), ("augmented", new, False)]
                if backbone == args.backbones[0]:
                    runs += [(f"augmented, phase 1 only, {views} view(s)", {**new, "views": views}, True)
                             for views in (1, 4)]
                for name, options, phase_1_only in runs:
                    frozen, final, seconds = run(backbone, data, held_out, options, seed, phase_1_only)
                    if name.startswith("two_phase"):
                        rows.append({"backbone": backbone, "shots": shots, "seed": seed, "recipe": "feature_extraction",
                                     "accuracy": round(frozen, 4), "train_seconds": None})
                    rows.append({"backbone": backbone, "shots": shots, "seed": seed, "recipe": name,
                                 "accuracy": round(final if final is not None else frozen, 4),
                                 "phase_1_accuracy": round(frozen, 4), "train_seconds": round(seconds, 1)})
                    print(rows[-1], flush=True)
                    keras.backend.clear_session()
    summary = []
    for backbone in args.backbones:
        for shots in args.shots:
            for recipe in dict.fromkeys(r["recipe"] for r in rows if r["backbone"] == backbone):
                picked = [r for r in rows if (r["backbone"], r["shots"], r["recipe"]) == (backbone, shots, recipe)]
                times = [r["train_seconds"] for r in picked if r["train_seconds"] is not None]
                summary.append({"backbone": backbone, "shots": shots, "recipe": recipe,
                                "mean": round(float(np.mean([r["accuracy"] for r in picked])), 4),
                                "std": round(float(np.std([r["accuracy"] for r in picked])), 4),
                                "per_seed": [r["accuracy"] for r in picked],
                                "train_seconds": round(float(np.mean(times)), 1) if times else None})
    write_result(args.result, {"data": "sign digits, 500 held-out photos per seed", "old": old, "augmented": new,
                             "rows": rows, "summary": summary},
                 command=" ".join(["python bench/recipes.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
