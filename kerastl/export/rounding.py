"""Data-aware weight rounding for TFLite's fp16, dynamic and int8 modes (AdaRound, greedily).

TFLite rounds every kernel to the nearest point of a symmetric per-output-channel int8 grid (step =
max |w| / 127; a following BatchNorm only rescales whole channels, so folding keeps the grid). Nearest
is not best: on smooth inputs (e.g. upsampled photos) neighbouring taps see almost the same values, so
the rounding errors of a channel add up instead of cancelling. `int8_rounded` returns a copy of the
model whose kernels already lie on that grid, each output channel rounded up or down tap by tap to
minimise its squared output error on real images (Nagel et al., 2020, "Up or Down? Adaptive
Rounding", greedily). It rounds the layers in one pass through the graph, each on the inputs the
layers before it, already rounded, give it, to reproduce the float model's output of that layer,
E[(w_qᵀq − wᵀx)²]; the mean of that error moves into the layer's bias (bias correction). So one
layer's rounding error is not passed on and added to by the next. The converter then keeps those
values exactly; the export is still verified against the original model. `fp16_rounded` rounds each
layer on the model's own inputs, E[(Δwᵀx)²], on the float16 grid, which a BatchNorm's scale would not
preserve: it folds the BatchNorms first.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import tree
from keras.src.models.functional import Functional

PATCHES_PER_BATCH = 1024  # input patches sampled per layer and batch for E[xxᵀ]
MAX_TAPS = 2304  # larger kernels (e.g. 3x3x512) keep nearest rounding: the greedy pass is O(taps²)
BLOCK = 64  # taps `_round` visits one by one before it updates the other taps' gradients in one product


Moments = dict[str, tuple[np.ndarray, np.ndarray]]  # layer name -> (Σppᵀ, Σp) of its input patches


def int8_rounded(model: keras.Model, images: np.ndarray, batch_size: int = 8, passes: int = 2,
                 sequential: bool = True) -> keras.Model:
    """A copy of `model` with every Dense / Conv2D / DepthwiseConv2D kernel on TFLite's int8 grid,
    rounded to minimise each layer's output error on `images` (real inputs, e.g. the calibration set;
    all of them go through the graph at once, twice: the model's and the copy's half).
    `sequential=False`, or a model that is not a graph of functional models: each layer rounded on the
    model's own inputs, no bias correction. `passes=0` with `sequential=False` gives nearest rounding."""
    graphs = all(isinstance(m, Functional) for m in model._flatten_layers() if isinstance(m, keras.Model))
    return _rounded_copy(model, images, "int8", batch_size, passes, sequential and graphs)


def fp16_rounded(model: keras.Model, images: np.ndarray, batch_size: int = 8, passes: int = 2) -> keras.Model:
    """A copy of `model` with each BatchNorm folded into the kernel before it (the BatchNorm left as an
    exact identity plus the folded bias, which TFLite folds again without changing a bit) and every
    kernel on the float16 grid, rounded like `int8_rounded`: TFLite's fp16 mode then keeps them exactly."""
    return _rounded_copy(model, images, "fp16", batch_size, passes)


def _input_moments(model: keras.Model, images: np.ndarray, batch_size: int) -> Moments:
    """(Σppᵀ, Σp) of the input patches of every roundable layer of `model` (by name) on `images`."""
    layers = [layer for layer in model._flatten_layers() if _supported(layer)]
    totals = [(0.0, 0.0)] * len(layers)
    rng = np.random.default_rng(0)  # other positions in every batch
    for start in range(0, len(images), batch_size):
        inputs = _layer_inputs(model, layers, images[start:start + batch_size])
        totals = [tuple(a + b for a, b in zip(total, _moments(layer, x, rng)))
                  for total, layer, x in zip(totals, layers, inputs)]
    return {layer.name: total for layer, total in zip(layers, totals)}


def _rounded_copy(model: keras.Model, images: np.ndarray, grid: str, batch_size: int, passes: int,
                  sequential: bool = False) -> keras.Model:
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    folded = _fold_batch_norms(copy) if grid == "fp16" else {}
    if sequential:
        _round_sequentially(model, copy, images, batch_size, passes)
        return copy
    moments = _input_moments(model, images, batch_size) if passes else {}  # nearest rounding needs none
    for layer in copy._flatten_layers():
        if not _supported(layer):
            continue
        second, first = moments[layer.name] if passes else (None, None)
        bias = folded[id(layer)].beta if id(layer) in folded else layer.bias if layer.use_bias else None
        bias_error = None
        if grid == "fp16" and bias is not None:  # TFLite stores biases in float16 too: let the kernel make up for it
            exact = bias.numpy()
            bias.assign(exact.astype(np.float16).astype(exact.dtype))
            bias_error = bias.numpy().astype(np.float64) - exact
        layer.kernel.assign(_round(layer, second, first, bias_error, passes, grid))
    return copy


