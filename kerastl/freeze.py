"""Named blocks of a zoo backbone, and freezing / unfreezing them with the BatchNorm policy.

BatchNorm policy (the keras.io transfer-learning rule): BatchNormalization layers stay frozen, so
they run in inference mode with their pretrained statistics, unless `train_bn=True`.
"""
from __future__ import annotations

import re

import keras

from kerastl.errors import InvalidArgumentError, UnknownBackboneError
from kerastl.zoo import BackboneSpec, get


def find_backbone(model: keras.Model) -> tuple[BackboneSpec, keras.Model]:
    """The zoo spec and the backbone sub-model of a model built by kerastl (or a bare backbone)."""
    hub_encoder = getattr(getattr(model, "backbone", None), "image_encoder", None)  # a KerasHub detector's
    for candidate in [model, *model.layers, hub_encoder]:
        if isinstance(candidate, keras.Model):
            try:
                return get(candidate.name), candidate
            except UnknownBackboneError:
                continue
    raise InvalidArgumentError(
        f"model {model.name!r} contains no zoo backbone; build it with kerastl.build() or pass the backbone."
    )


def _sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    if isinstance(layer, keras.Model):
        return layer.layers
    return list(layer._flatten_layers(include_self=False, recursive=False))  # Keras has no public form


def _units(layer: keras.layers.Layer, pattern: re.Pattern) -> list[keras.layers.Layer]:
    """The layers that blocks are made of: leaves, or whole composite layers named like a block
    (a KerasHub `transformer_layer_3` inside its encoder)."""
    units = []
    for sub in _sublayers(layer):
        if isinstance(sub, keras.layers.InputLayer):
            continue
        units.extend(_units(sub, pattern) if _sublayers(sub) and not pattern.search(sub.name) else [sub])
    return units


def block_layers(model: keras.Model) -> dict[str, list[keras.layers.Layer]]:
    """Ordered {block name: layers} of the model's backbone, bottom ("stem") to top."""
    spec, backbone = find_backbone(model)
    pattern = re.compile(spec.block_pattern)
    blocks: dict[str, list] = {}
    current, pending = "stem", []
    for layer in _units(backbone, pattern):
        match = pattern.search(layer.name)
        if match:
            group = next(g for g in match.groups() if g is not None)
            current = f"block{group}" if group.isdigit() else group
        if spec.block_marker == "start":
            blocks.setdefault(current, []).append(layer)
        else:
            pending.append(layer)
            if match:
                blocks.setdefault(current, []).extend(pending)
                pending = []
    if pending:
        blocks.setdefault("top", []).extend(pending)
    return blocks


def blocks(model: keras.Model) -> list[str]:
    """Names of the backbone's blocks, bottom to top (e.g. ["stem", "block1", …, "top"])."""
    return list(block_layers(model))


def _set_trainable(model: keras.Model, trainable_blocks: set[str], train_bn: bool) -> keras.Model:
    _, backbone = find_backbone(model)
    backbone.trainable = True
    for name, layers in block_layers(model).items():
        for layer in layers:
            layer.trainable = name in trainable_blocks
            if not train_bn:
                for bn in layer._flatten_layers(include_self=True):
                    if isinstance(bn, keras.layers.BatchNormalization):
                        bn.trainable = False
    return model


def _block_index(names: list[str], block: int | str, arg: str) -> int:
    if isinstance(block, bool) or not isinstance(block, (int, str)):
        raise InvalidArgumentError(f"{arg} must be a block name or a count, got {block!r}")
    if isinstance(block, str):
        if block not in names:
            raise InvalidArgumentError(f"{arg}={block!r} is not a block of this backbone; blocks: {names}")
        return names.index(block) + 1
    if not 0 <= block <= len(names):
        raise InvalidArgumentError(f"{arg}={block} is out of range: the backbone has {len(names)} blocks")
    return block


def freeze(model: keras.Model, upto: int | str | None = None, *, train_bn: bool = False) -> keras.Model:
    """Freeze the backbone from the bottom up to and including block `upto` (name or count; None: all).

    Blocks above `upto` become trainable (BatchNorm excepted). Recompile before fitting.
    """
    names = blocks(model)
    stop = len(names) if upto is None else _block_index(names, upto, "upto")
    return _set_trainable(model, set(names[stop:]), train_bn)


def unfreeze(model: keras.Model, last: int | str = "all", *, train_bn: bool = False) -> keras.Model:
    """Make the top `last` blocks trainable ("all", a count, or the lowest block name to train).

    Lower blocks are frozen; BatchNorm layers stay frozen unless `train_bn`. Recompile before fitting.
    """
    names = blocks(model)
    if last == "all":
        start = 0
    elif isinstance(last, str):
        start = _block_index(names, last, "last") - 1
    else:
        start = len(names) - _block_index(names, last, "last")
    return _set_trainable(model, set(names[start:]), train_bn)


def lora(model: keras.Model, rank: int = 4) -> keras.Model:
    """Freeze the whole backbone and train rank-`rank` LoRA adapters on its attention query/value
    projections, through KerasHub's own `Backbone.enable_lora` (KerasHub transformer backbones only).
    The head stays trainable. Recompile before fitting."""
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise InvalidArgumentError(f"lora rank must be a positive int, got {rank!r}")
    spec, backbone = find_backbone(model)
    if spec.source != "keras_hub":
        raise InvalidArgumentError(
            f"freeze='lora' needs a KerasHub backbone; {spec.name!r} comes from {spec.source}. Use "
            "freeze=True / a block name / a count, or a KerasHub transformer preset (e.g. a ViT)."
        )
    import keras_hub

    hub = next(layer for layer in backbone.layers if isinstance(layer, keras_hub.models.Backbone))
    hub.enable_lora(rank)
    if not hub._lora_enabled_layers:
        raise InvalidArgumentError(
            f"{spec.name!r} has no attention projections to adapt (looked for layers named "
            f"{hub.default_lora_layer_names()}); LoRA suits transformer backbones, freeze blocks instead."
        )
    backbone.trainable = True
    return model
