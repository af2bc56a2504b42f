"""Speech through an image backbone: WAV clips -> log-mel inside the model -> pretrained Lite0, trained,
predicted, evaluated and exported (SavedModel with serving_wav, TFLite in MediaPipe's AudioClassifier,
ONNX) through the command line."""
import json
import wave

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastl
from kerastl import cli
from kerastl.data.audio_folder import (FSDD_PATTERN, audio_folder, decode_wav, fit_length, looks_like_audio,
                                       read_wav, speaker_list)
from kerastl.heads import task_of
from tests.conftest import SHARED, requires_shared

SPOKEN_DIGITS = SHARED / "data" / "spoken_digits" / "recordings"
HELD_OUT = "yweweler"


def _write_wav(path, samples: np.ndarray, rate: int) -> None:
    """int16 PCM; `samples` (frames,) or (frames, channels) in [-1, 1]."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    with wave.open(str(path), "wb") as f:
        f.setnchannels(frames.shape[1])
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((frames * 32767).astype("<i2").tobytes())


def test_bad_wavs_are_skipped_and_counted_and_48khz_stereo_is_resampled(tmp_path):
    t = np.arange(48000) / 48000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        _write_wav(tmp_path / name / "tone.wav", np.stack([tone, tone], 1), 48000)  # 1 s, 48 kHz, stereo
    (tmp_path / "a" / "notes.wav").write_text("not a wav")
    (tmp_path / "a" / "song.mp3").write_bytes(b"ID3\x03")
    _write_wav(tmp_path / "b" / "empty.wav", np.zeros(0), 8000)
    samples = read_wav(tmp_path / "a" / "tone.wav", 8000)
    assert samples.shape == (8000,) and np.argmax(np.abs(np.fft.rfft(samples))) == 440  # 1 Hz bins
    assert abs(np.abs(samples).max() - 0.5) < 0.01
    # the serving graph's decoder: the same samples from the same bytes (16-bit PCM, any rate and channels)
    encoded = tf.io.read_file(str(tmp_path / "a" / "tone.wav"))
    np.testing.assert_allclose(decode_wav(encoded, 8000, 8000).numpy(), samples, atol=1e-5)
    assert decode_wav(encoded, 8000, 9000).numpy()[8000:].tolist() == [0.0] * 1000  # zero-padded at the end
    data = audio_folder(tmp_path, sample_rate=8000, seconds=0.5, validation_split=0)
    assert sorted(data.skipped) == sorted(str(tmp_path / n) for n in ("a/notes.wav", "a/song.mp3", "b/empty.wav"))
    x, y = next(iter(data.train))
    assert x.shape == (2, 4000) and sorted(y.numpy()) == [0, 1] and data.val is None
    rng = np.random.default_rng(0)
    assert fit_length(np.ones(3), 7).tolist() == [1, 1, 1, 0, 0, 0, 0]  # inference: the first window
    assert fit_length(np.arange(10.0), 4).tolist() == [0, 1, 2, 3]
    assert len({tuple(fit_length(np.arange(10.0), 4, rng)) for _ in range(20)}) > 1  # random crops in training
    assert looks_like_audio(tmp_path) and not looks_like_audio(SHARED / "data" / "sign_digits")
    with pytest.raises(kerastl.InvalidArgumentError, match="needs a label_pattern with a"):
        audio_folder(tmp_path, held_out_speakers=["theo"])
    with pytest.raises(kerastl.InvalidArgumentError, match="matches label_pattern"):
        audio_folder(tmp_path, label_pattern="fsdd")
    with pytest.raises(kerastl.InvalidArgumentError, match="needs a \\(\\?P<label>"):
        audio_folder(tmp_path, label_pattern=r"(\d+)\.wav")


def test_a_pattern_with_speakers_holds_out_whole_speakers(tmp_path):
    for speaker in ("ann", "bob", "cat", "dan", "eve"):
        for digit in range(2):
            for i in range(2):
                _write_wav(tmp_path / f"{digit}_{speaker}_{i}.wav", np.full(800, 0.1 * (digit + 1)), 8000)
    data = audio_folder(tmp_path, sample_rate=8000, seconds=0.1, label_pattern="fsdd", seed=3)
    assert len(data.speakers["val"]) == 1 and not set(data.speakers["val"]) & set(data.speakers["train"])
    assert len(data.files["val"]) == 4 and len(data.files["train"]) == 16 and data.class_names == ["0", "1"]
    assert audio_folder(tmp_path, sample_rate=8000, seconds=0.1, label_pattern=FSDD_PATTERN, seed=3).speakers == \
        data.speakers  # seeded
    with pytest.raises(kerastl.InvalidArgumentError, match=r"held_out_speakers \['zed'\] have no clips"):
        audio_folder(tmp_path, sample_rate=8000, label_pattern="fsdd", held_out_speakers=["zed"])
    with pytest.raises(kerastl.InvalidArgumentError, match="are every speaker .* none is left to train on"):
        audio_folder(tmp_path, sample_rate=8000, label_pattern="fsdd",
                     held_out_speakers=speaker_list("ann, bob,cat,dan ,eve,"))
    most = audio_folder(tmp_path, sample_rate=8000, seconds=0.1, label_pattern="fsdd", validation_split=0.95)
    assert len(most.speakers["val"]) == 4 and len(most.speakers["train"]) == 1  # one speaker is left to train on


def _fsdd_subset(folder, per_digit: int, held_out_per_digit: int):
    """Links to the first `per_digit` recordings per digit of five speakers and `held_out_per_digit` of HELD_OUT."""
    folder.mkdir()
    for clip in SPOKEN_DIGITS.glob("*.wav"):
        _, speaker, index = clip.stem.split("_")
        if int(index) < (held_out_per_digit if speaker == HELD_OUT else per_digit):
            (folder / clip.name).symlink_to(clip)
    return folder


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory):
    """`kerastl train` on 500 real spoken digits of five speakers (64 px log-mel images), held-out speaker
    HELD_OUT (100 clips), with every export verified (TFLite fp32 and int8 also in MediaPipe's AudioClassifier
    on the held-out files)."""
    root = tmp_path_factory.mktemp("audio")
    data = _fsdd_subset(root / "digits", per_digit=10, held_out_per_digit=10)
    out = root / "run"
    assert cli.main(["train", "--data", str(data), "--out", str(out), "--label-pattern", "fsdd", "--sample-rate", "8000",
                     "--held-out-speakers", HELD_OUT, "--image-size", "64", "--head-epochs", "40",
                     "--fine-tune-epochs", "1", "--unfreeze-blocks", "1", "--name", "digits",
                     "--quantize", "fp32", "int8"]) == 0  # fp16's path is test_export's
    return data, out


@pytest.mark.e2e
@requires_shared(SPOKEN_DIGITS)
def test_pretrained_backbone_recognises_an_unseen_speakers_digits(audio_run, capsys):
    data, out = audio_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "audio_classification" and (metrics["train_images"], metrics["val_images"]) == (500, 100)
    # 100 clips of a speaker never heard in training; chance is 0.1, so 0.25 cannot be luck (P < 1e-4)
    assert metrics["val_accuracy"] >= 0.25, metrics["val_accuracy"]
    model = keras.models.load_model(out / "model.keras")
    assert model.inputs[0].shape[1:] == (8000,) and task_of(model) == "audio_classification"
    assert "audio classification" in (out / "MODEL_CARD.md").read_text()
    # evaluate on the held-out speaker reproduces the run's figure; predict names a digit per WAV file
    assert cli.main(["evaluate", "--model", str(out / "model.keras"), "--data", str(data), "--label-pattern", "fsdd",
                     "--held-out-speakers", HELD_OUT, "--split", "val"]) == 0
    scored = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert scored["images"] == 100 and scored["accuracy"] == pytest.approx(metrics["val_accuracy"], abs=1e-4)
    assert cli.main(["evaluate", "--model", str(out / "model.keras"), "--data", str(data), "--label-pattern", "fsdd",
                     "--held-out-speakers", HELD_OUT]) == 0  # --split all: every clip, the held-out speaker's too
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["images"] == 600
    clips = sorted(data.glob(f"*_{HELD_OUT}_0.wav"))[:2]
    assert cli.main(["predict", *map(str, clips), "--model", str(out / "model.keras"), "--top", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[-2:]
    assert [line.split("\t")[0] for line in lines] == list(map(str, clips))
    assert all(len(line.split("\t")) == 3 and line.split("\t")[1].split(":")[0] in "0123456789" for line in lines)
    # bad input: an image file for an audio model, a flat WAV folder without a label pattern
    photo = next((SHARED / "data" / "sign_digits" / "3").iterdir())
    assert cli.main(["predict", str(photo), "--model", str(out / "model.keras")]) == 2
    assert f"cannot read '{photo}' as a WAV file: not a PCM WAV file" in capsys.readouterr().err
    assert cli.main(["train", "--data", str(data), "--out", str(out.parent / "x"), "--sample-rate", "8000"]) == 2
    assert "has no class folders with files" in capsys.readouterr().err and not (out.parent / "x").exists()


@pytest.mark.e2e
@requires_shared(SPOKEN_DIGITS)
def test_audio_exports_are_verified_and_run_in_mediapipe(audio_run):
    data, out = audio_run
    version = out / "export" / "digits" / "1"
    report = json.loads((version / "export_report.json").read_text())
    rows = report["artefacts"]
    assert set(rows) == {"saved_model", "onnx", "tflite_fp32", "tflite_int8"}
    for artefact in ("saved_model", "onnx", "tflite_fp32"):
        assert rows[artefact]["max_abs_diff"] <= 1e-4, (artefact, rows[artefact])
    assert rows["saved_model"]["signatures_max_abs_diff"]["serving_wav"] <= 1e-4
    for mode in ("fp32", "int8"):  # the held-out WAV files through MediaPipe's AudioClassifier
        e2e = rows[f"tflite_{mode}"]["mediapipe"]
        assert e2e["files"] == 100 and e2e["p50_ms"] > 0, (mode, e2e)
        # fp32 agrees on every clip; int8 on 0.83 of this weak 64 px model's clips (small margins)
        assert e2e["agreement"] >= (0.95 if mode == "fp32" else 0.6), (mode, e2e)
    # int8's float ops chosen for the waveform model too (float32 samples in), as the model card says
    choice = rows["tflite_int8"]["float_ops"]
    assert choice["float_blocks"] in [t["blocks"] for t in choice["tried"]] and choice["probes"] > 0
    assert (f"int8 keeps {choice['float_blocks']} downsampling block(s) in float: {choice['expected_disagreements']:.1f} "
            "disagreements with Keras (ties excused) were predicted") in (out / "MODEL_CARD.md").read_text()
    from ai_edge_litert.interpreter import Interpreter

    int8 = Interpreter(model_path=str(version / "tflite" / "digits_int8.tflite"))
    assert int8.get_input_details()[0]["dtype"] == np.float32 and list(int8.get_input_details()[0]["shape"]) == [1, 8000]
    # serving_wav decodes any 16-bit WAV: a 16 kHz stereo copy of a held-out clip gives the clip's probabilities
    clip = sorted(data.glob(f"*_{HELD_OUT}_0.wav"))[0]
    samples = read_wav(clip, None)
    loaded = tf.saved_model.load(str(version))
    upsampled = np.repeat(read_wav(clip, 16000)[:, None], 2, axis=1)
    _write_wav(out.parent / "stereo.wav", upsampled, 16000)
    wav = tf.constant([tf.io.read_file(str(out.parent / "stereo.wav")).numpy()])
    served = loaded.signatures["serving_wav"](wav_bytes=wav)
    direct = loaded.signatures["serving_default"](waveform=tf.constant(fit_length(samples, 8000)[None]))
    np.testing.assert_allclose(served["probabilities"], direct["probabilities"], atol=0.02)
    assert served["label"].numpy()[0].decode() in [str(d) for d in range(10)]
    with pytest.raises(tf.errors.InvalidArgumentError, match="waveform samples must be finite"):
        loaded.signatures["serving_default"](waveform=tf.constant(np.full((1, 8000), np.nan, np.float32)))
    with pytest.raises(kerastl.InvalidArgumentError, match=r"quantize must be a non-empty subset of \('fp32', 'fp16', 'int8'\)"):
        kerastl.export(keras.models.load_model(out / "model.keras"), out.parent / "x", ("tflite",), quantize=("dynamic",),
                       verify_data=np.zeros((2, 8000), np.float32))
