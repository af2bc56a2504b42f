import keras
import numpy as np
import pytest

import kerastl
from kerastl.freeze import block_layers

X = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype("float32")
Y = np.array([0, 1, 2, 0])


def lite0():
    return kerastl.build("efficientnet_lite0", num_classes=3, input_shape=(64, 64, 3))


def test_lite0_blocks_follow_keras_applications_names():
    assert kerastl.blocks(lite0()) == ["stem"] + [f"block{i}" for i in range(1, 8)] + ["top"]


@pytest.mark.parametrize("last, trainable", [(1, {"top"}), (3, {"block6", "block7", "top"}), ("block7", {"block7", "top"})])
def test_unfreeze_last_blocks_makes_exactly_their_non_bn_variables_trainable(last, trainable):
    model = kerastl.unfreeze(lite0(), last)
    expected = {
        v.path for name, layers in block_layers(model).items() if name in trainable
        for layer in layers if not isinstance(layer, keras.layers.BatchNormalization) for v in layer.trainable_weights
    } | {"predictions/kernel", "predictions/bias"}
    assert {v.path for v in model.trainable_weights} == expected


def test_freeze_upto_a_block_and_errors():
    model = kerastl.freeze(lite0(), upto="block5")
    layers = {v.path.split("/")[0] for v in model.trainable_weights}
    assert layers and all(name.startswith(("block6", "block7", "top", "predictions")) for name in layers)
    with pytest.raises(kerastl.InvalidArgumentError, match="not a block"):
        kerastl.freeze(model, upto="block99")
    with pytest.raises(kerastl.InvalidArgumentError, match="out of range"):
        kerastl.unfreeze(model, 42)


def test_batchnorm_statistics_stay_fixed_while_fine_tuning():
    model = kerastl.unfreeze(lite0(), "all")
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    bns = [l for l in model.get_layer("efficientnet_lite0").layers if isinstance(l, keras.layers.BatchNormalization)]
    before = [v.numpy().copy() for l in bns for v in (l.moving_mean, l.moving_variance)]
    kernel = model.get_layer("efficientnet_lite0").get_layer("top_conv").kernel.numpy().copy()
    model.fit(X, Y, epochs=1, batch_size=4, verbose=0)
    after = [v.numpy() for l in bns for v in (l.moving_mean, l.moving_variance)]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert np.abs(model.get_layer("efficientnet_lite0").get_layer("top_conv").kernel.numpy() - kernel).max() > 0


def test_train_bn_opt_out_updates_statistics():
    model = kerastl.unfreeze(lite0(), 1, train_bn=True)
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    bn = model.get_layer("efficientnet_lite0").get_layer("top_bn")
    before = bn.moving_mean.numpy().copy()
    model.fit(X, Y, epochs=1, batch_size=4, verbose=0)
    assert np.abs(bn.moving_mean.numpy() - before).max() > 0


def test_model_without_zoo_backbone_is_rejected():
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(kerastl.InvalidArgumentError, match="no zoo backbone"):
        kerastl.blocks(plain)


@pytest.fixture(scope="module")
def tiny_vit_preset(tmp_path_factory):
    """A 2-layer ViT saved as a local KerasHub preset (random weights: this tests the mechanism)."""
    import keras_hub

    keras.utils.set_random_seed(0)
    vit = keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
    )
    path = tmp_path_factory.mktemp("presets") / "tiny_vit"
    vit.save_to_preset(str(path))
    return str(path)


def test_lora_trains_only_adapters_and_head(tiny_vit_preset):
    model = kerastl.build(tiny_vit_preset, num_classes=3, freeze="lora", lora_rank=2, learning_rate=1e-2)
    assert kerastl.blocks(model) == ["stem", "transformer_block_1", "transformer_block_2"]
    trainable = {v.path for v in model.trainable_weights}
    # 2 layers x (query, value) x (A, B) adapters, the query/value biases (KerasHub keeps them
    # trainable) and the head's kernel and bias; every other weight frozen.
    assert sum("lora_kernel" in p for p in trainable) == 8
    assert {p for p in trainable if "lora_kernel" not in p} == {
        f"vit_encoder/transformer_block_{i}/mha/{qv}/bias" for i in (1, 2) for qv in ("query", "value")
    } | {"predictions/kernel", "predictions/bias"}
    frozen = {v.path: v.numpy() for v in model.non_trainable_weights}
    adapters_b = {v.path: v.numpy() for v in model.trainable_weights if "lora_kernel_b" in v.path}
    assert all(not b.any() for b in adapters_b.values())  # LoRA starts as the identity update
    x = np.random.default_rng(0).uniform(0, 255, (6, 32, 32, 3)).astype("float32")
    model.fit(x, np.array([0, 1, 2, 0, 1, 2]), epochs=2, verbose=0)
    assert all(np.array_equal(v.numpy(), frozen[v.path]) for v in model.non_trainable_weights)
    assert all(np.abs(v.numpy()).max() > 0 for v in model.trainable_weights if "lora_kernel_b" in v.path)


def test_lora_errors_name_the_fix(tiny_vit_preset):
    with pytest.raises(kerastl.InvalidArgumentError, match="needs a KerasHub backbone"):
        kerastl.build("mobilenet_v2", num_classes=3, weights=None, input_shape=(32, 32, 3), freeze="lora")
    with pytest.raises(kerastl.InvalidArgumentError, match="rank must be a positive int"):
        kerastl.build(tiny_vit_preset, num_classes=3, freeze="lora", lora_rank=0)
