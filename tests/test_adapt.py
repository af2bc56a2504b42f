"""Domain adaptation: the reversal layer's gradient, and DANN on a small synthetic shift."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastl
from kerastl.adapt import coral_loss
from kerastl.layers import GradientReversal


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_gradient_reversal_is_identity_forward_and_minus_lambda_backward(weight):
    layer = GradientReversal(weight)
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 5)).astype("float32"))
    upstream = tf.constant(np.random.default_rng(1).normal(size=(4, 5)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=upstream).numpy(), -weight * upstream.numpy())


def test_coral_loss_is_zero_for_equal_covariances_and_grows_with_the_gap():
    x = tf.constant(np.random.default_rng(0).normal(size=(64, 3)).astype("float32"))
    assert float(coral_loss(x, x + 5.0)) == pytest.approx(0.0, abs=1e-5)  # a shift leaves covariances equal
    assert float(coral_loss(x, 3.0 * x)) > float(coral_loss(x, 1.5 * x)) > 0


def _moons(n, rng, degrees=0.0):
    t, y = rng.uniform(0, np.pi, n), rng.integers(0, 2, n)
    x = np.where(y[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    a = np.deg2rad(degrees)
    x = (x + rng.normal(0, 0.1, x.shape)) @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T
    return x.astype("float32"), y


def test_dann_beats_source_only_on_rotated_moons():
    """Source: two moons; target: the same distribution rotated 35°, labels used only to score."""
    accuracy = {"source_only": [], "dann": []}
    for seed in range(3):
        rng = np.random.default_rng(seed)
        (xs, ys), (xt, yt) = _moons(600, rng), _moons(600, rng, degrees=35)
        # the shuffle order also depends on the global seed when the dataset is made: set here, not by earlier tests
        keras.utils.set_random_seed(seed)
        source = tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(600, seed=seed).batch(64)
        for method in accuracy:
            keras.utils.set_random_seed(seed)
            inputs = keras.Input((2,))
            hidden = keras.layers.Dense(64, activation="relu")(keras.layers.Dense(64, activation="relu")(inputs))
            model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
            if method == "dann":
                target = tf.data.Dataset.from_tensor_slices(xt).shuffle(600, seed=seed).batch(64)
                history = kerastl.adapt(model, source, target, method="dann", epochs=60, learning_rate=3e-2)
                assert {"task_loss", "dann_loss"} <= set(history.history)
            else:
                model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
                model.fit(source, epochs=60, verbose=0)
            accuracy[method].append(float((model.predict(xt, verbose=0).argmax(1) == yt).mean()))
    # measured: source-only 0.645, 0.673, 0.615; DANN (SGD, lr 0.03) 0.865-0.878, 0.827, 0.812 (before the source
    # order was seeded here: 0.59-0.81, by the tests that ran before in the same process)
    assert np.mean(accuracy["dann"]) >= np.mean(accuracy["source_only"]) + 0.05, accuracy


def test_adapt_keeps_the_epoch_of_lowest_source_validation_loss():
    rng = np.random.default_rng(0)
    (xs, ys), (xv, yv), (xt, _) = _moons(300, rng), _moons(200, rng), _moons(300, rng, degrees=35)
    source = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(64)
    validation = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(64)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Dense(16, activation="relu")(inputs)))
    history = kerastl.adapt(model, source, tf.data.Dataset.from_tensor_slices(xt).batch(64), method="dann",
                            epochs=8, learning_rate=0.3, weight=3.0, validation=validation).history
    losses = history["val_task_loss"]
    assert len(losses) == 8 and len(history["val_accuracy"]) == 8
    assert np.argmin(losses) < 7, losses  # else keeping the best epoch and the last are the same thing
    kept = keras.losses.SparseCategoricalCrossentropy()(yv, model.predict(xv, verbose=0))
    assert float(kept) == pytest.approx(min(losses), rel=1e-4)


def test_adapt_errors():
    model = kerastl.build("mobilenet_v2", num_classes=3, weights=None, input_shape=(32, 32, 3))
    images = tf.data.Dataset.from_tensor_slices((np.zeros((4, 32, 32, 3), "float32"), np.zeros(4))).batch(2)
    with pytest.raises(kerastl.InvalidArgumentError, match="method must be one of"):
        kerastl.adapt(model, images, images, method="mmd")
    with pytest.raises(kerastl.InvalidArgumentError, match="validation must be a non-empty batched dataset"):
        kerastl.adapt(model, images, images, validation=images.map(lambda x, y: x))
    with pytest.raises(kerastl.InvalidArgumentError, match="validation must be a non-empty batched dataset"):
        kerastl.adapt(model, images, images, validation=images.take(0))
    with pytest.raises(kerastl.InvalidArgumentError, match="unfreeze some blocks first"):
        kerastl.freeze(model)
        model.get_layer("predictions").trainable = False
        kerastl.adapt(model, images, images)
    regression = kerastl.build("mobilenet_v2", num_classes=2, task="regression", weights=None, input_shape=(32, 32, 3))
    with pytest.raises(kerastl.InvalidArgumentError, match="needs a softmax classifier"):
        kerastl.adapt(regression, images, images)
