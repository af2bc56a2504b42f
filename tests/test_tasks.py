import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastl
from kerastl.train import fit_head, split_at_features
from kerastl.zoo.pyramid import pyramid_layers
from tests.conftest import SIGN_DIGITS, load_images, requires_shared, sign_digit_files

X = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
TARGETS = {
    "classification": np.array([0, 1, 2, 0, 1, 2, 0, 1]),
    "multi_label": np.random.default_rng(1).integers(0, 2, (8, 3)).astype("float32"),
    "regression": np.random.default_rng(2).normal(size=(8, 3)).astype("float32"),
    "embedding": np.array([0, 1, 2, 0, 1, 2, 0, 1]),
    "segmentation": np.random.default_rng(3).integers(0, 3, (8, 32, 32)),
}


@pytest.mark.parametrize("task, loss, metrics, output_shape", [
    ("classification", "sparse_categorical_crossentropy", {"accuracy"}, (3,)),
    ("multi_label", "binary_crossentropy", {"accuracy", "auc", "precision", "recall"}, (3,)),
    ("regression", "mse", {"mae"}, (3,)),
    ("embedding", "supervised_contrastive", set(), (3,)),
    ("segmentation", "sparse_categorical_crossentropy", {"accuracy", "mean_iou"}, (32, 32, 3)),
])
def test_task_heads_train_save_and_reload(task, loss, metrics, output_shape, tmp_path):
    model = kerastl.build("efficientnet_lite0", num_classes=3, task=task, input_shape=(32, 32, 3))
    assert getattr(model.loss, "name", model.loss) == loss
    assert model.output_names[0] == kerastl.heads.TASKS[task].output and model.output.shape[1:] == output_shape
    logs = model.fit(X, TARGETS[task], epochs=2, batch_size=4, verbose=0).history
    assert metrics <= set(logs) and np.isfinite(logs["loss"]).all()
    fit_head(model, tf.data.Dataset.from_tensor_slices((X, TARGETS[task])).batch(4), epochs=2)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    outputs = model.predict(X, verbose=0)
    if task == "multi_label":
        assert ((outputs > 0) & (outputs < 1)).all()
    if task in ("classification", "segmentation"):
        np.testing.assert_allclose(outputs.sum(-1), 1, atol=1e-5)
    if task == "embedding":
        np.testing.assert_allclose(np.linalg.norm(outputs, axis=-1), 1, atol=1e-5)


def test_task_errors():
    with pytest.raises(kerastl.InvalidArgumentError, match="num_classes must be an int >= 2 for classification"):
        kerastl.build("mobilenet_v2", num_classes=1, weights=None, input_shape=(32, 32, 3))
    model = kerastl.build("mobilenet_v2", num_classes=1, task="regression", weights=None, input_shape=(32, 32, 3))
    with pytest.raises(kerastl.InvalidArgumentError, match="labels name classes; a regression model has none"):
        kerastl.export(model, "unused", labels=["a"], verify_data=X)
    with pytest.raises(kerastl.InvalidArgumentError, match=r"quantize must be a non-empty subset of \('fp32', 'fp16'\)"):
        kerastl.export(model, "unused", quantize=("int8",), verify_data=X)
    with pytest.raises(kerastl.InvalidArgumentError, match="a regression model has no classes to agree on"):
        kerastl.export(model, "unused", thresholds={"tflite_fp16": ("tie_tolerant_agreement", 0.9)}, verify_data=X)
    with pytest.raises(kerastl.InvalidArgumentError, match="unknown task"):
        kerastl.build("mobilenet_v2", num_classes=3, task="detection_v9", weights=None)
    vector = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(4)])
    with pytest.raises(kerastl.InvalidArgumentError, match="no feature pyramid kerastl can read"):
        pyramid_layers(kerastl.zoo.get("mobilenetv2"), vector)


@pytest.fixture(scope="module")
def shapes_segmenter():
    """Lite0 + U-Net decoder trained (frozen backbone, cached pyramid) on 200 generated 64 px images."""
    keras.utils.set_random_seed(0)
    data = kerastl.data.shapes(200, 64, seed=0)
    model = kerastl.build("efficientnet_lite0", num_classes=4, task="segmentation", input_shape=(64, 64, 3))
    fit_head(model, tf.data.Dataset.from_tensor_slices((data.images, data.masks)).batch(32), epochs=20,
             learning_rate=3e-3)
    return model


@pytest.mark.e2e
def test_segmentation_learns_generated_shapes(shapes_segmenter):
    held_out = kerastl.data.shapes(100, 64, seed=1)
    iou = keras.metrics.MeanIoU(4, sparse_y_pred=False)
    iou.update_state(held_out.masks, shapes_segmenter.predict(held_out.images, verbose=0))
    # measured 0.83-0.91 over the decoder's initial values of Keras seeds 0-5; with 100 images and 15 epochs,
    # 0.70-0.83 over seeds 0-2 (a bound that held or not by the draw)
    assert float(iou.result()) >= 0.8


