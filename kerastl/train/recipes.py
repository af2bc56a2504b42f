"""Fine-tuning recipes: plain functions over freeze/unfreeze, `fit_head` and `model.fit`."""
from __future__ import annotations

import warnings
from pathlib import Path

import keras
import tensorflow as tf

from kerastl.data.augment import augmented, check_augment
from kerastl.errors import InvalidArgumentError
from kerastl.freeze import freeze, unfreeze
from kerastl.heads import head_of, task_of
from kerastl.models import compile_task
from kerastl.progress import EpochLog, logger
from kerastl.train.callbacks import improves
from kerastl.train.distributed import count_batches, fit
from kerastl.train.feature_cache import fit_head
from kerastl.train.layerwise import layer_decay_multipliers, with_layerwise_lr
from kerastl.train.options import RECIPES, SCHEDULES, default


def fine_tune(
    model: keras.Model,
    train: tf.data.Dataset,
    val: tf.data.Dataset | None = None,
    *,
    recipe: str = default("recipe"),
    head_epochs: int = default("head_epochs"),
    fine_tune_epochs: int = default("fine_tune_epochs"),
    learning_rate: float = default("learning_rate"),
    unfreeze_blocks: int = default("unfreeze_blocks"),
    fine_tune_lr_factor: float = default("fine_tune_lr_factor"),
    train_bn: bool = default("train_bn"),
    augment: str = default("augment"),
    views: int = default("views"),
    label_smoothing: float = default("label_smoothing"),
    weight_decay: float = default("weight_decay"),
    schedule: str = default("schedule"),
    steps_per_epoch: int | None = None,
    layer_decay: float | None = None,
    memory_gb: float = default("memory_gb"),
    cache_dir: str | Path | None = None,
    callbacks: list | None = None,
    verbose: int = 1,
) -> dict[str, dict[str, list[float]]]:
    """Train `model` in place; returns {"head": history, "fine_tune": history} (histories as dicts).

    Phase 1 (every recipe): the backbone frozen, the head trained on cached features at `learning_rate`.
    Phase 2 ("two_phase"): the top `unfreeze_blocks` blocks trainable (BatchNorm in inference mode
    unless `train_bn`) at `learning_rate * fine_tune_lr_factor`, with the full model in `model.fit`.
    "gradual": phase 2 unfreezes one more block every `fine_tune_epochs` epochs until `unfreeze_blocks`
    are trainable (each stage with a fresh optimizer, so a schedule restarts per stage). `layer_decay`:
    each block's learning rate is `layer_decay` times the one above it.
    Image classifiers and regressors can train on `augment`ed images (`kerastl.data.augment`; other models
    refuse it: audio clips are already cut at random offsets): phase 1 caches the features of `views`
    augmented passes, phase 2 draws anew every epoch.
    `label_smoothing` smooths class targets in both phases. Phase 2 uses AdamW with `weight_decay` (Adam
    when 0) and `schedule` "cosine": a linear warm-up over its first 10 % of steps (`steps_per_epoch`
    steps an epoch; counted by one pass over `train` when not given), then cosine decay to 0; "constant"
    keeps the rate.
    With `val`, the model ends with the weights that scored best on it (`selection`): the phase-1 model
    unless a fine-tuning epoch beat it, so phase 2 never makes the result worse on `val`. Phase-1 features
    beyond `memory_gb` go to a temporary directory under `cache_dir` (see `fit_head`). For a model built
    under a multi-worker strategy, `train` is this worker's share (see `fit_distributed`).
    Defaults: kerastl.train.options.OPTIONS. Progress goes to the `kerastl` logger.
    """
    if recipe not in RECIPES:
        raise InvalidArgumentError(f"unknown recipe {recipe!r}; choose one of {RECIPES}")
    if schedule not in SCHEDULES:
        raise InvalidArgumentError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if schedule == "cosine" and fine_tune_epochs > 0 and recipe != "feature_extraction":
        steps_per_epoch = steps_per_epoch or count_batches(train)  # counted before augmentation, which costs time
    if augment != "none":
        _check_augmentable(model, augment)
        train = augmented(train, augment)
    freeze(model)
    histories = {"head": fit_head(model, train, val, epochs=head_epochs, learning_rate=learning_rate,
                                  copies=views if augment != "none" else 1, label_smoothing=label_smoothing,
                                  memory_bytes=int(memory_gb * 1e9), cache_dir=cache_dir,
                                  callbacks=[EpochLog("head", every=max(head_epochs // 5, 1))]).history}
    if recipe == "feature_extraction" or fine_tune_epochs <= 0:
        compile_task(model, learning_rate, label_smoothing)
        return histories
    stages = range(1, unfreeze_blocks + 1) if recipe == "gradual" else [unfreeze_blocks]
    keep = _KeepBest(model, *selection(histories)[2:]) if val is not None else None
    histories["fine_tune"] = {}
    rate = learning_rate * fine_tune_lr_factor
    if schedule == "cosine":
        steps = fine_tune_epochs * steps_per_epoch  # per stage: each gradual stage warms up and decays anew
        rate = keras.optimizers.schedules.CosineDecay(0.0, max(steps - steps // 10, 1), warmup_target=rate,
                                                      warmup_steps=steps // 10)
    for stage, blocks_to_train in enumerate(stages):
        unfreeze(model, blocks_to_train, train_bn=train_bn)
        logger.info("fine-tuning the top %d block(s) at lr %g%s", blocks_to_train, learning_rate * fine_tune_lr_factor,
                    " (warm-up, then cosine decay)" if schedule == "cosine" else "")
        with model.distribute_strategy.scope():  # an optimizer belongs to the strategy it is made under
            optimizer = (keras.optimizers.AdamW(rate, weight_decay=weight_decay) if weight_decay
                         else keras.optimizers.Adam(rate))
            if layer_decay is not None:
                optimizer = with_layerwise_lr(optimizer, layer_decay_multipliers(model, layer_decay))
        compile_task(model, optimizer, label_smoothing)
        with warnings.catch_warnings():  # a stream's length is known after its first pass, which Keras warns of
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            history = fit(model, train, validation_data=val, initial_epoch=stage * fine_tune_epochs,
                                epochs=(stage + 1) * fine_tune_epochs, verbose=verbose,
                                callbacks=[*(callbacks or []), EpochLog("fine-tune"), *([keep] if keep else [])])
        for key, values in history.history.items():
            histories["fine_tune"].setdefault(key, []).extend(values)
    if keep:
        model.set_weights(keep.weights)
        phase, epoch, value, monitor = selection(histories)
        logger.info("kept the %s (%s %.4f)", "phase-1 model" if phase == "head" else f"fine-tuning epoch {epoch}",
                    monitor, value)
    return histories


def _check_augmentable(model: keras.Model, augment: str) -> None:
    """InvalidArgumentError unless `model` takes images and predicts one target per image (augmenting the
    pixels alone would move them away from a mask's or a box's targets)."""
    check_augment(augment)
    task = head_of(model)
    if task.input != "image" or task.pyramid or len(model.inputs[0].shape) != 4:
        raise InvalidArgumentError(
            f"augment={augment!r} transforms images of an image classifier or regressor; this is a "
            f"{task_of(model)} model taking {tuple(model.inputs[0].shape[1:])} inputs: pass "
            "augment='none' (audio clips are already cut at random offsets on every pass)")


def selection(histories: dict[str, dict[str, list[float]]]) -> tuple[str, int, float, str]:
    """(phase, epoch, value, monitor) of the model `fine_tune` keeps: the last phase-1 epoch, or the first
    fine-tuning epoch that beat it and every epoch before it on `val` (val_accuracy, else val_loss)."""
    head = histories["head"]
    monitor = "val_accuracy" if "val_accuracy" in head else "val_loss"
    best = ("head", len(head[monitor]), head[monitor][-1], monitor)
    for epoch, value in enumerate(histories.get("fine_tune", {}).get(monitor, []), start=1):
        if improves(value, best[2], monitor):
            best = ("fine_tune", epoch, value, monitor)
    return best


class _KeepBest(keras.callbacks.Callback):
    """Holds (in memory) the weights of the best epoch by `selection`'s rule, from the model's weights now."""

    def __init__(self, model: keras.Model, value: float, monitor: str):
        super().__init__()
        self.weights, self.value, self.monitor = model.get_weights(), value, monitor

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and improves(value, self.value, self.monitor):
            self.weights, self.value = self.model.get_weights(), value
