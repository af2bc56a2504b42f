"""Variants of the augmented recipe, chosen on a validation split: what `bench/recipes.py` then compares.

    .venv/bin/python bench/recipe_selection.py [--shots 20] [--val 20] [--seeds 0 1 2]

Sign digits (`../shared`), EfficientNet-Lite0 at 224 px. Per seed, the training set is `bench/recipes.py`'s
(`few_shot_split`, `--shots` per class) and the validation split is the next `--val` photos per class of
the same draw: disjoint from the training photos and from the 500 held-out photos. Every variant changes
one or two options of the augmented recipe as it was before this selection (`zoo/efficientnet_lite0_augmented.toml`
with phase 2 at 4 epochs on the top 3 blocks; the toml now holds the chosen variant); the variants that differ
only in phase 2 start from one shared phase-1 head. The chosen variant is the one with the highest mean validation
accuracy over the seeds (the held-out accuracy is recorded beside it, never used to choose).
"""
import argparse
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HELD_OUT, SIGN_DIGITS, accuracy, write_result  # noqa: E402
from recipes import recipe_options  # noqa: E402

import kerastl  # noqa: E402
from kerastl.data import few_shot_split, load_images  # noqa: E402
from kerastl.zoo import get  # noqa: E402

BACKBONE = "efficientnet_lite0"
PHASE_2 = ("fine_tune_epochs", "unfreeze_blocks", "fine_tune_lr_factor", "weight_decay", "schedule")  # phase 1 ignores
BEFORE = {"fine_tune_epochs": 4, "unfreeze_blocks": 3}  # phase 2 of the augmented recipe before this selection
VARIANTS = {  # name -> options changed from the augmented recipe before this selection
    "augmented before selection (4 fine-tuning epochs, top 3 blocks)": {},
    "8 fine-tuning epochs": {"fine_tune_epochs": 8},
    "8 fine-tuning epochs, top 5 blocks": {"fine_tune_epochs": 8, "unfreeze_blocks": 5},
    "8 views in phase 1": {"views": 8},
}


def _fresh(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    size = get(BACKBONE).input_size
    return kerastl.build(BACKBONE, num_classes=10, input_shape=(size, size, 3))


def phase_1(options: dict, data: tf.data.Dataset, seed: int) -> list:
    """The weights after phase 1 (head on cached features of `views` augmented views)."""
    model = _fresh(seed)
    kerastl.fine_tune(model, data, recipe="feature_extraction", verbose=0,
                      **{k: v for k, v in options.items() if k != "fine_tune_epochs"})
    return model.get_weights()


def phase_2(options: dict, data: tf.data.Dataset, seed: int, weights: list) -> keras.Model:
    """The model after phase 2 of `options`, started from the phase-1 `weights`."""
    model = _fresh(seed)
    model.set_weights(weights)
    kerastl.fine_tune(model, data, recipe="two_phase", verbose=0, **{**options, "head_epochs": 0, "views": 1})
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, default=20)
    parser.add_argument("--val", type=int, default=20, help="validation photos per class")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    base = {**recipe_options()[1], **BEFORE}
    size = get(BACKBONE).input_size
    rows = []
    for seed in args.seeds:
        train_pairs, held_pairs = few_shot_split(SIGN_DIGITS, args.shots, HELD_OUT, seed=seed)
        wider, _ = few_shot_split(SIGN_DIGITS, args.shots + args.val, HELD_OUT, seed=seed)  # nested: ⊃ train_pairs
        training = set(train_pairs)
        val_pairs = [pair for pair in wider if pair not in training]
        assert len(val_pairs) == 10 * args.val and not set(val_pairs) & set(held_pairs)
        (x, y), val, held_out = (load_images(p, size) for p in (train_pairs, val_pairs, held_pairs))
        data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(32)
        heads = {}  # phase-1 options -> weights, shared by the variants that change only phase 2
        for name, change in VARIANTS.items():
            options = {**base, **change}
            key = tuple(sorted((k, v) for k, v in options.items() if k not in PHASE_2))
            if key not in heads:
                heads[key] = phase_1(options, data, seed)
            model = phase_2(options, data, seed, heads[key])
            rows.append({"seed": seed, "variant": name, "options": change,
                         "val_accuracy": round(accuracy(model, *val), 4),
                         "held_out_accuracy": round(accuracy(model, *held_out), 4)})
            print(rows[-1], flush=True)
            keras.backend.clear_session()
    summary = []
    for name in VARIANTS:
        picked = [r for r in rows if r["variant"] == name]
        summary.append({"variant": name, "options": VARIANTS[name],
                        "val_mean": round(float(np.mean([r["val_accuracy"] for r in picked])), 4),
                        "val_per_seed": [r["val_accuracy"] for r in picked],
                        "held_out_mean": round(float(np.mean([r["held_out_accuracy"] for r in picked])), 4),
                        "held_out_per_seed": [r["held_out_accuracy"] for r in picked]})
    chosen = max(summary, key=lambda s: s["val_mean"])["variant"]
    write_result("recipe_selection", {"data": f"sign digits, {args.shots} per class to train, {args.val} per class "
                                      "to validate, 500 held out per seed", "backbone": BACKBONE,
                                      "augmented": base, "rows": rows, "summary": summary, "chosen": chosen},
                 command=" ".join(["python bench/recipe_selection.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