@pytest.mark.e2e
def test_segmentation_exports_per_pixel_classes(shapes_segmenter, tmp_path):
    images = kerastl.data.shapes(16, 64, seed=2).images
    report = kerastl.export(shapes_segmenter, tmp_path, ("saved_model", "tflite"), quantize=("fp32",),
                            labels=["background", *kerastl.data.shapes_classes], verify_data=images)
    assert report["task"] == "segmentation"
    assert all(row["passed"] and row["top1_agreement"] > 0.999 for row in report["artefacts"].values())
    served = tf.saved_model.load(str(tmp_path / "model" / "1")).signatures["serving_default"](image=tf.constant(images[:2]))
    assert served["class_id"].shape == (2, 64, 64) and "label" not in served
    np.testing.assert_array_equal(served["class_id"].numpy(), shapes_segmenter.predict(images[:2], verbose=0).argmax(-1))
    # The TFLite file fits MediaPipe Tasks' ImageSegmenter: its metadata gives the labels, and its category
    # mask of a PNG file is the Keras model's per-pixel class (same size, so no resize in between).
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    png = tmp_path / "shapes.png"
    png.write_bytes(tf.io.encode_png(np.round(images[3]).astype("uint8")).numpy())
    options = vision.ImageSegmenterOptions(base_options=BaseOptions(
        model_asset_path=str(tmp_path / "model" / "1" / "tflite" / "model_fp32.tflite")), output_category_mask=True)
    with vision.ImageSegmenter.create_from_options(options) as segmenter:
        assert segmenter.labels == ["background", *kerastl.data.shapes_classes]
        # numpy_view() does not own its memory: copy it while the result is alive (a view of a freed
        # temporary read garbage on CI).
        result = segmenter.segment(mp.Image.create_from_file(str(png)))
        mask = np.array(result.category_mask.numpy_view())[..., 0]
    expected = shapes_segmenter.predict(np.round(images[3:4]), verbose=0)[0].argmax(-1)
    assert mask.shape == expected.shape and (mask == expected).mean() >= 0.99


@pytest.mark.e2e
@requires_shared(SIGN_DIGITS)
def test_embedding_head_improves_nearest_neighbour_retrieval(tmp_path):
    train, held_out = sign_digit_files(per_class=20, held_out=300)
    (x, y), (xh, yh) = load_images(train, 112), load_images(held_out, 112)
    keras.utils.set_random_seed(0)
    model = kerastl.build("efficientnet_lite0", 64, task="embedding", input_shape=(112, 112, 3))
    extractor, head = split_at_features(model)  # the frozen backbone's features, computed once
    features, held_features = extractor.predict(x, verbose=0), extractor.predict(xh, verbose=0)

    def nearest_neighbour_accuracy():
        gallery, queries = head.predict(features, verbose=0), head.predict(held_features, verbose=0)
        return float((y[(queries @ gallery.T).argmax(1)] == yh).mean())

    before = nearest_neighbour_accuracy()
    history = fit_head(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(64), epochs=40, batch_size=64)
    after = nearest_neighbour_accuracy()
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    assert after >= 0.75 and after >= before + 0.05  # measured 0.66 -> 0.81
    np.testing.assert_allclose(model.predict(xh[:8], verbose=0), head.predict(held_features[:8], verbose=0), atol=1e-5)
    report = kerastl.export(model, tmp_path, ("saved_model",), verify_data=xh[:32])
    assert report["artefacts"]["saved_model"]["passed"] and report["artefacts"]["saved_model"]["top1_agreement"] is None
    served = tf.saved_model.load(str(tmp_path / "model" / "1")).signatures["serving_default"](image=tf.constant(xh[:2]))
    assert set(served) == {"embedding"}


@pytest.mark.parametrize("name", ["resnet50", "mobilenetv2", "densenet121", "efficientnetb0", "vgg16", "convnexttiny"])
def test_segmentation_builds_on_the_main_cnn_families(name):
    model = kerastl.build(name, num_classes=3, task="segmentation", weights=None, input_shape=(64, 64, 3))
    assert model.output.shape[1:] == (64, 64, 3)
    skips = [layer.input[1].shape[1] for layer in model.layers if layer.name.endswith("_concat")]
    assert skips == [4, 8, 16, 32][:len(skips)] and len(skips) >= 3  # P4 … P1 (ConvNeXt has no P1)


@pytest.mark.e2e
@pytest.mark.parametrize("task, key, artefact", [("multi_label", "probabilities", "saved_model"),
                                                 ("regression", "values", "onnx")])
def test_continuous_tasks_export_verified_artefacts_without_labels(task, key, artefact, tmp_path):
    model = kerastl.build("efficientnet_lite0", num_classes=3, task=task, input_shape=(32, 32, 3))
    report = kerastl.export(model, tmp_path, (artefact,), verify_data=X)
    assert report["artefacts"][artefact]["passed"] and report["artefacts"][artefact]["top1_agreement"] is None
    assert not (tmp_path / "model" / "1" / "labels.txt").exists()
    if artefact == "saved_model":
        served = tf.saved_model.load(str(tmp_path / "model" / "1")).signatures["serving_default"](image=tf.constant(X[:2]))
        assert set(served) == {key}
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(tmp_path / "model" / "1" / "onnx" / "model.onnx"))
        assert [o.name for o in session.get_outputs()] == [key]
