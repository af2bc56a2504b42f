"""Exports of a small Lite0 classifier trained on real sign digits: layout, signatures, parity, errors."""
import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastl
from kerastl.export import tflite
from tests.conftest import SIGN_DIGITS, load_images, requires_shared, sign_digit_files

pytestmark = [requires_shared(SIGN_DIGITS), pytest.mark.e2e]
LABELS = [f"digit_{i}" for i in range(10)]
# The 64 px test model has small margins; quantised thresholds are relaxed here (the real bounds are
# checked by bench/export.py and the demo on the full-size model).
RELAXED = {"tflite_fp16": ("max_abs_diff", 0.05), "tflite_dynamic": ("tie_tolerant_agreement", 0.8),
           "tflite_int8": ("tie_tolerant_agreement", 0.8)}


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    train, held = sign_digit_files(per_class=10, held_out=48)
    (x, y), (xh, _) = load_images(train, 64), load_images(held, 64)
    model = kerastl.build("efficientnet_lite0", num_classes=10, input_shape=(64, 64, 3))
    kerastl.fine_tune(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(32), recipe="feature_extraction",
                      head_epochs=60, verbose=0)
    return model, x, xh


@pytest.fixture(scope="module")
def held_files():
    """The held-out photo files of `trained` with their class index."""
    return sign_digit_files(per_class=10, held_out=48)[1]


@pytest.fixture(scope="module")
def exported(trained, held_files, tmp_path_factory):
    model, x, xh = trained
    out = tmp_path_factory.mktemp("exports")
    report = kerastl.export(model, out, name="signs", version=3, labels=LABELS, representative_data=x,
                            verify_data=xh, verify_files=held_files, thresholds=RELAXED)
    return out, out / "signs" / "3", report


@pytest.fixture(scope="module")
def dynamic_exported(trained, held_files, tmp_path_factory):
    """(version directory, report) of the TFLite dynamic-range file, which an export writes only on request."""
    model, x, xh = trained
    out = tmp_path_factory.mktemp("dynamic")
    report = kerastl.export(model, out, ("tflite",), name="signs", labels=LABELS, quantize=("dynamic",),
                            representative_data=x, verify_data=xh, verify_files=held_files, thresholds=RELAXED)
    return out / "signs" / "1", report


@pytest.mark.parametrize("kwargs, message", [
    ({"formats": ("pdf",)}, "formats must be"),
    ({"quantize": ("int4",)}, "quantize must be"),
    ({"formats": ("tflite",), "quantize": ("int8",)}, "int8 needs representative_data"),
    ({"formats": ("onnx",), "version": 0}, "version must be a positive int"),
    ({"formats": ("onnx",), "name": "../x"}, "name must be"),
    ({"formats": ("onnx",), "labels": ["a"]}, "1 labels for a model with 10 outputs"),
    ({"formats": ("onnx",), "verify_data": np.zeros((2, 32, 32, 3))}, r"shape \(n, 64, 64, 3\)"),
    ({"formats": ("onnx",), "verify_data": None}, "pass verify_data"),
    ({"formats": ("onnx",), "thresholds": {"onxx": ("max_abs_diff", 1)}}, "thresholds keys"),
    ({"formats": ("onnx",), "thresholds": {"onnx": ("accuracy", 1)}}, r"measures must be among .*got \['accuracy'\]"),
    ({"formats": ("onnx",), "thresholds": {"mediapipe_fp32": ("max_abs_diff", 1)}}, "MediaPipe end-to-end thresholds"),
])
def test_bad_arguments_are_typed_errors(trained, tmp_path, kwargs, message):
    model, _, xh = trained
    kwargs = {"verify_data": xh, **kwargs}
    formats = kwargs.pop("formats", ("onnx",))
    with pytest.raises(kerastl.InvalidArgumentError, match=message):
        kerastl.export(model, tmp_path, formats, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_layout_and_report(exported, dynamic_exported):
    out, version_dir, report = exported
    assert sorted(p.name for p in out.iterdir()) == ["signs"] and [p.name for p in (out / "signs").iterdir()] == ["3"]
    for path in ["saved_model.pb", "variables/variables.index", "assets.extra/tf_serving_warmup_requests",
                 "onnx/signs.onnx", "labels.txt", "export_report.json",
                 *(f"tflite/signs_{mode}.tflite" for mode in ("fp32", "fp16", "int8"))]:
        assert (version_dir / path).is_file(), path
    assert not (version_dir / "tflite" / "signs_dynamic.tflite").exists()  # only on request
    assert (version_dir / "labels.txt").read_text().split() == LABELS
    assert json.loads((version_dir / "export_report.json").read_text()) == report
    rows = report["artefacts"]
    assert report["images"] == 48 and all(row["passed"] for row in rows.values())
    for fp32 in ("saved_model", "tflite_fp32", "onnx"):
        assert rows[fp32]["max_abs_diff"] <= 1e-4 and rows[fp32]["top1_agreement"] == 1.0
    assert all(d <= 1e-4 for d in rows["saved_model"]["signatures_max_abs_diff"].values())
    sizes = {mode: rows[f"tflite_{mode}"]["size_bytes"] for mode in ("fp32", "fp16", "int8")}
    assert sizes["int8"] < 0.35 * sizes["fp32"] and sizes["fp16"] < 0.55 * sizes["fp32"]
    assert all(row["p50_ms_b1"] > 0 and row["p50_ms_b32"] > 0 for row in rows.values())
    # int8's float ops: the first rule predicted to meet the (relaxed) bound, from the 68 training images
    # that calibrated but did not round kernels (measured: 3.2 disagreements predicted of the 9.6 allowed, 3 seen)
    choice = rows["tflite_int8"]["float_ops"]
    assert choice["float_blocks"] == 1 and choice["probes"] == 68 and len(choice["tried"]) == 1
    assert choice["predicted_to_meet_bound"] and choice["expected_disagreements"] <= (1 - 0.8) * 48
    assert choice["near_tie"] == tflite.NEAR_TIE  # predicted for the measure the bound judges
    # ties excused: never below the plain agreement, judged by the bound
    for row in (rows["tflite_int8"], dynamic_exported[1]["artefacts"]["tflite_dynamic"]):
        assert row["threshold"] == {"tie_tolerant_agreement": 0.8}
        assert row["top1_agreement"] <= row["tie_tolerant_agreement"] and 0.8 <= row["tie_tolerant_agreement"] <= 1.0


def test_saved_model_cli_lists_three_signatures(exported):
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable)) or "saved_model_cli"
    shown = subprocess.run([cli, "show", "--dir", str(exported[1]), "--all"], capture_output=True, text=True,
                           check=True).stdout
    signatures = dict(re.findall(r"signature_def\['(\w+)'\]:(.*?)(?=signature_def\[|\Z)", shown, re.S))
    assert {"serving_default", "serving_uint8", "serving_bytes"} <= set(signatures)
    assert re.search(r"inputs\['image'\].*?dtype: DT_FLOAT.*?shape: \(-1, 64, 64, 3\)", signatures["serving_default"], re.S)
    assert re.search(r"inputs\['image'\].*?dtype: DT_UINT8", signatures["serving_uint8"], re.S)
    assert re.search(r"inputs\['image_bytes'\].*?dtype: DT_STRING.*?shape: \(-1\)", signatures["serving_bytes"], re.S)
    for name in ("serving_default", "serving_uint8", "serving_bytes"):
        assert all(f"outputs['{key}']" in signatures[name] for key in ("probabilities", "class_id", "label"))


def test_served_signatures_and_bad_inputs(trained, exported):
    model, _, xh = trained
    loaded = tf.saved_model.load(str(exported[1]))
    result = loaded.signatures["serving_default"](image=tf.constant(xh[:4]))
    expected = model.predict(xh[:4], verbose=0)
    np.testing.assert_allclose(result["probabilities"].numpy(), expected, atol=1e-5)
    assert [s.decode() for s in result["label"].numpy()] == [LABELS[i] for i in expected.argmax(1)]
    encoded = tf.constant([tf.io.encode_jpeg(tf.cast(img, tf.uint8)).numpy() for img in xh[:2]])
    jpeg = loaded.signatures["serving_bytes"](image_bytes=encoded)
    assert jpeg["class_id"].shape == (2,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        loaded.signatures["serving_bytes"](image_bytes=tf.constant([b"not an image"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[\?,64,64,3\]"):
        loaded.signatures["serving_default"](image=tf.zeros([1, 32, 32, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor but is a int32"):
        loaded.signatures["serving_default"](image=tf.zeros([1, 64, 64, 3], tf.int32))
    for bad in (np.nan, np.inf):  # rejected, not answered with a made-up class
        image = xh[:1].copy()
        image[0, 5, 5, 0] = bad
        with pytest.raises(tf.errors.InvalidArgumentError, match="image pixels must be finite numbers"):
            loaded.signatures["serving_default"](image=tf.constant(image))


def test_warmup_requests_name_the_model(exported):
    from tensorflow_serving.apis import prediction_log_pb2

    records = list(tf.data.TFRecordDataset(str(exported[1] / "assets.extra" / "tf_serving_warmup_requests")))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in records]
    assert [log.predict_log.request.model_spec.name for log in logs] == ["signs", "signs"]
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == ["serving_default", "serving_uint8"]
    assert [tf.make_ndarray(log.predict_log.request.inputs["image"]).shape[0] for log in logs] == [1, 8]


def test_tflite_and_onnx_interfaces(exported):
    import onnx
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter

    int8 = Interpreter(model_path=str(exported[1] / "tflite" / "signs_int8.tflite"))
    assert int8.get_input_details()[0]["dtype"] == np.uint8  # int8 takes uint8 pixels
    tensors = {t["index"]: t for t in int8.get_tensor_details()}
    convolutions = [(tensors[op["inputs"][0]]["dtype"], tensors[op["outputs"][0]]["shape"][1])
                    for op in int8._get_ops_details() if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    # the stem stage (Lite0's first 4 convolutions, at 32 x 32 from 64 px) and block 2a (the downsampling
    # depthwise convolution and its projection, at 16 x 16) in float, int8 from the next one
    assert convolutions[:7] == [(np.float32, 32)] * 4 + [(np.float32, 16)] * 2 + [(np.int8, 16)]
    assert {dtype for dtype, _ in convolutions[7:]} == {np.int8}
    # the head after the last convolution (int8, dequantised) in float: global pooling, classifier, softmax
    ops = [op for op in int8._get_ops_details() if op["op_name"] != "DELEGATE"]
    assert [(op["op_name"], tensors[op["inputs"][0]]["dtype"], tensors[op["outputs"][0]]["dtype"])
            for op in ops[-4:]] == [("DEQUANTIZE", np.int8, np.float32), ("MEAN", np.float32, np.float32),
                                    ("FULLY_CONNECTED", np.float32, np.float32), ("SOFTMAX", np.float32, np.float32)]
    fp32 = Interpreter(model_path=str(exported[1] / "tflite" / "signs_fp32.tflite"))
    assert list(fp32.get_input_details()[0]["shape_signature"]) == [-1, 64, 64, 3]
    path = str(exported[1] / "onnx" / "signs.onnx")
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (image,) = session.get_inputs()
    assert image.name == "image" and image.shape[1:] == [64, 64, 3] and not isinstance(image.shape[0], int)
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    assert max(o.version for o in onnx.load(path).opset_import if o.domain in ("", "ai.onnx")) >= 17


def test_tflite_files_run_end_to_end_in_mediapipe(exported, dynamic_exported, held_files):
    """Each variant (int8 with uint8 input) classifies photo files in MediaPipe Tasks, labels from its metadata."""
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    rows = {**exported[2]["artefacts"], **dynamic_exported[1]["artefacts"]}
    for mode in ("fp32", "fp16", "dynamic", "int8"):
        e2e = rows[f"tflite_{mode}"]["mediapipe"]
        assert e2e["files"] == 48 and e2e["p50_ms"] > 0 and 0.5 < e2e["kerastl_accuracy"] <= 1
        # fp32: MediaPipe gets the pixels kerastl predict does, so every file agrees (the export's bound, 0.99)
        assert e2e["agreement"] >= (0.99 if mode == "fp32" else 0.8), (mode, e2e)
    # MediaPipe's own Python file reader (stb_image) decodes JPEG differently: reported for fp32 only
    assert 0.5 < rows["tflite_fp32"]["mediapipe"]["file_reader_agreement"] <= 1
    assert "file_reader_agreement" not in rows["tflite_int8"]["mediapipe"]
    file, label = held_files[0]
    options = vision.ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=str(exported[1] / "tflite" / "signs_int8.tflite")), max_results=3)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        top = classifier.classify(mp.Image.create_from_file(str(file))).classifications[0].categories
    assert [c.category_name for c in top] == [LABELS[c.index] for c in top] and len(top) == 3
    assert top[0].score > top[1].score >= top[2].score


@pytest.mark.parametrize("size", [(37, 53), (131, 117)])  # down and up from 100 x 100 photos
def test_mediapipe_feeds_a_model_the_pixels_kerastl_trains_on(held_files, tmp_path, size):
    """File -> tensor is bit-identical in kerastl (`pixels.load`) and MediaPipe's ImageClassifier fed the photo
    as libjpeg-turbo (Pillow) decodes it: read back through a model whose class scores are its input pixels."""
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    from kerastl.data import pixels
    from kerastl.export.fresh_process import mediapipe_inputs
    from kerastl.export.metadata import with_metadata

    image = keras.Input((*size, 3))
    identity = keras.Model(image, keras.layers.Flatten()(image))
    count = int(np.prod(identity.output.shape[1:]))
    path = tmp_path / "identity.tflite"
    path.write_bytes(with_metadata(tf.lite.TFLiteConverter.from_keras_model(identity).convert(), task="classification",
                                   name="identity", version=1, description="", labels=[str(i) for i in range(count)]))
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(path)), max_results=-1,
                                            score_threshold=-1.0)
    files = [str(file) for file, _ in held_files[:3]]
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for file, given in zip(files, mediapipe_inputs("image", files)):  # what the export's check feeds MediaPipe
            encoded = tf.io.read_file(file)
            np.testing.assert_array_equal(pixels.decode(encoded).numpy(), given.numpy_view()[..., :3])
            categories = classifier.classify(given).classifications[0].categories
            fed = np.zeros(count, np.float32)
            fed[[c.index for c in categories]] = [c.score for c in categories]
            np.testing.assert_array_equal(fed.reshape(*size, 3), pixels.load(encoded, size).numpy())


def test_tflite_metadata_bad_input_and_a_refused_model(trained, exported, held_files, tmp_path, monkeypatch):
    from kerastl.export.metadata import with_metadata

    plain = (exported[1] / "tflite" / "signs_fp32.tflite").read_bytes()
    with pytest.raises(kerastl.InvalidArgumentError, match="3 labels for a model with 10 output classes"):
        with_metadata(plain, task="classification", name="m", version=1, description="", labels=LABELS[:3])
    with pytest.raises(kerastl.InvalidArgumentError,
                       match="a text_classification model takes neither images nor a waveform"):
        with_metadata(plain, task="text_classification", name="m", version=1, description="", labels=LABELS)
    # Without metadata MediaPipe refuses the file: its own message fails the export, which writes nothing.
    monkeypatch.setattr(importlib.import_module("kerastl.export"), "_metadata", lambda *args: None)
    model, x, xh = trained
    with pytest.raises(kerastl.ExportVerificationError, match="MediaPipe refused tflite_fp32: .*NormalizationOptions"):
        kerastl.export(model, tmp_path, ("tflite",), quantize=("fp32",), labels=LABELS, verify_data=xh,
                       verify_files=held_files[:4])
    assert list(tmp_path.iterdir()) == []


def _feature_error(model, copy, images):
    """Relative RMS error of the copy's pooled features on `images`."""
    features = [keras.Model(m.input, m.get_layer("avg_pool").output).predict(images, verbose=0) for m in (model, copy)]
    return np.sqrt(((features[1] - features[0]) ** 2).mean() / (features[0] ** 2).mean())


def _head_weights(tflite_file, rows: int, columns: int, dtype: type) -> np.ndarray:
    """The (rows, columns) constant stored as `dtype` in a TFLite file, as float32 values."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite_file))
    (head,) = [t for t in interpreter.get_tensor_details()
               if tuple(t["shape"]) == (rows, columns) and t["dtype"] == dtype]
    scales = head["quantization_parameters"]["scales"]
    weights = interpreter.get_tensor(head["index"]).astype(np.float32)
    return weights * scales[:, None] if len(scales) else weights


@pytest.mark.parametrize("grid", ["int8", "fp16"])
def test_kernels_are_rounded_on_real_images_and_kept_by_the_converter(trained, exported, dynamic_exported, grid):
    from kerastl.export import rounding
    from kerastl.export.tflite import ROUNDING_IMAGES

    model, x, xh = trained
    rounded = getattr(rounding, f"{grid}_rounded")
    layer_by_layer = {"sequential": False} if grid == "int8" else {}
    before = [w.numpy().copy() for w in model.weights]
    adaptive, nearest = rounded(model, x[:ROUNDING_IMAGES]), rounded(model, x[:ROUNDING_IMAGES], passes=0,
                                                                     **layer_by_layer)
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, model.weights))  # the model is untouched
    head = adaptive.get_layer("predictions")
    kernel = head.kernel.numpy()
    if grid == "int8":
        steps = kernel / (np.abs(kernel).max(0) / 127)
        assert np.abs(steps - np.round(steps)).max() < 1e-3 and np.allclose(np.abs(steps).max(0), 127)
    else:
        assert all(np.array_equal(w.astype(np.float16).astype(np.float32), w) for w in (kernel, head.bias.numpy()))
        norms = [layer for layer in adaptive._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
        assert norms and all(np.all(bn.gamma.numpy() == 1) and np.all(bn.moving_mean.numpy() == 0) for bn in norms)
    adaptive_error, nearest_error = _feature_error(model, adaptive, xh), _feature_error(model, nearest, xh)
    assert adaptive_error < 0.7 * nearest_error  # measured int8 0.023 vs 0.095
    if grid == "int8":  # rounded layer by layer on the model's own inputs: better than nearest, and beaten by
        # rounding each layer on the rounded layers' outputs with bias correction: measured 0.048
        separate = rounded(model, x[:ROUNDING_IMAGES], sequential=False)
        separate_error = _feature_error(model, separate, xh)
        assert separate_error < 0.7 * nearest_error and adaptive_error < 0.7 * separate_error
        norms = [{bn.name: bn.moving_mean.numpy() for bn in m._flatten_layers()
                  if isinstance(bn, keras.layers.BatchNormalization)} for m in (model, adaptive, separate)]
        moved = [name for name in norms[0] if not np.array_equal(norms[0][name], norms[1][name])]
        assert len(moved) > len(norms[0]) / 2  # the mean errors went there, not in the layer-by-layer copy
        assert all(np.array_equal(norms[0][name], norms[2][name]) for name in norms[0])
    # The exported files hold exactly these kernels: the converter's grid is the same (int8 keeps its head in
    # float, so there the rounded kernel is stored as it is; dynamic stores it in int8).
    for mode, dtype in {"int8": [("dynamic", np.int8), ("int8", np.float32)], "fp16": [("fp16", np.float16)]}[grid]:
        directory = dynamic_exported[0] if mode == "dynamic" else exported[1]
        np.testing.assert_allclose(_head_weights(directory / "tflite" / f"signs_{mode}.tflite", 10, kernel.shape[0],
                                                 dtype), kernel.T, atol=1e-6)


def test_existing_version_is_refused_and_failed_exports_leave_nothing(trained, exported):
    model, x, xh = trained
    out, version_dir, _ = exported
    before = sorted(p.name for p in version_dir.rglob("*"))
    with pytest.raises(kerastl.InvalidArgumentError, match="already exists"):
        kerastl.export(model, out, ("onnx",), name="signs", version=3, verify_data=xh)
    assert sorted(p.name for p in version_dir.rglob("*")) == before
    with pytest.raises(kerastl.ExportVerificationError, match=r"\['onnx'\]"):
        kerastl.export(model, out, ("onnx",), name="signs", version=4, verify_data=xh,
                       thresholds={"onnx": ("max_abs_diff", -1.0)})
    assert sorted(p.name for p in (out / "signs").iterdir()) == ["3"]  # no version 4, no temp dir
    with pytest.warns(UserWarning, match=r"strict=False although \['onnx'\]") as caught:
        report = kerastl.export(model, out, ("onnx",), name="signs", version=5, verify_data=xh,
                                thresholds={"onnx": ("max_abs_diff", -1.0)}, strict=False)
    assert report["artefacts"]["onnx"]["passed"] is False and (out / "signs" / "5" / "onnx" / "signs.onnx").is_file()
    assert caught[0].filename == __file__  # the warning points at the caller's line


def test_an_int8_miss_says_what_was_predicted_and_what_avoids_it(exported, tmp_path):
    """A strict export whose int8 file misses its bound explains it from the report's `float_ops`."""
    from kerastl.export import finish

    report = json.loads(json.dumps(exported[2]))  # a copy of the real report, int8's row marked as a miss
    report["artefacts"]["tflite_int8"].update(tie_tolerant_agreement=0.75, passed=False)
    choice = report["artefacts"]["tflite_int8"]["float_ops"]  # 3.2 of 48 predicted, bound 0.8
    with pytest.raises(kerastl.ExportVerificationError, match=re.escape(
            f"tflite_int8: {choice['expected_disagreements']:.1f} disagreements with Keras (ties excused) were predicted, which "
            "meets the bound on average; the agreement measured on 48 inputs was predicted to meet it with "
            f"probability {choice['tried'][0]['p_meets_bound']:.2f}")) as error:
        finish(tmp_path, report, strict=True)
    assert "an int8 bound below 0.8 (thresholds={'tflite_int8': ('tie_tolerant_agreement', ...)})" in str(error.value)
    choice["predicted_to_meet_bound"] = False  # as select_int8 reports a bound no rule was predicted to meet
    with pytest.raises(kerastl.ExportVerificationError, match="more than the bound allows on 48 inputs with every "
                       r"rule tried \(up to 1 downsampling block in float\)"):
        finish(tmp_path, report, strict=True)


def test_onnx_of_a_model_with_a_normalization_layer_has_one_input(tmp_path):
    """FACTS.md trap: EfficientNetB0's Normalization constants leaked as ONNX inputs via model.export."""
    model = kerastl.build("efficientnet", num_classes=3, weights=None, input_shape=(32, 32, 3))
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    report = kerastl.export(model, tmp_path, ("onnx",), verify_data=images)
    assert report["artefacts"]["onnx"]["max_abs_diff"] <= 1e-4  # the fresh-process runner checks one input


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not on PATH (TF Serving cannot be installed here)")
def test_tf_serving_answers_rest_and_grpc(exported, trained):
    import base64
    import urllib.request

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    _, _, xh = trained
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    server = subprocess.Popen(["tensorflow_model_server", f"--port={ports[0]}", f"--rest_api_port={ports[1]}",
                               "--model_name=signs", f"--model_base_path={exported[0] / 'signs'}"])
    try:
        url = f"http://127.0.0.1:{ports[1]}/v1/models/signs"
        for _ in range(60):
            try:
                if b"AVAILABLE" in urllib.request.urlopen(url).read():
                    break
            except OSError:
                time.sleep(1)
        png = base64.b64encode(tf.io.encode_png(tf.cast(xh[0], tf.uint8)).numpy()).decode()
        body = json.dumps({"signature_name": "serving_bytes", "instances": [{"b64": png}]}).encode()
        answer = json.loads(urllib.request.urlopen(f"{url}:predict", data=body).read())
        assert answer["predictions"][0]["label"] in LABELS
        stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(f"127.0.0.1:{ports[0]}"))
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "signs"
        request.inputs["image"].CopyFrom(tf.make_tensor_proto(xh[:2]))
        assert tf.make_ndarray(stub.Predict(request, 30).outputs["probabilities"]).shape == (2, 10)
    finally:
        server.terminate()
        server.wait()
