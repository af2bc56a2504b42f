import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastl
from kerastl.train.layerwise import layer_decay_multipliers, with_layerwise_lr

X = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype("float32")
Y = np.array([0, 1, 2, 0])


def lite0(dropout=0.2):
    return kerastl.build("efficientnet_lite0", num_classes=3, input_shape=(64, 64, 3), dropout=dropout)


def test_layer_decay_multipliers_fall_by_block():
    model = lite0()
    m = layer_decay_multipliers(model, 0.5)
    assert m["top_conv/kernel"] == 1.0
    assert m["block7a_project_conv/kernel"] == 0.5 and m["block6a_expand_conv/kernel"] == 0.25
    assert m["stem_conv/kernel"] == 0.5 ** 8 and "predictions/kernel" not in m
    with pytest.raises(kerastl.InvalidArgumentError, match="layer decay"):
        layer_decay_multipliers(model, 0.0)


def test_layerwise_lr_scales_each_variables_actual_update():
    model = kerastl.unfreeze(lite0(dropout=0), 3)  # no dropout: the tape and the step see one graph
    multipliers = layer_decay_multipliers(model, 0.5)
    optimizer = with_layerwise_lr(keras.optimizers.SGD(0.1), multipliers)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    variables = model.trainable_variables
    before = [v.numpy().copy() for v in variables]
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(Y, model(X, training=True))
        loss = tf.reduce_mean(loss)
    grads = tape.gradient(loss, variables)
    model.train_on_batch(X, Y)
    checked = set()
    for v, b, g in zip(variables, before, grads):
        scale = multipliers.get(v.path, 1.0)
        np.testing.assert_allclose(v.numpy() - b, -0.1 * scale * g.numpy(), atol=1e-6, rtol=1e-3)
        checked.add(scale)
    assert checked == {1.0, 0.5, 0.25}  # head/top, block7, block6 really got different rates


def test_gradual_recipe_unfreezes_one_more_block_per_stage():
    model = lite0()
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)
    histories = kerastl.fine_tune(model, ds, ds, recipe="gradual", head_epochs=1, fine_tune_epochs=1,
                                  unfreeze_blocks=2, verbose=0)
    assert len(histories["fine_tune"]["loss"]) == 2
    trainable = {v.path.split("/")[0] for v in model.trainable_weights}
    assert any(n.startswith("block7") for n in trainable) and not any(n.startswith("block6") for n in trainable)
    kerastl.fine_tune(model, ds, recipe="two_phase", head_epochs=1, fine_tune_epochs=1, layer_decay=0.5, verbose=0)
    assert type(model.optimizer).__name__ == "LayerwiseLRAdam"
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-4)
    with pytest.raises(kerastl.InvalidArgumentError, match="unknown recipe"):
        kerastl.fine_tune(model, ds, recipe="nope")
