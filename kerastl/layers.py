"""The few layers kerastl adds to Keras; all serialisable, so saved models reload with `import kerastl`."""
import keras


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
