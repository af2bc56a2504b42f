"""Layer-wise learning rates: the optimizer's own update, with the learning rate scaled per variable.

Scaling gradients would not work (Adam's update ignores gradient scale), so the multiplier is applied
to the learning rate inside `update_step`, for any Keras optimizer class.
"""
from __future__ import annotations

import keras

from kerastl.errors import InvalidArgumentError
from kerastl.freeze import block_layers


def layer_decay_multipliers(model: keras.Model, decay: float) -> dict[str, float]:
    """{variable path: multiplier}: the top block 1.0, each block below `decay` times the one above.

    Head variables are not listed (multiplier 1.0).
    """
    if not 0 < decay <= 1:
        raise InvalidArgumentError(f"layer decay must be in (0, 1], got {decay!r}")
    blocks = list(block_layers(model).values())
    return {
        variable.path: decay ** (len(blocks) - 1 - depth)
        for depth, layers in enumerate(blocks)
        for layer in layers
        for variable in layer.weights
    }


def with_layerwise_lr(optimizer: keras.optimizers.Optimizer, multipliers: dict[str, float]):
    """A copy of `optimizer` whose learning rate for each variable is multiplied by `multipliers[path]`."""
    base = type(optimizer)

    class LayerwiseLR(base):
        def build(self, variables):
            super().build(variables)
            # update_step may see the backend's variable, not the Keras one: key both by _var_key
            self._lr_scale = {self._var_key(v): multipliers.get(v.path, 1.0) for v in variables}

        def update_step(self, gradient, variable, learning_rate):
            scale = self._lr_scale.get(self._var_key(variable), 1.0)
            return super().update_step(gradient, variable, learning_rate * scale)

    LayerwiseLR.__name__ = f"LayerwiseLR{base.__name__}"
    return LayerwiseLR.from_config(optimizer.get_config())
