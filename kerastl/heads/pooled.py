"""Heads over pooled features: softmax classification, sigmoid multi-label, linear regression, and
L2-normalised embeddings trained with a supervised contrastive loss."""
import keras
from keras import ops


def pool(features):
    """Global average pooling over whatever spatial/sequence axes the backbone output has."""
    rank = len(features.shape)
    if rank == 4:
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    if rank == 3:
        return keras.layers.GlobalAveragePooling1D(name="avg_pool")(features)
    return features


def dense_head(features, *, num_classes: int, dropout: float = 0.2, activation: str | None, name: str, **_):
    x = pool(features)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.layers.Dense(num_classes, activation=activation, dtype="float32", name=name)(x)


def embedding(features, *, num_classes: int, dropout: float = 0.2, **_):
    """`num_classes` is the embedding size; outputs have unit L2 norm (cosine = dot product)."""
    x = dense_head(features, num_classes=num_classes, dropout=dropout, activation=None, name="projection")
    return keras.layers.UnitNormalization(dtype="float32", name="embedding")(x)


@keras.saving.register_keras_serializable(package="kerastl")
class SupervisedContrastiveLoss(keras.losses.Loss):
    """Khosla et al. 2020 over one batch: class-index labels, unit-norm embeddings. For every anchor,
    the mean log-probability (softmax of cosine / temperature over the other samples) of its positives."""

    def __init__(self, temperature: float = 0.1, name: str = "supervised_contrastive", **kwargs):
        super().__init__(name=name, **kwargs)
        self.temperature = temperature

    def call(self, y_true, y_pred):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        n = ops.shape(labels)[0]
        not_self = 1.0 - ops.eye(n)
        logits = ops.matmul(y_pred, ops.transpose(y_pred)) / self.temperature - 1e9 * (1.0 - not_self)
        log_prob = logits - ops.logsumexp(logits, axis=1, keepdims=True)
        positives = ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32") * not_self
        count = ops.sum(positives, axis=1)
        return -ops.sum(positives * log_prob, axis=1) / ops.maximum(count, 1.0)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="kerastl")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Sparse categorical cross-entropy with label smoothing (Keras' sparse loss has none): class indices
    become one-hot targets, smoothed by `label_smoothing` as keras.losses.CategoricalCrossentropy does."""

    def __init__(self, label_smoothing: float = 0.1, name: str = "sparse_categorical_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        targets = ops.one_hot(ops.reshape(ops.cast(y_true, "int32"), ops.shape(y_pred)[:-1]), classes)
        return keras.losses.categorical_crossentropy(targets, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
