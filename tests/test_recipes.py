import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastl
from kerastl.train.layerwise import layer_decay_multipliers, with_layerwise_lr
from kerastl.train.recipes import selection
from tests.conftest import SIGN_DIGITS, load_images, requires_shared, sign_digit_files

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


def test_selection_keeps_phase_1_until_an_epoch_beats_it():
    histories = {"head": {"val_accuracy": [0.5, 0.7]}, "fine_tune": {"val_accuracy": [0.6, 0.8, 0.8, 0.75]}}
    assert selection(histories) == ("fine_tune", 2, 0.8, "val_accuracy")
    assert selection({"head": {"val_accuracy": [0.7]}, "fine_tune": {"val_accuracy": [0.7, 0.6]}})[:2] == ("head", 1)
    assert selection({"head": {"val_loss": [0.3]}, "fine_tune": {"val_loss": [0.2, 0.4]}})[:2] == ("fine_tune", 1)


@pytest.mark.e2e
@requires_shared(SIGN_DIGITS)
def test_a_harmful_phase_2_never_replaces_the_phase_1_model():
    train, held_out = sign_digit_files(per_class=10, held_out=100)
    (x, y), (xh, yh) = load_images(train, 64), load_images(held_out, 64)
    keras.utils.set_random_seed(0)
    model = kerastl.build("efficientnet_lite0", 10, input_shape=(64, 64, 3))
    histories = kerastl.fine_tune(
        model, tf.data.Dataset.from_tensor_slices((x, y)).batch(32), tf.data.Dataset.from_tensor_slices((xh, yh)).batch(50),
        head_epochs=10, fine_tune_epochs=2, learning_rate=1e-3, fine_tune_lr_factor=100.0, verbose=0)  # Adam at lr 0.1
    phase_1 = histories["head"]["val_accuracy"][-1]
    assert phase_1 > 0.3 and max(histories["fine_tune"]["val_accuracy"]) < phase_1  # phase 2 did harm
    assert selection(histories)[:2] == ("head", 10)
    assert float((model.predict(xh, verbose=0).argmax(-1) == yh).mean()) == pytest.approx(phase_1, abs=1e-6)


def test_augmentation_draws_new_crops_each_pass_and_keeps_pixels_and_labels():
    from kerastl.data.augment import augmented, augmenter

    images = np.broadcast_to(np.linspace(0, 255, 64, dtype="float32")[None, :, None], (64, 64, 3))  # a ramp
    ds = augmented(tf.data.Dataset.from_tensor_slices((np.stack([images] * 4), Y)).batch(4), "crop")
    (a, ya), (b, _) = next(iter(ds)), next(iter(ds))
    assert a.shape == (4, 64, 64, 3) and ya.numpy().tolist() == Y.tolist()
    assert float(tf.reduce_min(a)) >= 0 and float(tf.reduce_max(a)) <= 255
    assert not np.allclose(a, images) and not np.allclose(a, b)  # changed, and anew on every pass
    flipped = augmenter("crop_flip").layers
    assert [type(layer).__name__ for layer in flipped] == ["RandomZoom", "RandomTranslation", "RandomFlip"]
    assert augmented(ds, "none") is ds
    with pytest.raises(kerastl.InvalidArgumentError, match="augment must be one of"):
        augmenter("rotate")


def test_label_smoothing_adamw_and_cosine_schedule_in_the_recipe(monkeypatch):
    from kerastl.heads import SmoothedSparseCrossentropy
    from kerastl.train import feature_cache

    seen = {}
    extract, loss_of = feature_cache.extract, feature_cache.loss_of
    monkeypatch.setattr(feature_cache, "extract", lambda *a, **k: seen.setdefault("rows", extract(*a, **k)))
    monkeypatch.setattr(feature_cache, "loss_of", lambda *a: seen.setdefault("head_loss", loss_of(*a)))

    smoothed = SmoothedSparseCrossentropy(0.1)
    probabilities = np.array([[0.98, 0.01, 0.01]], "float32")
    plain = float(keras.losses.sparse_categorical_crossentropy(np.array([0]), probabilities)[0])
    assert float(smoothed(np.array([0]), probabilities)) > plain  # confident and right still costs something
    expected = -(0.1 / 3 * np.log([0.98, 0.01, 0.01]).sum() + 0.9 * np.log(0.98))
    assert float(smoothed(np.array([0]), probabilities)) == pytest.approx(expected, rel=1e-4)
    model = lite0()
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(2)  # 2 steps an epoch: 10 in phase 2
    kerastl.fine_tune(model, ds, head_epochs=1, fine_tune_epochs=5, unfreeze_blocks=1, augment="crop", views=2,
                      label_smoothing=0.1, weight_decay=0.01, schedule="cosine", verbose=0)
    assert len(seen["rows"][1]) == 2 * len(Y)  # phase 1 cached two augmented views of each image
    assert seen["head_loss"].label_smoothing == 0.1  # and trained the head on smoothed targets
    optimizer = model.optimizer
    assert type(optimizer).__name__ == "AdamW" and optimizer.weight_decay == 0.01
    assert isinstance(model.loss, SmoothedSparseCrossentropy) and model.loss.label_smoothing == 0.1
    schedule = keras.optimizers.schedules.deserialize(optimizer.get_config()["learning_rate"])
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert [round(float(schedule(step)), 7) for step in (0, 1, 10)] == [0.0, 1e-4, 0.0]  # warm-up 1 step, then decay
    assert int(optimizer.iterations) == 10 and float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(kerastl.InvalidArgumentError, match="schedule must be one of"):
        kerastl.fine_tune(model, ds, schedule="step", verbose=0)


def test_augmentation_is_refused_where_it_would_break_the_targets():
    segmenter = kerastl.build("efficientnet_lite0", 3, task="segmentation", input_shape=(64, 64, 3))
    masks = tf.data.Dataset.from_tensor_slices((X, np.zeros((4, 64, 64), "int32"))).batch(2)
    with pytest.raises(kerastl.InvalidArgumentError, match="segmentation model .* pass augment='none'"):
        kerastl.fine_tune(segmenter, masks, augment="crop", verbose=0)
    with pytest.raises(kerastl.InvalidArgumentError, match="augment must be one of"):
        kerastl.fine_tune(segmenter, masks, augment="rotate", verbose=0)
