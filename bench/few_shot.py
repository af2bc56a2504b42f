"""Pretrained vs from-scratch EfficientNet-Lite0 at 5/10/20/50 images per class, same recipes.

    .venv/bin/python bench/few_shot.py [--shots 5 10 20 50] [--size 112]

Recipes, run identically for weights="imagenet" and weights=None:
- two_phase: kerastl's default fine_tune (head on cached frozen features, then the top 3 blocks at lr/10);
- full: every layer trainable (BatchNorm too) at Adam 1e-3 — the fair way to train from scratch.
112 px is near the photos' native 100 px and keeps scratch training feasible on 2 CPU cores.
Accuracy on one fixed held-out set (500 images) for every row.
"""
import argparse
import sys
import time

import keras

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import HELD_OUT, accuracy, sign_digits, write_result  # noqa: E402

import kerastl  # noqa: E402
from kerastl.models import compile_task  # noqa: E402


def train(model, data, recipe: str, args) -> None:
    if recipe == "two_phase":
        kerastl.fine_tune(model, data, recipe="two_phase", head_epochs=args.head_epochs,
                          fine_tune_epochs=args.fine_tune_epochs, verbose=0)
    else:
        kerastl.unfreeze(model, "all", train_bn=True)
        compile_task(model, 1e-3)
        model.fit(data, epochs=args.full_epochs, verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--head-epochs", type=int, default=50)
    parser.add_argument("--fine-tune-epochs", type=int, default=5)
    parser.add_argument("--full-epochs", type=int, default=30)
    args = parser.parse_args()
    rows = []
    for shots in args.shots:
        data, xh, yh = sign_digits(shots, args.size)
        for recipe in ("two_phase", "full"):
            for weights in ("imagenet", None):
                keras.utils.set_random_seed(0)
                model = kerastl.build("efficientnet_lite0", num_classes=10, weights=weights,
                                      input_shape=(args.size, args.size, 3))
                start = time.perf_counter()
                train(model, data, recipe, args)
                seconds = time.perf_counter() - start
                rows.append({"backbone": "efficientnet_lite0", "weights": weights or "scratch",
                             "shots_per_class": shots, "recipe": recipe, "accuracy": round(accuracy(model, xh, yh), 4),
                             "train_seconds": round(seconds, 1)})
                print(rows[-1], flush=True)
                keras.backend.clear_session()
    write_result("few_shot", {"input_size": args.size, "held_out": HELD_OUT, "head_epochs": args.head_epochs,
                              "fine_tune_epochs": args.fine_tune_epochs, "full_epochs": args.full_epochs, "rows": rows},
                 command="python bench/few_shot.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
