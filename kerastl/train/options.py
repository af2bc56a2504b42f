"""The options of a training run, defined once.

`kerastl train` flags, `.toml` recipes (`zoo/*.toml`), `train_run`, the demo, `fine_tune`'s
defaults and the run's printed summary and model card are all derived from `OPTIONS`; two_phase runs on
images (`train_run` on an image folder or TFDS, and the demo) take `IMAGE_DEFAULTS` over them.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Any, Mapping

from kerastl.data.augment import AUGMENTATIONS
from kerastl.errors import InvalidArgumentError
from kerastl.io import MEMORY_BYTES
from kerastl.models import PRECISIONS

RECIPES = ("feature_extraction", "two_phase", "gradual")
SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass(frozen=True)
class Option:
    """One training option: `kind` is its Python type; `minimum` and `maximum` bound numbers (inclusive)."""

    name: str
    kind: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False  # strictly above zero (learning rates)

    def check(self, value: Any, source: str) -> Any:
        """`value` if it has this option's type and range, else an InvalidArgumentError naming `source`."""
        if value is None and self.default is None:
            return None
        ok_type = isinstance(value, self.kind) and not (self.kind is not bool and isinstance(value, bool))
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok_type = float(value), True
        problem = None
        if not ok_type:
            problem = "must be " + {bool: "true or false", int: "an integer", float: "a number"}.get(self.kind, "a string")
        elif self.kind is float and not math.isfinite(value):
            problem = "must be a finite number"
        elif self.choices is not None and value not in self.choices:
            problem = f"must be one of {list(self.choices)}"
        elif self.minimum is not None and value < self.minimum:
            problem = f"must be >= {self.minimum:g}"
        elif self.maximum is not None and value > self.maximum:
            problem = f"must be <= {self.maximum:g}"
        elif self.positive and value <= 0:
            problem = "must be > 0"
        if problem:
            raise InvalidArgumentError(f"{source}: {self.name} {problem}, got {value!r}")
        return value


OPTIONS: dict[str, Option] = {option.name: option for option in (
    Option("backbone", str, "efficientnet_lite0", "zoo name (`kerastl list`)"),
    Option("recipe", str, "two_phase", "feature_extraction: head only; two_phase: head, then the top blocks; "
           "gradual: head, then one more block per stage", choices=RECIPES),
    Option("head_epochs", int, 100, "phase 1: epochs of the head on cached frozen features", minimum=0),
    Option("fine_tune_epochs", int, 4, "phase 2: epochs with the top blocks trainable (per stage for gradual)",
           minimum=0),
    Option("unfreeze_blocks", int, 3, "phase 2: blocks made trainable, counted from the top", minimum=1),
    Option("learning_rate", float, 1e-3, "phase 1 learning rate (Adam)", positive=True),
    Option("fine_tune_lr_factor", float, 0.1, "phase 2 learning rate = learning_rate x this", positive=True),
    Option("train_bn", bool, False, "phase 2 also trains BatchNorm statistics (default: inference mode)"),
    Option("augment", str, "none", "training images: none, crop (random 80-100 % crops and shifts) or crop_flip "
           "(also mirrored: only for classes that survive a left-right flip)", choices=AUGMENTATIONS),
    Option("views", int, 4, "phase 1 with augment: augmented views of each training image whose features are "
           "cached", minimum=1),
    Option("label_smoothing", float, 0.0, "label smoothing of the class targets in both phases", minimum=0),
    Option("weight_decay", float, 0.0, "phase 2: AdamW's decoupled weight decay (0: Adam)", minimum=0),
    Option("schedule", str, "constant", "phase 2 learning rate: constant, or cosine (linear warm-up over the "
           "first 10 % of steps, then cosine decay to 0)", choices=SCHEDULES),
    Option("image_size", int, None, "square input size in pixels (default: the backbone's); for audio, the "
           "spectrogram image's", minimum=32),
    Option("precision", str, "float32", "float32, mixed_float16 or mixed_bfloat16", choices=PRECISIONS),
    Option("patience", int, None, "phase 2 stops after this many epochs without improvement", minimum=1),
    Option("strategy", str, "auto", "tf.distribute strategy: auto (the TF_CONFIG cluster if set, else all local "
           "GPUs, else one device), one_device, mirrored (local GPUs) or multi_worker (TF_CONFIG)",
           choices=("auto", "one_device", "mirrored", "multi_worker")),
    Option("memory_gb", float, MEMORY_BYTES / 1e9, "RAM for caches: decoded images (uint8) and phase-1 features "
           "stay in RAM up to this each, beyond it they go to disk under <out>.work/", minimum=0),
    Option("sample_rate", int, 16000, "audio: the model's sample rate in Hz (WAV files are resampled to it)",
           minimum=1000, maximum=192000),
    Option("clip_seconds", float, 1.0, "audio: the clip length the model takes (training cuts clips at random offsets; "
           "inference takes the first seconds, zero-padded)", minimum=0.1, maximum=60),
    Option("label_pattern", str, None, "audio: a regex over the file names of one folder of WAVs, with a "
           "(?P<label>...) and optionally a (?P<speaker>...) group; 'fsdd' = {digit}_{speaker}_{i}.wav"),
    Option("held_out_speakers", str, None, "audio: comma-separated speakers to hold out (default: a seeded 20 % "
           "of the speakers, when label_pattern names them)"),
    Option("name", str, "model", "export name (export/<name>/1/)"),
    Option("seed", int, 0, "seeds the held-out split, shuffling and initialisation", minimum=0),
    Option("tfds_dir", str, None, "TensorFlow Datasets data_dir for --data tfds:NAME"),
)}


