"""Object detection: KerasHub's RetinaNet over a zoo backbone's feature pyramid (P3–P5).

Boxes are "yxyx" in pixels of the model input: (top, left, bottom, right). Training targets:
{"boxes": float (batch, max_boxes, 4), "labels": int (batch, max_boxes)}, rows of -1 for no box
(kerastl.data.shapes gives this layout). `model.predict(images)` decodes with non-max suppression to
{"boxes", "labels", "confidence", "num_detections"}.

Imported on demand (importing keras_hub is slow); to reload a saved detector, import this module first.
"""
from __future__ import annotations

import math

import keras
import keras_hub

from kerastl.zoo import BackboneSpec
from kerastl.zoo.pyramid import pyramid_layers

BOX_FORMAT = "yxyx"
LEVELS = (3, 4, 5)
PRIOR = 0.01  # initial class probability of every anchor (focal loss)


@keras.saving.register_keras_serializable(package="kerastl")
class PyramidEncoder(keras.Model):
    """A functional backbone whose outputs are a {"P3": …, "P5": …} dict, exposed as `pyramid_outputs`
    (what KerasHub's RetinaNetBackbone reads); reloads as itself."""

    def __init__(self, inputs, outputs, name=None, **kwargs):  # Functional's signature: saved as functional
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.pyramid_outputs = outputs


def pyramid_encoder(spec: BackboneSpec, backbone: keras.Model) -> PyramidEncoder:
    names = pyramid_layers(spec, backbone)
    outputs = {f"P{level}": backbone.get_layer(names[level]).output for level in LEVELS}
    return PyramidEncoder(backbone.inputs, outputs, name=backbone.name)


@keras.saving.register_keras_serializable(package="kerastl")
class Detector(keras_hub.models.RetinaNetObjectDetector):
    """KerasHub's RetinaNetObjectDetector as kerastl builds it: the same model, recording its task."""

    kerastl_task = "detection"


def retinanet(encoder: PyramidEncoder, num_classes: int, head_convs: int = 2) -> Detector:
    """RetinaNet (FPN P3–P5, anchors 3 scales × 3 ratios, focal loss) with `head_convs` conv layers per head."""
    backbone = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder, min_level=LEVELS[0], max_level=LEVELS[-1], use_p5=False,
        image_shape=tuple(encoder.inputs[0].shape[1:]))
    detector = Detector(
        backbone=backbone, num_classes=num_classes, bounding_box_format=BOX_FORMAT,
        pre_logits_num_conv_layers=head_convs, classification_head_prior_probability=PRIOR)
    # keras-hub 0.32 gives the focal-loss prior bias to the *box* head (deltas start at -4.6, every class
    # at p = 0.5): swap it back, as in the RetinaNet paper.
    box_bias = detector.box_head.prediction_layer.bias
    detector.classification_head.prediction_layer.bias.assign(keras.ops.full_like(
        detector.classification_head.prediction_layer.bias, -math.log((1 - PRIOR) / PRIOR)))
    box_bias.assign(keras.ops.zeros_like(box_bias))
    return detector
