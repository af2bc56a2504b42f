"""Single-label classification: pooling, dropout, softmax in float32."""
import keras


def pool(features):
    """Global average pooling over whatever spatial/sequence axes the backbone output has."""
    rank = len(features.shape)
    if rank == 4:
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    if rank == 3:
        return keras.layers.GlobalAveragePooling1D(name="avg_pool")(features)
    return features


def classification(features, *, num_classes: int, dropout: float = 0.2):
    x = pool(features)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
