"""Fine-tuning recipes: plain functions over freeze/unfreeze, `fit_head` and `model.fit`."""
from __future__ import annotations

import keras
import tensorflow as tf

from kerastl.errors import InvalidArgumentError
from kerastl.freeze import freeze, unfreeze
from kerastl.models import compile_task
from kerastl.progress import EpochLog, logger
from kerastl.train.feature_cache import fit_head
from kerastl.train.layerwise import layer_decay_multipliers, with_layerwise_lr
from kerastl.train.options import RECIPES, default


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
    layer_decay: float | None = None,
    callbacks: list | None = None,
    verbose: int = 1,
) -> dict[str, dict[str, list[float]]]:
    """Train `model` in place; returns {"head": history, "fine_tune": history} (histories as dicts).

    Phase 1 (every recipe): the backbone frozen, the head trained on cached features at `learning_rate`.
    Phase 2 ("two_phase"): the top `unfreeze_blocks` blocks trainable (BatchNorm in inference mode
    unless `train_bn`) at `learning_rate * fine_tune_lr_factor`, with the full model in `model.fit`.
    "gradual": phase 2 unfreezes one more block every `fine_tune_epochs` epochs until `unfreeze_blocks`
    are trainable. `layer_decay`: each block's learning rate is `layer_decay` times the one above it.
    Defaults: kerastl.train.options.OPTIONS. Progress goes to the `kerastl` logger.
    """
    if recipe not in RECIPES:
        raise InvalidArgumentError(f"unknown recipe {recipe!r}; choose one of {RECIPES}")
    freeze(model)
    histories = {"head": fit_head(model, train, val, epochs=head_epochs, learning_rate=learning_rate,
                                  callbacks=[EpochLog("head", every=max(head_epochs // 5, 1))]).history}
    if recipe == "feature_extraction" or fine_tune_epochs <= 0:
        compile_task(model, learning_rate)
        return histories
    stages = range(1, unfreeze_blocks + 1) if recipe == "gradual" else [unfreeze_blocks]
    histories["fine_tune"] = {}
    for stage, blocks_to_train in enumerate(stages):
        unfreeze(model, blocks_to_train, train_bn=train_bn)
        logger.info("fine-tuning the top %d block(s) at lr %g", blocks_to_train, learning_rate * fine_tune_lr_factor)
        optimizer = keras.optimizers.Adam(learning_rate * fine_tune_lr_factor)
        if layer_decay is not None:
            optimizer = with_layerwise_lr(optimizer, layer_decay_multipliers(model, layer_decay))
        compile_task(model, optimizer)
        history = model.fit(train, validation_data=val, initial_epoch=stage * fine_tune_epochs,
                            epochs=(stage + 1) * fine_tune_epochs, verbose=verbose,
                            callbacks=[*(callbacks or []), EpochLog("fine-tune")])
        for key, values in history.history.items():
            histories["fine_tune"].setdefault(key, []).extend(values)
    return histories
