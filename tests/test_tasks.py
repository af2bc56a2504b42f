import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastl
from kerastl.train import fit_head

X = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
TARGETS = {
    "classification": np.array([0, 1, 2, 0, 1, 2, 0, 1]),
    "multi_label": np.random.default_rng(1).integers(0, 2, (8, 3)).astype("float32"),
    "regression": np.random.default_rng(2).normal(size=(8, 3)).astype("float32"),
}


@pytest.mark.parametrize("task, loss, metrics, activation", [
    ("classification", "sparse_categorical_crossentropy", {"accuracy"}, "softmax"),
    ("multi_label", "binary_crossentropy", {"accuracy", "auc", "precision", "recall"}, "sigmoid"),
    ("regression", "mse", {"mae"}, "linear"),
])
def test_task_heads_train_save_and_reload(task, loss, metrics, activation, tmp_path):
    model = kerastl.build("efficientnet_lite0", num_classes=3, task=task, input_shape=(32, 32, 3))
    assert model.loss == loss and model.output_names[0] == kerastl.heads.TASKS[task].output
    assert model.layers[-1].get_config()["activation"] == activation
    logs = model.fit(X, TARGETS[task], epochs=2, batch_size=4, verbose=0).history
    assert metrics <= set(logs) and np.isfinite(logs["loss"]).all()
    fit_head(model, tf.data.Dataset.from_tensor_slices((X, TARGETS[task])).batch(4), epochs=2)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    if task == "multi_label":
        assert ((model.predict(X, verbose=0) > 0) & (model.predict(X, verbose=0) < 1)).all()


def test_task_errors():
    with pytest.raises(kerastl.InvalidArgumentError, match="num_classes must be an int >= 2 for classification"):
        kerastl.build("mobilenet_v2", num_classes=1, weights=None, input_shape=(32, 32, 3))
    model = kerastl.build("mobilenet_v2", num_classes=1, task="regression", weights=None, input_shape=(32, 32, 3))
    with pytest.raises(kerastl.InvalidArgumentError, match="export supports classification models today"):
        kerastl.export(model, "unused", verify_data=X)
    with pytest.raises(kerastl.InvalidArgumentError, match="unknown task"):
        kerastl.build("mobilenet_v2", num_classes=3, task="segmentation", weights=None)
