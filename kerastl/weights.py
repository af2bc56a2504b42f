"""Weights: a named source ("imagenet"), None, a weights file, or a KerasHub preset directory."""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import keras

from kerastl.errors import InvalidArgumentError, WeightsUnavailableError
from kerastl.zoo import BackboneSpec
from kerastl.zoo.hub import preset_dir_spec

FILE_SUFFIXES = (".h5", ".keras")


def resolve(spec: BackboneSpec, weights) -> tuple[BackboneSpec, str | None, Path | None]:
    """-> (spec to build, named source or None, weights file to load afterwards or None)."""
    if weights is None:
        return spec, None, None
    if isinstance(weights, str) and weights in spec.weights:
        return spec, weights, None
    if not isinstance(weights, (str, os.PathLike)):
        raise InvalidArgumentError(f"weights must be None, a string or a path, got {type(weights).__name__}")
    path = Path(weights)
    if path.is_dir():
        if spec.source != "keras_hub":
            raise InvalidArgumentError(
                f"weights={str(weights)!r} is a directory, but {spec.name!r} is not a KerasHub backbone; "
                f"build the preset itself with kerastl.build({str(weights)!r}, ...)."
            )
        dir_spec = preset_dir_spec(str(path))
        return dir_spec, dir_spec.weights[0], None
    if path.is_file():
        if not path.name.endswith(FILE_SUFFIXES):
            raise InvalidArgumentError(f"weights file {str(path)!r} must end with one of {FILE_SUFFIXES}")
        return spec, None, path
    raise InvalidArgumentError(
        f"weights={str(weights)!r} for {spec.name!r}: expected None, one of {list(spec.weights)}, an existing "
        f"weights file ({', '.join(FILE_SUFFIXES)}) or a KerasHub preset directory."
    )


def construct(spec: BackboneSpec, input_shape: tuple, named: str | None) -> keras.Model:
    """Run the spec's constructor; a failed download (weights, or a KerasHub preset's config even with
    weights=None) becomes a WeightsUnavailableError."""
    try:
        return spec.constructor(input_shape, named)
    except Exception as error:  # keras raises a bare Exception for a failed download
        if (named is None and spec.source != "keras_hub") or not _is_download_failure(error):
            raise
        raise WeightsUnavailableError(offline_message(spec, named or "config", error)) from None


def load_file(model: keras.Model, backbone: keras.Model, path: Path) -> None:
    """Load a weights file saved from the backbone alone or from the whole model."""
    errors = []
    for target in (backbone, model):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                target.load_weights(path)
            skipped = [w for w in caught if "freshly-initialized" in str(w.message) or "Skipping" in str(w.message)]
            if not skipped:
                return
            errors.append(f"{target.name}: {str(skipped[0].message)[:200]}")
        except (ValueError, KeyError, TypeError) as error:
            errors.append(f"{target.name}: {str(error).splitlines()[0][:200]}")
    raise InvalidArgumentError(
        f"weights file {str(path)!r} matches neither the backbone nor the whole model "
        f"({'; '.join(errors)}). Save it with model.save_weights() from the same build() arguments."
    )


def _is_download_failure(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, OSError) or "URL fetch failure" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def offline_message(spec: BackboneSpec, named: str, error: BaseException) -> str:
    reason = str(error).splitlines()[0][:300]
    lines = [f"could not download the {named!r} weights of backbone {spec.name!r} (is there a network?): {reason}"]
    url = re.search(r"https?://\S+?(?=[:\s]|$)", str(error))
    if spec.source == "keras.applications" and url:
        filename = url.group(0).rsplit("/", 1)[-1]
        cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
        lines.append(
            f"Missing file: {url.group(0)}. Download it on a machine with internet, then either copy it "
            f"to {cache / filename} (Keras' cache) or pass weights='/path/to/{filename}'."
        )
    elif spec.source == "keras_hub":
        lines.append(
            "Download the preset on a machine with internet (e.g. keras_hub.models.Backbone.from_preset("
            f"'{spec.name}').save_to_preset('DIR')), copy DIR here and pass kerastl.build('DIR') or weights='DIR'."
        )
    lines.append("Or pass weights=None (random initialisation), or use the offline backbone 'efficientnet_lite0'.")
    return "\n".join(lines)
