"""BackboneSpec: everything the zoo knows about one backbone, as data."""
from __future__ import annotations

import dataclasses
from typing import Callable, Literal

import keras

# (input_shape, weights) -> headless keras.Model taking raw RGB pixels in [0, 255].
# `weights` is None (random init) or one of the spec's named sources, e.g. "imagenet".
Constructor = Callable[[tuple, "str | None"], keras.Model]


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """Pixel normalisation `y = x[..., ::-1 if reverse_channels] * scale + offset` (per channel)."""

    scale: tuple[float, ...] | float = 1.0
    offset: tuple[float, ...] | float = 0.0
    reverse_channels: bool = False

    def layers(self) -> list[keras.layers.Layer]:
        """The Keras layers that apply it (standard `Rescaling`; `ReverseChannels` for Caffe mode)."""
        from kerastl.layers import ReverseChannels

        flip = [ReverseChannels(name="to_bgr")] if self.reverse_channels else []
        scale = list(self.scale) if isinstance(self.scale, tuple) else self.scale
        offset = list(self.offset) if isinstance(self.offset, tuple) else self.offset
        return flip + [keras.layers.Rescaling(scale, offset=offset, name="preprocess")]

    def apply(self, x):
        """Apply `layers()` to a (symbolic) tensor."""
        for layer in self.layers():
            x = layer(x)
        return x


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """One zoo entry. `constructor` builds the headless backbone; the rest describes it.

    Blocks: walking the backbone's layers in order, a layer whose name matches `block_pattern`
    belongs to the block named by the pattern's first non-empty group. With `block_marker="start"`
    unmatched layers join the block before them (layers before the first match form "stem"); with
    `"end"` they join the next matched block (layers after the last match form "top").
    """

    name: str
    family: str
    source: Literal["keras.applications", "keras_hub", "kerastl"]
    constructor: Constructor
    input_size: int
    preprocessing: Preprocessing | None  # None: the network normalises internally
    block_pattern: str
    block_marker: Literal["start", "end"] = "start"
    pyramid: tuple[str, ...] = ()  # feature-pyramid layer names (stride 4, 8, 16, 32); empty: not listed
    weights: tuple[str, ...] = ("imagenet",)
    licence: str = ""
    min_size: int = 32
    description: str = ""

    def default_input_shape(self) -> tuple[int, int, int]:
        return (self.input_size, self.input_size, 3)

    def summary(self) -> dict:
        """A JSON-friendly description (what `kerastl.info` returns)."""
        pre = self.preprocessing
        return {
            "name": self.name,
            "family": self.family,
            "source": self.source,
            "input_size": self.input_size,
            "min_size": self.min_size,
            "preprocessing": "inside the network" if pre is None else dataclasses.asdict(pre),
            "weights": list(self.weights),
            "block_pattern": self.block_pattern,
            "pyramid": list(self.pyramid),
            "licence": self.licence,
            "description": self.description,
        }
