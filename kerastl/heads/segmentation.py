"""A U-Net decoder over the backbone's feature pyramid: per-pixel class probabilities at input size."""
import keras

from kerastl.layers import BilinearResize

DECODER_FILTERS = (128, 64, 32, 16)  # after merging P4, P3, P2, P1


def _conv_bn_relu(x, filters: int, name: str):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def segmentation(pyramid: list, *, inputs, num_classes: int, dropout: float = 0.2):
    """`pyramid`: feature maps finest first (P1…P5). Each step resizes to the next finer map
    (bilinear, any sizes), concatenates it and applies conv-BN-ReLU; the logits are resized to the input."""
    x = pyramid[-1]
    if dropout:
        x = keras.layers.SpatialDropout2D(dropout, name="decoder_dropout")(x)
    for i, (skip, filters) in enumerate(zip(reversed(pyramid[:-1]), DECODER_FILTERS)):
        x = BilinearResize(*skip.shape[1:3], name=f"decoder{i}_up")(x)
        x = keras.layers.Concatenate(name=f"decoder{i}_concat")([x, skip])
        x = _conv_bn_relu(x, filters, f"decoder{i}")
    x = keras.layers.Conv2D(num_classes, 1, name="decoder_logits")(x)
    x = BilinearResize(*inputs.shape[1:3], name="decoder_resize")(x)
    return keras.layers.Softmax(dtype="float32", name="segmentation")(x)
