"""The few layers kerastl adds to Keras; all serialisable, so saved models reload with `import kerastl`."""
import keras


@keras.saving.register_keras_serializable(package="kerastl")
class ReverseChannels(keras.layers.Layer):
    """RGB -> BGR (or back): the channel flip of Caffe-style preprocessing, kept inside the model."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape
