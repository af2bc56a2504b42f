import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerastl
from tests.conftest import ROOT, SHARED, requires_shared

PRESET = SHARED / "presets" / "efficientnet_lite0_imagenet"
X64 = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")


def small(name="mobilenetv2", **kwargs):
    kwargs.setdefault("weights", None)
    return kerastl.build(name, num_classes=4, input_shape=(64, 64, 3), **kwargs)


@pytest.mark.parametrize("bad", [0, -3, 1, 2.0, "5", None, True])
def test_num_classes_must_be_an_int_of_at_least_two(bad):
    with pytest.raises(kerastl.InvalidArgumentError, match="num_classes must be an int >= 2"):
        kerastl.build("mobilenetv2", num_classes=bad, weights=None)


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": (64, 64)}, "input_shape"),
    ({"input_shape": (64, 64, 1)}, "input_shape"),
    ({"input_shape": (16, 16, 3)}, ">= 32"),
    ({"dropout": 1.0}, "dropout"),
    ({"learning_rate": -1}, "learning_rate"),
    ({"task": "segmentation_typo"}, "unknown task"),
    ({"weights": "/no/such/file.h5"}, "expected None"),
    ({"weights": 3}, "weights must be"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(kerastl.InvalidArgumentError, match=message):
        kerastl.build("mobilenetv2", num_classes=3, **{"weights": None, **kwargs})


def test_model_takes_raw_pixels_and_returns_float32_probabilities():
    model = small()
    assert model.inputs[0].shape[1:] == (64, 64, 3)
    y = model.predict(X64, verbose=0)
    assert y.shape == (2, 4) and y.dtype == np.float32
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    assert model.optimizer is not None and model.loss == "sparse_categorical_crossentropy"


def test_freeze_true_trains_only_the_head():
    model = small()
    assert [w.path for w in model.trainable_weights] == ["predictions/kernel", "predictions/bias"]
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
    unfrozen = small(freeze=False)
    bn = [w for w in unfrozen.trainable_weights if "bn" in w.path.lower() or "batch" in w.path.lower()]
    assert len(unfrozen.trainable_weights) > 50 and bn == []
    assert float(unfrozen.optimizer.learning_rate.numpy()) == pytest.approx(1e-4)


def test_full_model_weights_file_round_trip(tmp_path):
    model = small()
    model.get_layer("predictions").set_weights(
        [np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in model.get_layer("predictions").weights])
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    again = small(weights=path)
    np.testing.assert_array_equal(again.predict(X64, verbose=0), model.predict(X64, verbose=0))


def test_backbone_only_weights_file_round_trip(tmp_path):
    model = small()
    backbone = model.get_layer("mobilenetv2")
    path = tmp_path / "backbone.weights.h5"
    backbone.save_weights(path)
    again = small(weights=path)
    np.testing.assert_array_equal(again.get_layer("mobilenetv2").predict(X64, verbose=0),
                                  backbone.predict(X64, verbose=0))


def test_mismatched_weights_file_is_a_clear_error(tmp_path):
    path = tmp_path / "other.weights.h5"
    small("vgg16").save_weights(path)
    with pytest.raises(kerastl.InvalidArgumentError, match="matches neither the backbone nor the whole model"):
        small(weights=path)


OFFLINE = """
import kerastl
for name, weights in {cases!r}:
    print("CASE", name, weights)
    try:
        kerastl.build(name, num_classes=3, input_shape=(96, 96, 3), weights=weights)
    except kerastl.WeightsUnavailableError as e:
        print("CAUSE", e.__cause__, e.__suppress_context__)
        print(e)
"""
OFFLINE_CASES = [("mobilenetv2", "imagenet"), ("resnet_18_imagenet", "imagenet"), ("resnet_18_imagenet", None)]


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """(the downloads' cache directory, {"NAME WEIGHTS": what building it printed}) for OFFLINE_CASES, built
    in one process where a proxy on a closed loopback port makes every download fail at once, network or not."""
    home = tmp_path_factory.mktemp("offline")
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "KERAS_HOME": str(home), "KAGGLEHUB_CACHE": str(home), "HF_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", OFFLINE.format(cases=OFFLINE_CASES)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert "Traceback" not in out.stdout, out.stdout
    return home, dict(case.split("\n", 1) for case in out.stdout.split("CASE ")[1:])


def test_offline_imagenet_download_is_a_clear_error(offline):
    home, printed = offline
    out = printed["mobilenetv2 imagenet"]
    assert "CAUSE None True" in out
    assert "could not download the 'imagenet' weights of backbone 'mobilenetv2'" in out
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5" in out
    assert f"{home}/models/mobilenet_v2" in out and "weights='/path/to/" in out


@pytest.mark.parametrize("weights", ["imagenet", None])
def test_offline_keras_hub_preset_is_a_clear_error(offline, weights):
    out = offline[1][f"resnet_18_imagenet {weights}"]  # weights=None still needs the preset's config
    assert "CAUSE None True" in out
    assert f"could not download the {weights or 'config'!r} weights of backbone 'resnet_18_imagenet'" in out
    assert "save_to_preset('DIR')" in out and "kerastl.build('DIR')" in out


@requires_shared(PRESET)
def test_keras_hub_preset_directory_builds_offline():
    model = kerastl.build(str(PRESET), num_classes=3, input_shape=(64, 64, 3))
    assert kerastl.blocks(model)[:3] == ["stem", "block1", "block2"]
    assert model.predict(X64, verbose=0).shape == (2, 3)
    with pytest.raises(kerastl.InvalidArgumentError, match="not a KerasHub backbone"):
        kerastl.build("mobilenetv2", num_classes=3, weights=str(PRESET))


@pytest.mark.parametrize("variant", ["lite0", "lite1", "lite2"])
def test_shipped_efficientnet_lite_files_match_the_pytorch_reference(variant):
    """Logits of zoo/provenance/efficientnet_lite/dump_lite_torch.py's 4 fixed inputs, from PyTorch."""
    from kerastl.zoo.local import ASSETS

    model = keras.models.load_model(ASSETS / f"efficientnet_{variant}_imagenet.keras", compile=False)
    size = model.input_shape[1]
    assert size == {"lite0": 224, "lite1": 240, "lite2": 260}[variant] == kerastl.info(f"efficientnet_{variant}")["input_size"]
    x = np.random.RandomState(0).uniform(-1, 1, (4, 3, size, size)).astype("float32")
    logits = model.predict(np.transpose(x, (0, 2, 3, 1)) * 128 + 127, verbose=0)  # raw pixels in
    reference = np.load(ROOT / "tests" / "data" / "efficientnet_lite_torch_logits.npz")[variant]
    np.testing.assert_allclose(logits, reference, atol=1e-4)


def test_lite1_and_lite2_build_offline_and_see_real_photos_as_lite0_does():
    from kerastl.data import pixels
    from kerastl.freeze import find_backbone
    from kerastl.zoo.local import ASSETS
    from kerastl.zoo.pyramid import pyramid_layers

    files = sorted((ASSETS / "sign_digits" / "val").rglob("*.JPG"))[::10][:20]
    top = {}
    for variant in ("lite0", "lite1", "lite2"):
        model = kerastl.build(f"efficientnet_{variant}", 10)  # no network here: the shipped weights
        size = model.input_shape[1]
        _, backbone = find_backbone(model)
        assert list(pyramid_layers(kerastl.zoo.get(f"efficientnet_{variant}"), backbone)) == [1, 2, 3, 4, 5]
        assert kerastl.blocks(model)[:3] == ["stem", "block1", "block2"] and kerastl.blocks(model)[-1] == "top"
        classifier = keras.models.load_model(ASSETS / f"efficientnet_{variant}_imagenet.keras", compile=False)
        x = pixels.files(files, (size, size)).batch(len(files)).get_single_element().numpy()
        top[variant] = np.argsort(-classifier.predict(x, verbose=0), axis=1)[:, :5]
    # ImageNet has no hand signs, but three correctly loaded networks see the same thing in them
    for variant in ("lite1", "lite2"):
        assert np.mean([top["lite0"][i, 0] in top[variant][i] for i in range(len(files))]) >= 0.8


@requires_shared(PRESET)
def test_preset_dir_and_shipped_lite0_compute_the_same_features():
    x = np.random.default_rng(2).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    ours = kerastl.build("efficientnet_lite0", num_classes=3)
    hub = kerastl.build(str(PRESET), num_classes=3)
    features = [keras.Model(m.inputs, m.get_layer("avg_pool").output).predict(x, verbose=0) for m in (ours, hub)]
    assert np.abs(features[0]).max() > 0.1
    np.testing.assert_allclose(features[0], features[1], atol=1e-4)


def test_built_model_saves_and_reloads_with_identical_outputs(tmp_path):
    model = small("resnet50")  # contains kerastl's ReverseChannels layer (Caffe preprocessing)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.predict(X64, verbose=0), model.predict(X64, verbose=0))