def _round_sequentially(model: keras.Model, copy: keras.Model, images: np.ndarray, batch_size: int,
                        passes: int) -> None:
    """Round `copy`'s kernels (int8 grid) in one pass through its graph (`_round_on_inputs` at each layer,
    before it runs): the model runs on the first half of a stacked batch, the copy on the second."""
    originals = {id(mine): theirs for mine, theirs in zip(copy._flatten_layers(), model._flatten_layers())}
    norms = _following_batch_norms(copy)
    count = PATCHES_PER_BATCH * -(-len(images) // batch_size)  # as many patches as _input_moments samples
    n, done = len(images), set()

    def halves(structure):
        return (tree.map_structure(lambda t: t[half] if keras.ops.is_tensor(t) else t, structure)
                for half in (slice(0, n), slice(n, None)))

    def step(operation):
        if isinstance(operation, Functional):
            return lambda inputs, **kwargs: operation._run_through_graph(inputs, operation_fn=step)
        original = originals.get(id(operation), operation)  # bare ops (no layer) have no weights

        def call(*args, **kwargs):
            if "training" in getattr(operation, "_call_context_args", ()):
                kwargs["training"] = False
            (args_model, args_copy), (kwargs_model, kwargs_copy) = halves(args), halves(kwargs)
            if _supported(operation) and id(operation) not in done:  # a shared layer: at its first call
                done.add(id(operation))
                _round_on_inputs(operation, original.kernel.numpy(), np.asarray(args_copy[0]),
                                 np.asarray(args_model[0]), count, passes, norms.get(id(operation)))
            return tree.map_structure(lambda a, b: keras.ops.concatenate([a, b], 0),
                                      original(*args_model, **kwargs_model), operation(*args_copy, **kwargs_copy))
        return call

    copy._run_through_graph(keras.ops.convert_to_tensor(np.concatenate([images, images])), operation_fn=step)


def _round_on_inputs(layer, kernel: np.ndarray, q: np.ndarray, x: np.ndarray, count: int, passes: int,
                     norm) -> None:
    """Round `layer`'s kernel (the model's: `kernel`) to minimise E[(w_qᵀq − wᵀx)²] over its input
    patches: q in the rounded copy, x in the model at the same positions; then shift its bias (or
    `norm`, the moving mean of the BatchNorm it feeds) by the mean of that error."""
    qq, qx, sq, sx, total = _cross_moments(layer, *(_patches(layer, v, np.random.default_rng(0), count) for v in (q, x)))
    place = layer.bias if layer.use_bias else norm
    if place is not None:  # the bias absorbs the mean error: round for the centred error
        qq, qx = qq - _outer(sq, sq) / total, qx - _outer(sq, sx) / total
    rounded = _round(layer, qq, None, None, passes, "int8", cross=qx, kernel=kernel)
    if place is not None:  # BatchNorm(y + shift) == BatchNorm(y) with its moving mean lowered by shift
        shift = (_column_means(layer, kernel, sx) - _column_means(layer, rounded, sq)) / total
        place.assign((place.numpy() + (shift if layer.use_bias else -shift)).astype(place.dtype))
    layer.kernel.assign(rounded)


def _following_batch_norms(model: keras.Model) -> dict[int, "keras.Variable"]:
    """{id(linear Dense/Conv2D/DepthwiseConv2D without bias): moving mean of the BatchNorm it alone feeds}."""
    found = {}
    for bn in model._flatten_layers():
        if not isinstance(bn, keras.layers.BatchNormalization) or bn.axis not in (-1, len(bn.input.shape) - 1):
            continue
        producer = bn._inbound_nodes[0].input_tensors[0]._keras_history[0]
        if (_supported(producer) and not producer.use_bias and len(producer._outbound_nodes) == 1
                and producer.activation is keras.activations.linear):
            found[id(producer)] = bn.moving_mean
    return found


def _outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a bᵀ, per channel for (channels, taps) sums."""
    return a[..., :, None] * b[..., None, :]


def _column_means(layer, kernel: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Σ over patches of each output column, kernelᵀ Σp, flattened like the layer's bias."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):  # sums (c, taps), kernel (kh, kw, c, m)
        w = kernel.reshape(-1, *kernel.shape[-2:]).astype(np.float64)
        return np.einsum("tcm,ct->cm", w, sums).reshape(-1)
    return kernel.reshape(-1, kernel.shape[-1]).astype(np.float64).T @ sums


def _cross_moments(layer, q: np.ndarray, x: np.ndarray) -> tuple:
    """(Σqqᵀ, Σqxᵀ, Σq, Σx, n) of matching patches q (rounded copy) and x (model); per channel for depthwise."""
    q, x = _per_channel(layer, q), _per_channel(layer, x)
    q_t = np.swapaxes(q, -1, -2)
    return ((q_t @ q).astype(np.float64), (q_t @ x).astype(np.float64), q.sum(-2, dtype=np.float64),
            x.sum(-2, dtype=np.float64), q.shape[-2])


def _fold_batch_norms(model: keras.Model) -> dict[int, keras.layers.BatchNormalization]:
    """Fold every inference BatchNorm that alone follows a linear Dense/Conv2D/DepthwiseConv2D into it;
    -> {id(that layer): its BatchNorm, which now holds the folded bias}."""
    folded = {}
    for bn in model._flatten_layers():
        if not isinstance(bn, keras.layers.BatchNormalization) or not bn.center or not bn.scale:
            continue
        producer = bn._inbound_nodes[0].input_tensors[0]._keras_history[0]
        unit = np.float32(1.0) - np.float32(bn.epsilon)  # moving variance for which BN divides by sqrt(1.0)
        if (unit + np.float32(bn.epsilon) != np.float32(1.0)
                or not isinstance(producer, (keras.layers.Dense, keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
                or len(producer._outbound_nodes) != 1 or producer.activation is not keras.activations.linear
                or bn.axis not in (-1, len(bn.input.shape) - 1)):
            continue
        gamma, beta, mean, variance = (w.numpy().astype(np.float64) for w in (bn.gamma, bn.beta, bn.moving_mean,
                                                                                bn.moving_variance))
        scale = gamma / np.sqrt(variance + bn.epsilon)
        kernel = producer.kernel.numpy()
        kernel_scale = scale.reshape(kernel.shape[-2:]) if isinstance(producer, keras.layers.DepthwiseConv2D) else scale
        producer.kernel.assign((kernel * kernel_scale).astype(kernel.dtype))
        bias = producer.bias.numpy() if producer.use_bias else 0.0
        if producer.use_bias:
            producer.bias.assign(np.zeros_like(bias))
        for variable, value in ((bn.gamma, 1.0), (bn.beta, (bias - mean) * scale + beta), (bn.moving_mean, 0.0),
                                (bn.moving_variance, unit)):
            variable.assign(np.broadcast_to(value, variable.shape).astype(variable.dtype))
        folded[id(producer)] = bn
    return folded


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
        targets = [layer for layer in graph.layers if layer in layers or isinstance(layer, keras.Model)
                   and any(inner in layers for inner in layer._flatten_layers())]
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


def _patches(layer, x: np.ndarray, rng: np.random.Generator, count: int = PATCHES_PER_BATCH) -> np.ndarray:
    """Up to `count` input patches of `layer` at random output positions: (patches, taps), taps
    ordered (kh, kw, channels) like the kernel. Only the sampled patches are gathered."""
    if isinstance(layer, keras.layers.Dense):
        rows = x.reshape(-1, x.shape[-1])
        return rows[rng.choice(len(rows), min(len(rows), count), replace=False)]
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.strides, layer.dilation_rate
    _, height, width, _ = x.shape
    if layer.padding == "same":  # TensorFlow's SAME: the extra row/column of padding goes last
        out_h, out_w = -(-height // sh), -(-width // sw)
        pad_h = max((out_h - 1) * sh + (kh - 1) * dh + 1 - height, 0)
        pad_w = max((out_w - 1) * sw + (kw - 1) * dw + 1 - width, 0)
        x = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    else:
        out_h, out_w = (height - (kh - 1) * dh - 1) // sh + 1, (width - (kw - 1) * dw - 1) // sw + 1
    positions = len(x) * out_h * out_w
    index = rng.choice(positions, min(positions, count), replace=False)
    image, rest = np.divmod(index, out_h * out_w)
    oy, ox = np.divmod(rest, out_w)
    ys = oy[:, None] * sh + np.arange(kh) * dh
    xs = ox[:, None] * sw + np.arange(kw) * dw
    return x[image[:, None, None], ys[:, :, None], xs[:, None, :]].reshape(len(index), -1)


def _moments(layer, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(Σppᵀ, Σp) over sampled input patches p of `layer`: (taps, taps) and (taps,), or per channel
    (channels, taps, taps) and (channels, taps) for a depthwise layer."""
    p = _per_channel(layer, _patches(layer, x, rng))
    return (np.swapaxes(p, -1, -2) @ p).astype(np.float64), p.sum(-2, dtype=np.float64)


def _per_channel(layer, p: np.ndarray) -> np.ndarray:
    """Patches (patches, taps) as they enter the layer's matrix product: unchanged, or for a depthwise layer,
    whose channels see separate patches, (channels, patches, kh*kw)."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return p.reshape(len(p), -1, layer.kernel.shape[-2]).transpose(2, 0, 1)
    return p


def _round(layer, moment: np.ndarray, first: np.ndarray | None, bias_error: np.ndarray | None, passes: int,
           grid: str, cross: np.ndarray | None = None, kernel: np.ndarray | None = None) -> np.ndarray:
    """`kernel` (default: `layer`'s) on `grid` ("int8": per-output-channel symmetric; "fp16"), each tap
    rounded down or up, greedily, to lower every column's squared output error Σ(Δwᵀp + Δb)² = ΔwᵀMΔw +
    2ΔbΔwᵀΣp + const (M = `moment`, Σp = `first`, Δb = `bias_error`), starting from nearest rounding.
    With `cross` = C (the layer's inputs in a rounded copy q against the model's x: M = Σqqᵀ, C = Σqxᵀ)
    the error is Σ(w_qᵀq − wᵀx)² = w_qᵀMw_q − 2w_qᵀCw + const."""
    kernel = (layer.kernel.numpy() if kernel is None else kernel).astype(np.float64)
    shape = kernel.shape
    cross = moment if cross is None else cross  # C = M when the inputs are the model's own
    depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
    if depthwise:  # (kh, kw, c, m) -> (taps, c*m); each column has its channel's moment
        w = kernel.reshape(-1, shape[-2] * shape[-1])
        moment, cross = (np.repeat(m, shape[-1], axis=0) for m in (moment, cross))  # (c*m, taps, taps), c-major like w
        first = None if first is None else np.repeat(first, shape[-1], axis=0).T  # (taps, c*m)
    else:
        first = None if first is None else first[:, None]
        w = kernel.reshape(-1, shape[-1])
    current, other = _neighbours(w, grid)
    if not passes:  # nearest rounding
        return current.reshape(shape).astype(layer.kernel.dtype)
    if depthwise:  # M w_q - C w, per column
        gradient = np.einsum("oij,jo->io", moment, current) - np.einsum("oij,jo->io", cross, w)
        diagonal = np.einsum("oii->io", moment)
    else:
        gradient = moment @ current - cross @ w
        diagonal = np.diag(moment)[:, None]
    if bias_error is not None:
        gradient = gradient + first * bias_error
    taps = w.shape[0]
    for _ in range(passes):
        for start in range(0, taps, BLOCK):  # taps in blocks: within one, tap by tap; the other rows once after it
            block = slice(start, min(start + BLOCK, taps))
            deltas = np.zeros((block.stop - start, w.shape[1]))
            for i in range(start, block.stop):
                move = other[i] - current[i]
                flip = 2 * move * gradient[i] + move * move * diagonal[i] < 0
                if not flip.any():
                    continue
                deltas[i - start] = delta = np.where(flip, move, 0.0)
                current[i], other[i] = np.where(flip, other[i], current[i]), np.where(flip, current[i], other[i])
                gradient[block] += (moment[:, block, i].T if depthwise else moment[block, i:i + 1]) * delta
            for rows in (slice(0, start), slice(block.stop, taps)) if deltas.any() else ():
                if rows.start < rows.stop:
                    gradient[rows] += (np.einsum("orj,jo->ro", moment[:, rows, block], deltas) if depthwise
                                       else moment[rows, block] @ deltas)
    return current.reshape(shape).astype(layer.kernel.dtype)


def _neighbours(w: np.ndarray, grid: str) -> tuple[np.ndarray, np.ndarray]:
    """(nearest grid value, the grid value on the other side of w) for every entry of `w` (taps, columns)."""
    if grid == "fp16":
        nearest = w.astype(np.float16)
        other = np.nextafter(nearest, np.where(nearest > w, -np.inf, np.inf).astype(np.float16))
        other = np.where(nearest == w, nearest, other)
        return nearest.astype(np.float64), other.astype(np.float64)
    step = np.abs(w).max(axis=0) / 127.0
    step[step == 0] = 1.0
    nearest = np.round(w / step)
    other = nearest + np.where(nearest > w / step, -1.0, 1.0)
    pinned = np.abs(w).argmax(axis=0)  # the largest tap sets the step: it must stay at ±127
    other[pinned, np.arange(w.shape[1])] = nearest[pinned, np.arange(w.shape[1])]
    return nearest * step, other * step
