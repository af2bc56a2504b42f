import inspect
import re

import keras
import numpy as np
import pytest

import kerastl
from kerastl.freeze import _units, block_layers, find_backbone
from kerastl.zoo import applications, get, list_backbones, register
from kerastl.zoo.applications import MODELS, ZOO_NAMES

APP_NAMES = [ZOO_NAMES.get(a, a.lower()) for a in MODELS]


def test_every_keras_application_is_in_the_zoo():
    in_keras = {n for n, o in inspect.getmembers(keras.applications) if inspect.isfunction(o) and n[0].isupper()}
    assert len(in_keras) == 40
    assert set(MODELS) == in_keras
    assert set(APP_NAMES) <= set(list_backbones(source="keras.applications"))


@pytest.fixture
def zero_initialised(monkeypatch):
    """Random initialisers draw zeros: the family tests check structure, and drawing the random weights of
    the large families (EfficientNetV2-L, NASNetLarge, ConvNeXt-XLarge) took a third to a half of their build."""
    from keras.src.initializers.random_initializers import RandomInitializer

    def subclasses(cls):
        return [cls] + [c for sub in cls.__subclasses__() for c in subclasses(sub)]

    for cls in subclasses(RandomInitializer):
        monkeypatch.setattr(cls, "__call__", lambda self, shape, dtype=None: keras.ops.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("name", APP_NAMES)
def test_each_family_builds_through_the_registry(name, zero_initialised):
    spec = get(name)
    size = spec.min_size
    model = kerastl.build(name, num_classes=3, weights=None, input_shape=(size, size, 3), compile=False)
    x = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x))
    assert y.shape == (2, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    blocks = block_layers(model)
    assert len(blocks) >= 5, list(blocks)
    # every layer that holds weights belongs to exactly one block
    weighted = {id(layer) for layer in get_backbone_leaves(model) if layer.weights}
    assigned = [id(layer) for layers in blocks.values() for layer in layers if layer.weights]
    assert sorted(assigned) == sorted(weighted)


def get_backbone_leaves(model):
    spec, backbone = find_backbone(model)
    return _units(backbone, re.compile(spec.block_pattern))


@pytest.mark.parametrize("alias, name", [
    ("efficientnet", "efficientnetb0"), ("resnet", "resnet50"), ("mobilenet", "mobilenetv2"),
    ("efficientnet_lite", "efficientnet_lite0"), ("EfficientNet-Lite0", "efficientnet_lite0"),
    ("MobileNet_V1", "mobilenet_v1"), ("ResNet50", "resnet50"),
])
def test_aliases_and_spelling_variants(alias, name):
    assert get(alias).name == name


def test_unknown_name_suggests_close_names():
    with pytest.raises(kerastl.UnknownBackboneError, match=r"Did you mean 'efficientnet'"):
        kerastl.build("efficentnet", num_classes=3)
    with pytest.raises(kerastl.UnknownBackboneError, match="list_backbones"):
        get("zzzz_no_such_net")


def test_alias_may_not_hide_an_entry():
    with pytest.raises(ValueError, match="hide"):
        register(get("resnet50"), aliases=("vgg16",))


def test_list_backbones_wildcards_and_sources():
    assert list_backbones("resnet*", source="keras.applications") == [
        "resnet101", "resnet101v2", "resnet152", "resnet152v2", "resnet50", "resnet50v2"]
    assert list_backbones(source="kerastl") == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    hub = list_backbones(source="keras_hub")
    assert "resnet_50_imagenet" in hub and "efficientnet_b0_ra_imagenet" in hub


def test_info_describes_the_spec():
    info = kerastl.info("resnet")
    assert info["name"] == "resnet50" and info["input_size"] == 224
    assert info["preprocessing"]["reverse_channels"] is True  # Caffe mode: BGR + mean
    assert kerastl.info("inception")["input_size"] == 299
    assert kerastl.info("efficientnet_lite0")["preprocessing"] == "inside the network"


@pytest.mark.parametrize("mode, pixel, expected", [
    (applications.TF, [0.0, 127.5, 255.0], [-1.0, 0.0, 1.0]),
    (applications.CAFFE, [10.0, 20.0, 30.0], [30 - 103.939, 20 - 116.779, 10 - 123.68]),
    (applications.TORCH, [0.485 * 255, 0.456 * 255, 0.406 * 255], [0.0, 0.0, 0.0]),
])
def test_preprocessing_layers_match_keras_preprocess_input(mode, pixel, expected):
    x = np.array(pixel, dtype="float32").reshape(1, 1, 1, 3)
    for layer in mode.layers():
        x = layer(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(x).ravel(), expected, atol=1e-4)


def test_caffe_preprocessing_equals_keras_resnet_preprocess_input():
    x = np.random.default_rng(1).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    ours = x
    for layer in applications.CAFFE.layers():
        ours = layer(ours)
    reference = keras.applications.resnet.preprocess_input(x.copy())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours), reference, atol=1e-4)
