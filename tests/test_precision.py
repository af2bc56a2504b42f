import keras
import numpy as np
import pytest

import kerastl

X = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
Y = np.array([0, 1, 2, 0])


@pytest.mark.parametrize("name", ["efficientnet_lite0", "mobilenet_v2"])
@pytest.mark.parametrize("precision, compute", [("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")])
def test_mixed_precision_is_per_model_with_float32_variables_and_outputs(name, precision, compute):
    weights = "imagenet" if name == "efficientnet_lite0" else None
    model = kerastl.build(name, num_classes=3, weights=weights, input_shape=(32, 32, 3), freeze=False,
                          precision=precision)
    assert keras.config.dtype_policy().name == "float32"  # nothing leaks into the next build
    backbone = model.layers[1]
    convs = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(layer.compute_dtype == compute for layer in convs)
    assert {v.dtype for v in model.weights} == {"float32"}
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert model.predict(X, verbose=0).dtype == np.float32
    loss = model.train_on_batch(X, Y, return_dict=True)["loss"]
    assert np.isfinite(loss)
    assert (type(model.optimizer).__name__ == "LossScaleOptimizer") == (precision == "mixed_float16")
    assert kerastl.build(name, num_classes=3, weights=None, input_shape=(32, 32, 3)).layers[1].compute_dtype == "float32"


def test_unknown_precision_is_a_typed_error():
    with pytest.raises(kerastl.InvalidArgumentError, match="precision must be one of"):
        kerastl.build("mobilenet_v2", num_classes=3, weights=None, input_shape=(32, 32, 3), precision="fp8")
