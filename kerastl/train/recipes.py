"""Fine-tuning recipes: plain functions over freeze/unfreeze, `fit_head` and `model.fit`."""
from __future__ import annotations

import keras
import tensorflow as tf

from kerastl.errors import InvalidArgumentError
from kerastl.freeze import freeze, unfreeze
from kerastl.models import compile_task
from kerastl.train.feature_cache import fit_head
from kerastl.train.layerwise import layer_decay_multipliers, with_layerwise_lr

RECIPES = ("feature_extraction", "two_phase", "gradual")


def fine_tune(
    model: keras.Model,
    train: tf.data.Dataset,
    val: tf.data.Dataset | None = None,
    *,
    recipe: str = "two_phase",
    head_epochs: int = 50,
    fine_tune_epochs: int = 5,
    learning_rate: float = 1e-3,
    unfreeze_blocks: int = 3,
    layer_decay: float | None = None,
    callbacks: list | None = None,
    verbose: int = 1,
) -> dict[str, dict[str, list[float]]]:
    """Train `model` in place; returns {"head": history, "fine_tune": history} (histories as dicts).

    Phase 1 (both recipes): the backbone frozen, the head trained on cached features at `learning_rate`.
    Phase 2 ("two_phase"): the top `unfreeze_blocks` blocks trainable (BatchNorm kept frozen) at
    `learning_rate / 10`, with the full model in `model.fit`. "gradual": phase 2 unfreezes one more
    block every `fine_tune_epochs` epochs until `unfreeze_blocks` are trainable. `layer_decay`: each
    block's learning rate is `layer_decay` times the one above it (the top block gets lr / 10).
    """
    if recipe not in RECIPES:
        raise InvalidArgumentError(f"unknown recipe {recipe!r}; choose one of {RECIPES}")
    freeze(model)
    histories = {"head": fit_head(model, train, val, epochs=head_epochs, learning_rate=learning_rate).history}
    if verbose:
        last = {k: round(v[-1], 4) for k, v in histories["head"].items()}
        print(f"head on cached features, {head_epochs} epochs: {last}")
    if recipe == "feature_extraction" or fine_tune_epochs <= 0:
        compile_task(model, learning_rate)
        return histories
    stages = range(1, unfreeze_blocks + 1) if recipe == "gradual" else [unfreeze_blocks]
    histories["fine_tune"] = {}
    for stage, blocks_to_train in enumerate(stages):
        unfreeze(model, blocks_to_train)
        optimizer = keras.optimizers.Adam(learning_rate / 10)
        if layer_decay is not None:
            optimizer = with_layerwise_lr(optimizer, layer_decay_multipliers(model, layer_decay))
        compile_task(model, optimizer)
        history = model.fit(train, validation_data=val, initial_epoch=stage * fine_tune_epochs,
                            epochs=(stage + 1) * fine_tune_epochs, callbacks=callbacks, verbose=verbose)
        for key, values in history.history.items():
            histories["fine_tune"].setdefault(key, []).extend(values)
    return histories
