"""int8's float ops and their choice (`kerastl.export.tflite`), on a tiny convolutional model."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerastl.export import tflite


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """(the calibrated flatbuffer of a 16 px model with two downsampling blocks, the model, its inputs)."""
    keras.utils.set_random_seed(0)
    layers = keras.layers
    inputs = keras.Input((16, 16, 3))
    x = layers.Rescaling(1 / 127.5, -1)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(x)  # 16 x 16
    for block in (1, 2):
        x = layers.Conv2D(16, 1, activation="relu", name=f"expand{block}")(x)
        x = layers.DepthwiseConv2D(3, 2, padding="same", activation="relu", name=f"down{block}")(x)  # 8, then 4
        x = layers.Conv2D(8, 1, name=f"project{block}")(x)
    x = layers.Conv2D(16, 1, activation="relu", name="top")(layers.GlobalAveragePooling2D(keepdims=True)(x))
    outputs = layers.Dense(4, activation="softmax", name="predictions")(layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(0).integers(0, 256, (48, 16, 16, 3)).astype("float32")
    graph = str(tmp_path_factory.mktemp("int8") / "graph")
    tflite._save_graph(model, graph)
    return tflite.converter(graph, "int8", images[:16]).convert(), model, images


def _kept(flatbuffer: bytes, names: list[str]) -> list[str]:
    """The layers (by name) whose ops are among `names`."""
    return sorted({layer for layer in ("stem", "expand1", "down1", "project1", "expand2", "down2", "project2", "top",
                                       "predictions") for name in names if layer in name})


def test_float_ops_keep_blocks_up_to_their_projection(calibrated):
    flatbuffer = calibrated[0]
    first = {blocks: _kept(flatbuffer, tflite.float_ops(flatbuffer, blocks, head=False)) for blocks in (0, 1, 2, 5)}
    assert first[0] == ["expand1", "stem"]  # the stem stage: everything before the first downsampling
    assert first[1] == ["down1", "expand1", "project1", "stem"]
    assert first[2] == ["down1", "down2", "expand1", "expand2", "project1", "project2", "stem"]
    assert first[5] == first[2]  # fewer downsampling blocks than asked: through the last projection
    # the head: everything after the next-to-last layer with weights (pooling's output, classifier, softmax)
    assert _kept(flatbuffer, tflite.float_ops(flatbuffer, 0)) == ["expand1", "predictions", "stem"]


def test_expected_disagreements_add_each_probe_error_to_each_reference():
    reference = np.array([[0.50, 0.45, 0.05], [0.90, 0.05, 0.05]])
    noise = np.log([[1.0, 1.2, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 20.0]])
    # the first error lifts class 1 of the first input above class 0 (0.54 > 0.5), the third class 2 of both
    assert tflite.expected_disagreements(reference, noise) == pytest.approx(2 / 3 + 1 / 3)
    # the first error's class 1 is 0.105 below class 0 in log score: excused by a tie margin of 0.2
    assert tflite.expected_disagreements(reference, noise, tie=0.2) == pytest.approx(1 / 3 + 1 / 3)
    assert tflite._poisson_cdf(0, 2.0) == pytest.approx(np.exp(-2))
    assert tflite._poisson_cdf(2, 1.0) == pytest.approx(np.exp(-1) * 2.5)
    assert tflite._poisson_cdf(250, 3.0) == pytest.approx(1.0)  # no overflow where a lax bound allows many


def test_disagreements_excuse_a_class_the_float_model_nearly_ties_on_and_nothing_else():
    reference = np.array([[0.50, 0.48, 0.02], [0.50, 0.40, 0.10], [0.90, 0.05, 0.05]])
    classes = np.array([1, 1, 0])  # log(0.50 / 0.48) = 0.041 below the best, log(0.50 / 0.40) = 0.22; agrees
    assert tflite.disagreements(reference, classes).tolist() == [True, True, False]
    assert tflite.disagreements(reference, classes, tflite.NEAR_TIE).tolist() == [False, True, False]
    assert tflite.disagreements(reference[:1], np.array([2]), tflite.NEAR_TIE).tolist() == [True]  # a far class
    assert tflite.disagreements(reference[None], classes[None], tflite.NEAR_TIE).tolist() == [[False, True, False]]


def test_select_int8_takes_the_first_rule_predicted_to_meet_the_bound(calibrated):
    flatbuffer, model, images = calibrated
    probes, reference = images[16:32], model.predict(images[32:], verbose=0)
    outputs = model.predict(probes, verbose=0)
    lenient, chosen = tflite.select_int8(flatbuffer, tf.uint8, probes, outputs, reference, bound=0.0)
    assert chosen["float_blocks"] == 1 and [t["blocks"] for t in chosen["tried"]] == [1]
    assert chosen["tried"][0]["p_meets_bound"] == 1.0 and chosen["probes"] == 16 and chosen["predicted_to_meet_bound"]
    assert lenient == tflite.quantize_int8(flatbuffer, blocks=1)
    # near-ties that int8's error moves, and a bound no rule then meets (all must agree): every rule is
    # tried and the one with the fewest predicted disagreements is kept
    ties = np.tile([0.25 + 1e-7, 0.25, 0.25, 0.25 - 1e-7], (16, 1))
    strict, chosen = tflite.select_int8(flatbuffer, tf.uint8, probes, outputs, ties, bound=1.0)
    tried = {t["blocks"]: t for t in chosen["tried"]}
    # rules 3 and 4 keep what rule 2 keeps on this two-block model: tried once
    assert list(tried) == [1, 2] and all(t["expected_disagreements"] > 0 for t in tried.values())
    best = min(tried, key=lambda b: tried[b]["expected_disagreements"])
    assert chosen["float_blocks"] == best and strict == tflite.quantize_int8(flatbuffer, blocks=best)
    assert not chosen["predicted_to_meet_bound"]
    # the same inputs with ties excused: every class is within NEAR_TIE of the best, none can disagree
    excused, chosen = tflite.select_int8(flatbuffer, tf.uint8, probes, outputs, ties, bound=1.0, tie=tflite.NEAR_TIE)
    assert chosen["float_blocks"] == 1 and chosen["tried"][0]["expected_disagreements"] == 0
    assert chosen["near_tie"] == tflite.NEAR_TIE and excused == tflite.quantize_int8(flatbuffer)
    # a bound the first rule's predicted agreement just meets: kept, although the agreement measured on
    # these 16 inputs would miss it about as often as not
    bound = 1 - (tried[1]["expected_disagreements"] + 1e-3) / len(ties)
    kept, chosen = tflite.select_int8(flatbuffer, tf.uint8, probes, outputs, ties, bound=bound)
    assert chosen["float_blocks"] == 1 and len(chosen["tried"]) == 1 and kept == tflite.quantize_int8(flatbuffer)
    assert chosen["tried"][0]["p_meets_bound"] < 0.9 and chosen["predicted_to_meet_bound"]
