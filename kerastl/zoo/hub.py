"""KerasHub vision backbones as zoo specs: every ImageClassifier preset, and local preset dirs."""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import keras

from kerastl.errors import InvalidArgumentError
from kerastl.zoo.registry import register
from kerastl.zoo.spec import BackboneSpec, Preprocessing

# Stages of KerasHub CNNs and layers of its transformers ("stack2_block0_conv" -> "stack2").
BLOCK_PATTERN = r"((?:transformer_layer|transformer_block|stack|stage|block)_?\d+)"
LICENCE = "see the preset's model card on Kaggle / Hugging Face"


def _converter_preprocessing(preset: str) -> Preprocessing | None:
    import keras_hub

    try:
        converter = keras_hub.layers.ImageConverter.from_preset(preset)
    except (ValueError, FileNotFoundError):  # the preset has no image converter
        return None
    as_data = lambda v: tuple(v) if isinstance(v, (list, tuple)) else (1.0 if v is None else float(v))  # noqa: E731
    return Preprocessing(scale=as_data(converter.scale), offset=as_data(converter.offset or 0.0))


def hub_backbone(preset: str, name: str, input_shape, weights) -> keras.Model:
    """KerasHub `Backbone.from_preset`, behind the preset's own pixel normalisation."""
    import keras_hub

    preprocessing = _converter_preprocessing(preset)
    backbone = keras_hub.models.Backbone.from_preset(preset, load_weights=weights is not None)
    inputs = keras.Input(input_shape, name="pixels")
    x = preprocessing.apply(inputs) if preprocessing else inputs
    return keras.Model(inputs, backbone(x), name=name)


def _spec(name: str, preset: str, input_size: int, description: str) -> BackboneSpec:
    return BackboneSpec(
        name=name,
        family="KerasHub",
        source="keras_hub",
        constructor=functools.partial(hub_backbone, preset, re.sub(r"\W", "_", name)),
        input_size=input_size,
        preprocessing=None,  # read from the preset's ImageConverter when built
        block_pattern=BLOCK_PATTERN,
        licence=LICENCE,
        description=description,
    )


def register_presets() -> None:
    """Register every KerasHub image-classifier preset under its own name."""
    import keras_hub

    for preset in keras_hub.models.ImageClassifier.presets:
        size = re.search(r"(?:_|r)(\d{3})(?:_|$)", preset)
        register(_spec(preset, preset, int(size.group(1)) if size else 224, f"KerasHub preset {preset}"))


def preset_dir_spec(path: str) -> BackboneSpec:
    """A spec for a local KerasHub preset directory (config.json + weights), e.g. a saved preset."""
    config = Path(path) / "config.json"
    if not config.is_file():
        raise InvalidArgumentError(
            f"{path!r} is a directory but not a KerasHub preset (no config.json); pass a preset saved "
            "with `backbone.save_to_preset(dir)` or downloaded from Kaggle / Hugging Face."
        )
    size = json.loads(config.read_text()).get("config", {}).get("image_shape") or [224]
    name = Path(path).resolve().name
    spec = _spec(name, str(Path(path).resolve()), int(size[0] or 224), f"KerasHub preset directory {path}")
    return register(spec)  # so that kerastl.blocks() finds it again by its backbone's name