# The defaults of the two_phase recipe on images (what `kerastl train` and the demo run unless told
# otherwise): augmentation, label smoothing, AdamW with warm-up and cosine decay, and a deeper, longer
# phase 2 (8 epochs of the top 5 blocks, chosen on a validation split by bench/recipe_selection.py).
# bench/recipes.py measures it against OPTIONS' defaults, the previous default (zoo/RESULTS.md, Recipes).
# Everything else keeps OPTIONS' defaults: `fine_tune` (any model), audio, feature_extraction (there the
# augmented views measured below plain features) and gradual (its epochs are per stage; not measured).
IMAGE_DEFAULTS: dict[str, Any] = {"fine_tune_epochs": 8, "unfreeze_blocks": 5, "augment": "crop",
                                  "label_smoothing": 0.1, "weight_decay": 0.01, "schedule": "cosine"}


def default(name: str) -> Any:
    return OPTIONS[name].default


def resolve(values: Mapping[str, Any], source: str = "train options", images: bool = False) -> dict[str, Any]:
    """Every option: `values` checked (unknown keys, types, choices, ranges), defaults for the rest:
    IMAGE_DEFAULTS where `images` and the recipe is two_phase with a phase 2, else OPTIONS' defaults."""
    unknown = sorted(set(values) - set(OPTIONS))
    if unknown:
        raise InvalidArgumentError(f"{source}: unknown option(s) {unknown}; allowed: {sorted(OPTIONS)}")
    recipe = OPTIONS["recipe"].check(values["recipe"], source) if "recipe" in values else default("recipe")
    phase_2 = values.get("fine_tune_epochs", IMAGE_DEFAULTS["fine_tune_epochs"]) != 0  # 0: feature extraction
    defaults = IMAGE_DEFAULTS if images and recipe == "two_phase" and phase_2 else {}
    resolved = {name: option.check(values[name], source) if name in values else defaults.get(name, option.default)
                for name, option in OPTIONS.items()}
    if resolved["recipe"] != "feature_extraction" and resolved["head_epochs"] == resolved["fine_tune_epochs"] == 0:
        raise InvalidArgumentError(f"{source}: head_epochs and fine_tune_epochs are both 0: nothing would be trained")
    if resolved["recipe"] == "feature_extraction" and resolved["head_epochs"] == 0:
        raise InvalidArgumentError(f"{source}: recipe feature_extraction with head_epochs 0 trains nothing")
    if resolved["label_smoothing"] >= 1:
        raise InvalidArgumentError(f"{source}: label_smoothing must be < 1, got {resolved['label_smoothing']!r}")
    return resolved


def read_recipe(path: str | Path) -> dict[str, Any]:
    """The options set by a `.toml` recipe, checked (nothing else is read or loaded)."""
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except FileNotFoundError:
        raise InvalidArgumentError(f"recipe file {str(path)!r} does not exist (zoo/*.toml are examples)") from None
    except IsADirectoryError:
        raise InvalidArgumentError(f"recipe {str(path)!r} is a directory; pass a .toml file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidArgumentError(f"recipe {str(path)!r} is not valid TOML: {error}") from None
    except OSError as error:
        raise InvalidArgumentError(f"cannot read recipe {str(path)!r}: {error.strerror}") from None
    resolve(values, str(path))
    return values


def describe(options: Mapping[str, Any]) -> str:
    """One line saying what the run's recipe does, with its numbers (printed and in the model card)."""
    augment = options.get("augment", "none")
    head = (f"head {options['head_epochs']} epochs on cached frozen features"
            + (f" of {options['views']} {augment} views per image" if augment != "none" else "")
            + f" at lr {options['learning_rate']:g}"
            + (f", label smoothing {options['label_smoothing']:g}" if options.get("label_smoothing") else ""))
    if options["recipe"] == "feature_extraction" or options["fine_tune_epochs"] == 0:
        return f"{options['recipe']}: {head}"
    lr = options["learning_rate"] * options["fine_tune_lr_factor"]
    blocks = ("one more of the top {n} blocks per stage" if options["recipe"] == "gradual" else "the top {n} blocks"
              ).format(n=options["unfreeze_blocks"])
    optimizer = (f"AdamW, weight decay {options['weight_decay']:g}, " if options.get("weight_decay") else "") + (
        "warm-up and cosine decay, " if options.get("schedule") == "cosine" else "")
    return (f"{options['recipe']}: {head}, then {options['fine_tune_epochs']} epochs with {blocks} trainable at "
            f"lr {lr:g} ({optimizer}{augment + ' images, ' if augment != 'none' else ''}"
            f"BatchNorm {'trained' if options['train_bn'] else 'in inference mode'})")
