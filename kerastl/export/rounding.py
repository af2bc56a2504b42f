"""Data-aware int8 weight rounding for TFLite's dynamic and int8 modes (a greedy AdaRound).

TFLite rounds every kernel to the nearest point of a symmetric per-output-channel int8 grid (step =
max |w| / 127; a following BatchNorm only rescales whole channels, so folding keeps the grid). Nearest
is not best: on smooth inputs (e.g. upsampled photos) neighbouring taps see almost the same values, so
the rounding errors of a channel add up instead of cancelling. `int8_rounded` returns a copy of the
model whose kernels already lie on that grid, each output channel rounded up or down tap by tap to
minimise its squared output error on real images, E[(Δwᵀx)²] = Δwᵀ E[xxᵀ] Δw (Nagel et al., 2020,
"Up or Down? Adaptive Rounding", greedily). The converter then keeps those values exactly; the
export is still verified against the original model.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

PATCHES_PER_BATCH = 1024  # input patches sampled per layer and batch for E[xxᵀ]
MAX_TAPS = 2304  # larger kernels (e.g. 3x3x512) keep nearest rounding: the greedy pass is O(taps²)


def int8_rounded(model: keras.Model, images: np.ndarray, batch_size: int = 8, passes: int = 2) -> keras.Model:
    """A copy of `model` with every Dense / Conv2D / DepthwiseConv2D kernel on TFLite's int8 grid,
    rounded to minimise each layer's output error on `images` (real inputs, e.g. the calibration set)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    layers = [layer for layer in copy._flatten_layers() if _supported(layer)]
    if not layers:
        return copy
    moments = [0.0] * len(layers)
    for start in range(0, len(images), batch_size):
        inputs = _layer_inputs(copy, layers, images[start:start + batch_size])
        for i, (layer, x) in enumerate(zip(layers, inputs)):
            moments[i] = moments[i] + _second_moment(layer, x)
    for layer, moment in zip(layers, moments):
        layer.kernel.assign(_round(layer, moment, passes))
    return copy


def _supported(layer) -> bool:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return True
    if isinstance(layer, keras.layers.Conv2D) and layer.groups == 1:
        return int(np.prod(layer.kernel.shape[:-1])) <= MAX_TAPS
    return isinstance(layer, keras.layers.Dense) and len(layer.kernel.shape) == 2 and layer.kernel.shape[0] <= MAX_TAPS


def _layer_inputs(model: keras.Model, layers: list, images: np.ndarray) -> list[np.ndarray]:
    """The input tensor of each of `layers` (possibly inside nested models) on `images`."""
    found = {}

    def walk(graph: keras.Model, x) -> None:
        targets = [layer for layer in graph.layers if layer in layers or isinstance(layer, keras.Model)]
        probe = keras.Model(graph.inputs[0] if len(graph.inputs) == 1 else graph.inputs,
                            [layer._inbound_nodes[0].input_tensors[0] for layer in targets])
        outputs = probe(x, training=False)
        for layer, value in zip(targets, outputs if len(targets) > 1 else [outputs]):
            if isinstance(layer, keras.Model):
                walk(layer, value)
            else:
                found[id(layer)] = np.asarray(value, dtype=np.float32)

    walk(model, images)
    return [found[id(layer)] for layer in layers]


def _second_moment(layer, x: np.ndarray) -> np.ndarray:
    """E[ppᵀ] (summed) over sampled input patches p of `layer`: (taps, taps), or (channels, taps, taps)
    for a depthwise layer, whose channels see separate patches."""
    if isinstance(layer, keras.layers.Dense):
        p = x.reshape(-1, x.shape[-1])
    else:
        kh, kw = layer.kernel_size
        p = tf.image.extract_patches(x, sizes=[1, kh, kw, 1], strides=[1, *layer.strides, 1],
                                     rates=[1, *layer.dilation_rate, 1], padding=layer.padding.upper()).numpy()
        p = p.reshape(-1, p.shape[-1])
    if len(p) > PATCHES_PER_BATCH:
        p = p[np.random.default_rng(0).choice(len(p), PATCHES_PER_BATCH, replace=False)]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        p = p.reshape(len(p), -1, x.shape[-1])  # (patches, kh*kw, channels): extract_patches orders (kh, kw, c)
        return np.einsum("pic,pjc->cij", p, p).astype(np.float64)
    return (p.T @ p).astype(np.float64)


def _round(layer, moment: np.ndarray, passes: int) -> np.ndarray:
    """The kernel of `layer` on its per-output-channel int8 grid, greedily rounded to lower ΔwᵀMΔw."""
    kernel = layer.kernel.numpy().astype(np.float64)
    shape = kernel.shape
    depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
    if depthwise:  # (kh, kw, c, m) -> (taps, c*m); each column has its channel's moment
        w = kernel.reshape(-1, shape[-2] * shape[-1])
        moment = np.repeat(moment, shape[-1], axis=0)  # (c*m, taps, taps), columns c-major like w
    else:
        w = kernel.reshape(-1, shape[-1])
    step = np.abs(w).max(axis=0) / 127.0
    step[step == 0] = 1.0
    q = np.round(w / step)
    pinned = np.abs(w).argmax(axis=0)  # the largest tap sets the step: it must stay at ±127
    # Work in steps: a column's error is step² ΔqᵀMΔq, and a positive factor does not change which flips help.
    error = q - w / step
    if depthwise:
        gradient = np.einsum("oij,jo->io", moment, error)  # M Δ, per column
        diagonal = np.einsum("oii->io", moment)
    else:
        gradient = moment @ error
        diagonal = np.diag(moment)[:, None]
    for _ in range(passes):
        for i in range(w.shape[0]):
            move = -np.sign(error[i])  # to the other neighbouring grid point
            gain = 2 * move * gradient[i] + diagonal[i]
            flip = (gain < 0) & (move != 0) & (np.abs(q[i] + move) <= 127) & (pinned != i)
            if not flip.any():
                continue
            delta = np.where(flip, move, 0.0)
            q[i] += delta
            error[i] += delta
            gradient += (moment[:, :, i].T if depthwise else moment[:, i:i + 1]) * delta
    return (q * step).reshape(shape).astype(layer.kernel.dtype)
