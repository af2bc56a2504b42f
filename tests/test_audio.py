"""Speech through an image backbone: WAV clips -> log-mel inside the model -> pretrained Lite0."""
import wave

import keras
import numpy as np
import pytest

import kerastl
from kerastl.data.audio_folder import FSDD_PATTERN, audio_folder, fit_length, read_wav
from kerastl.heads import task_of
from tests.conftest import SHARED, requires_shared

SPOKEN_DIGITS = SHARED / "data" / "spoken_digits" / "recordings"


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
    _write_wav(tmp_path / "b" / "empty.wav", np.zeros(0), 8000)
    samples = read_wav(tmp_path / "a" / "tone.wav", 8000)
    assert samples.shape == (8000,) and np.argmax(np.abs(np.fft.rfft(samples))) == 440  # 1 Hz bins
    assert abs(np.abs(samples).max() - 0.5) < 0.01
    data = audio_folder(tmp_path, sample_rate=8000, seconds=0.5, validation_split=0)
    assert sorted(data.skipped) == [str(tmp_path / "a" / "notes.wav"), str(tmp_path / "b" / "empty.wav")]
    x, y = next(iter(data.train))
    assert x.shape == (2, 4000) and sorted(y.numpy()) == [0, 1] and data.val is None
    rng = np.random.default_rng(0)
    assert fit_length(np.ones(3), 7).tolist() == [0, 0, 1, 1, 1, 0, 0]  # centred
    assert fit_length(np.arange(10.0), 4).tolist() == [3, 4, 5, 6]
    assert len({tuple(fit_length(np.arange(10.0), 4, rng)) for _ in range(20)}) > 1  # random crops in training
    with pytest.raises(kerastl.InvalidArgumentError, match="needs a label_pattern with a"):
        audio_folder(tmp_path, held_out_speakers=["theo"])
    with pytest.raises(kerastl.InvalidArgumentError, match="matches label_pattern"):
        audio_folder(tmp_path, label_pattern=FSDD_PATTERN)


@pytest.mark.e2e
@requires_shared(SPOKEN_DIGITS)
def test_pretrained_backbone_recognises_an_unseen_speakers_digits(tmp_path):
    data = audio_folder(SPOKEN_DIGITS, sample_rate=8000, seconds=1.0, label_pattern=FSDD_PATTERN,
                        held_out_speakers=["yweweler"])
    assert data.speakers == {"train": ["george", "jackson", "lucas", "nicolas", "theo"], "val": ["yweweler"]}
    keras.utils.set_random_seed(0)
    model = kerastl.build("efficientnet_lite0", 10, task="audio_classification", sample_rate=8000,
                          input_shape=(96, 96, 3))
    assert model.inputs[0].shape[1:] == (8000,) and task_of(model) == "audio_classification"
    history = kerastl.fine_tune(model, data.train, data.val, recipe="feature_extraction", head_epochs=30, verbose=0)
    # 500 clips of a speaker never heard in training; chance is 0.1, so 0.3 cannot be luck (measured 0.50)
    assert history["head"]["val_accuracy"][-1] >= 0.3
    model.save(tmp_path / "audio.keras")
    x, _ = next(iter(data.val))
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "audio.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(kerastl.InvalidArgumentError, match="exporting audio models"):
        kerastl.export(model, tmp_path / "export", verify_data=x.numpy())
