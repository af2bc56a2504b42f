"""Dense heads over pooled features: softmax classification, sigmoid multi-label, linear regression."""
import keras


def pool(features):
    """Global average pooling over whatever spatial/sequence axes the backbone output has."""
    rank = len(features.shape)
    if rank == 4:
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    if rank == 3:
        return keras.layers.GlobalAveragePooling1D(name="avg_pool")(features)
    return features


def dense_head(features, *, num_classes: int, dropout: float = 0.2, activation: str | None, name: str):
    x = pool(features)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.layers.Dense(num_classes, activation=activation, dtype="float32", name=name)(x)


def classification(features, *, num_classes: int, dropout: float = 0.2):
    return dense_head(features, num_classes=num_classes, dropout=dropout, activation="softmax", name="predictions")
