"""The few layers kerastl adds to Keras; all serialisable, so saved models reload with `import kerastl`."""
import keras
import numpy as np


@keras.saving.register_keras_serializable(package="kerastl")
class ReverseChannels(keras.layers.Layer):
    """RGB -> BGR (or back): the channel flip of Caffe-style preprocessing, kept inside the model."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="kerastl")
class BilinearResize(keras.layers.Layer):
    """Resize feature maps to (height, width), bilinear. Not `keras.layers.Resizing`: that preprocessing
    layer's `call(training=True)` default makes every later layer of an unflagged `model(x)` call (and
    of `model.export`) run in training mode, BatchNormalization included."""

    def __init__(self, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = height, width

    def call(self, inputs):
        return keras.ops.image.resize(inputs, (self.height, self.width), interpolation="bilinear")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@keras.saving.register_keras_serializable(package="kerastl")
class GradientReversal(keras.layers.Layer):
    """Identity forward; the gradient is multiplied by -`weight` (DANN, Ganin & Lempitsky 2015).

    `weight` is a non-trainable variable, so a schedule can change it between steps."""

    def __init__(self, weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = self.add_weight(shape=(), initializer=keras.initializers.Constant(weight), trainable=False,
                                      name="weight")

    def call(self, inputs):
        held = keras.ops.stop_gradient(inputs)
        return held - keras.ops.cast(self.weight, inputs.dtype) * (inputs - held)  # == inputs exactly

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "weight": float(self.weight.numpy())}


@keras.saving.register_keras_serializable(package="kerastl")
class MaskedMean(keras.layers.Layer):
    """Mean of the token vectors where `mask` is true: (batch, tokens, d), (batch, tokens) -> (batch, d)."""

    def call(self, sequence, mask):
        weights = keras.ops.cast(mask, sequence.dtype)[..., None]
        return keras.ops.sum(sequence * weights, axis=1) / keras.ops.maximum(keras.ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, sequence_shape, mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])


@keras.saving.register_keras_serializable(package="kerastl")
class SpectrogramImage(keras.layers.Layer):
    """(batch, mel bins, frames) log-mel spectrogram -> (batch, height, width, 3) pixels in [0, 255] for
    an image backbone: normalised per utterance (zero mean, unit variance), ±3 standard deviations mapped
    onto 0–255, low frequencies at the bottom, resized bilinearly, the same map in the three channels."""

    def __init__(self, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = height, width

    def call(self, spectrogram):
        mean = keras.ops.mean(spectrogram, axis=(1, 2), keepdims=True)
        std = keras.ops.std(spectrogram, axis=(1, 2), keepdims=True)
        pixels = keras.ops.clip((spectrogram - mean) / (std + 1e-6), -3.0, 3.0) * (255.0 / 6.0) + 127.5
        image = keras.ops.expand_dims(keras.ops.flip(pixels, axis=1), -1)
        image = keras.ops.image.resize(image, (self.height, self.width), interpolation="bilinear")
        return keras.ops.repeat(image, 3, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, 3)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@keras.saving.register_keras_serializable(package="kerastl")
class LogMelSpectrogram(keras.layers.Layer):
    """(batch, samples) mono waveform -> (batch, mel bins, frames): mel-band power in dB of 25 ms Hann
    windows every 10 ms (20 Hz to sample_rate / 2), each example floored at its own maximum - `top_db`.

    The short-time Fourier transform is a gather of the frames and one matrix product with the windowed
    DFT basis (cosines and sines), so every runtime takes it as it is: TFLite (builtin ops; int8 keeps
    them in float), ONNX and TF Serving. Keras' MelSpectrogram takes an FFT's real and imaginary parts
    apart, which tf2onnx refuses, and floors every example at the batch's maximum, so an example's
    spectrogram would depend on the rest of its batch."""

    def __init__(self, sample_rate: int, mel_bins: int = 64, top_db: float = 80.0, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate, self.mel_bins, self.top_db = sample_rate, mel_bins, top_db
        self.window, self.hop = int(round(0.025 * sample_rate)), sample_rate // 100
        fft = 1 << (self.window - 1).bit_length()
        n, k = np.arange(self.window)[:, None], np.arange(fft // 2 + 1)[None]
        hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.window) / self.window)  # periodic
        angle = 2 * np.pi * n * k / fft
        self.cos, self.sin = ((hann[:, None] * f(angle)).astype("float32") for f in (np.cos, np.sin))
        self.mel = _mel_matrix(mel_bins, fft, sample_rate)

    def call(self, waveform):
        frames = (waveform.shape[1] - self.window) // self.hop + 1
        starts = self.hop * np.arange(frames)[:, None] + np.arange(self.window)[None]
        windows = keras.ops.take(waveform, starts, axis=1)  # (batch, frames, window)
        real, imag = keras.ops.matmul(windows, self.cos), keras.ops.matmul(windows, self.sin)  # two: no split op,
        mel = keras.ops.matmul(real * real + imag * imag, self.mel)  # which int8's float denylist would miss
        db = 10.0 * keras.ops.log(keras.ops.maximum(mel, 1e-10)) / np.log(10.0)
        db = keras.ops.maximum(db, keras.ops.max(db, axis=(1, 2), keepdims=True) - self.top_db)
        return keras.ops.transpose(db, (0, 2, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.mel_bins, (input_shape[1] - self.window) // self.hop + 1)

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate, "mel_bins": self.mel_bins,
                "top_db": self.top_db}


def _mel_matrix(mel_bins: int, fft: int, sample_rate: int) -> np.ndarray:
    """(fft / 2 + 1, mel_bins) triangular HTK mel filters from 20 Hz to sample_rate / 2."""
    import tensorflow as tf

    return tf.signal.linear_to_mel_weight_matrix(mel_bins, fft // 2 + 1, sample_rate, 20.0, sample_rate / 2).numpy()
