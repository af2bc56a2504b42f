"""Fine-tuning recipes: plain functions over freeze/unfreeze, `fit_head` and `model.fit`."""
from __future__ import annotations

import keras
import tensorflow as tf

from kerastl.errors import InvalidArgumentError
from kerastl.freeze import freeze, unfreeze
from kerastl.models import compile_classifier
from kerastl.train.feature_cache import fit_head

RECIPES = ("feature_extraction", "two_phase")


def fine_tune(
    model: keras.Model,
    train: tf.data.Dataset,
    val: tf.data.Dataset | None = None,
    *,
    recipe: str = "two_phase",
    head_epochs: int = 50,
    fine_tune_epochs: int = 5,
    learning_rate: float = 1e-3,
    unfreeze_blocks: int | str = 3,
    callbacks: list | None = None,
    verbose: int = 1,
) -> dict[str, dict[str, list[float]]]:
    """Train `model` in place; returns {"head": history, "fine_tune": history} (histories as dicts).

    Phase 1 (both recipes): the backbone frozen, the head trained on cached features at `learning_rate`.
    Phase 2 ("two_phase"): the top `unfreeze_blocks` blocks trainable (BatchNorm kept frozen) at
    `learning_rate / 10`, with the full model in `model.fit`.
    """
    if recipe not in RECIPES:
        raise InvalidArgumentError(f"unknown recipe {recipe!r}; choose one of {RECIPES}")
    freeze(model)
    histories = {"head": fit_head(model, train, val, epochs=head_epochs, learning_rate=learning_rate).history}
    if verbose:
        last = {k: round(v[-1], 4) for k, v in histories["head"].items()}
        print(f"head on cached features, {head_epochs} epochs: {last}")
    if recipe == "two_phase" and fine_tune_epochs > 0:
        unfreeze(model, unfreeze_blocks)
        compile_classifier(model, learning_rate / 10)
        history = model.fit(train, validation_data=val, epochs=fine_tune_epochs, callbacks=callbacks,
                            verbose=verbose)
        histories["fine_tune"] = history.history
    else:
        compile_classifier(model, learning_rate)
    return histories
