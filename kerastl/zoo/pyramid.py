"""Feature-pyramid layers of a built backbone: one layer per stride 2, 4, 8, 16, 32 (levels P1–P5).

One rule for every CNN family: a layer's level is log2(input size / its output size), rounded; the
pyramid takes the last layer of each level in the backbone's (topological) layer order, skipping
zero-padding layers, and the backbone's output for P5. Names listed in the spec's `pyramid` replace
the derived layer of their level.
"""
from __future__ import annotations

import math

import keras

from kerastl.errors import InvalidArgumentError
from kerastl.zoo.spec import BackboneSpec

LEVELS = (1, 2, 3, 4, 5)


def _level(layer: keras.layers.Layer, size: int) -> int | None:
    shape = getattr(layer, "output", None)
    shape = getattr(shape, "shape", None)
    if shape is None or len(shape) != 4 or not shape[1]:
        return None
    return round(math.log2(size / shape[1]))


def pyramid_layers(spec: BackboneSpec, backbone: keras.Model) -> dict[int, str]:
    """{level: layer name} for levels 1..5 of `backbone` (built by the zoo for `spec`)."""
    size = backbone.inputs[0].shape[1]
    found: dict[int, str] = {}
    for layer in backbone.layers:
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.ZeroPadding2D)):
            continue
        level = _level(layer, size)
        if level in LEVELS:
            found[level] = layer.name
    if _level(backbone.layers[-1], size) is not None:
        found[5] = backbone.layers[-1].name  # the backbone output, even where the input is too small for 5 halvings
    for name in spec.pyramid:
        found[_level(backbone.get_layer(name), size)] = name
    if len(found) < 3 or 5 not in found:
        raise InvalidArgumentError(
            f"{spec.name!r} has no feature pyramid kerastl can read (found levels {sorted(found)}); dense heads "
            "need a CNN backbone, e.g. 'efficientnet_lite0', 'resnet50', 'mobilenetv2'")
    return dict(sorted(found.items()))


def pyramid_model(spec: BackboneSpec, backbone: keras.Model) -> keras.Model:
    """The backbone with one output per pyramid level (finest first); same layers, same name."""
    names = pyramid_layers(spec, backbone)
    return keras.Model(backbone.inputs, [backbone.get_layer(n).output for n in names.values()], name=backbone.name)
