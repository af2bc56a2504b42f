"""DANN on a synthetic shift (offline, ~10 s):  python examples/domain_adaptation.py

Two moons as the labelled source; the same moons rotated 35° as the unlabelled target. The same MLP
trained on the source alone, then with kerastl.adapt(method="dann"); target accuracy of both.
"""
import keras
import numpy as np
import tensorflow as tf

import kerastl


def moons(n, rng, degrees=0.0):
    t, y = rng.uniform(0, np.pi, n), rng.integers(0, 2, n)
    x = np.where(y[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    a = np.deg2rad(degrees)
    return ((x + rng.normal(0, 0.1, x.shape)) @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T
            ).astype("float32"), y


rng = np.random.default_rng(0)
(xs, ys), (xt, yt) = moons(600, rng), moons(600, rng, degrees=35)
source = tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(600, seed=0).batch(64)
target = tf.data.Dataset.from_tensor_slices(xt).shuffle(600, seed=0).batch(64)
for method in ("source only", "dann"):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(64, activation="relu")(keras.layers.Dense(64, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    if method == "dann":
        kerastl.adapt(model, source, target, method="dann", epochs=60, learning_rate=3e-2)
    else:
        model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
        model.fit(source, epochs=60, verbose=0)
    print(f"{method}: target accuracy {(model.predict(xt, verbose=0).argmax(1) == yt).mean():.3f}")
