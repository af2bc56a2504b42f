"""Labelled speech clips from WAV files -> batched (waveform float32 [-1, 1], label) datasets.

Two layouts: class folders (`path/<class>/*.wav`), or one folder whose file names carry the label and
the speaker, read with `label_pattern` (named groups `label` and `speaker`), e.g. the Free Spoken Digit
Dataset's `{digit}_{speaker}_{i}.wav`: `FSDD_PATTERN` (or the name "fsdd"). Every clip is read once
(Python's `wave`: PCM 8/16/24/32-bit), mixed down to mono and resampled to `sample_rate` (band-limited,
through the FFT: `resample`). A file that is not a PCM WAV, or holds no samples, is skipped and counted
(`AudioData.skipped`).

One waveform -> window convention, from file to prediction (`kerastl predict`, the exported `serving_wav`
signature and MediaPipe Tasks' AudioClassifier, whose first window it is): a model takes the first
`seconds` of a clip, zero-padded at its end. Training clips are cut at a random offset every epoch
instead (a clip shorter than the window lands at a random place in it).
"""
from __future__ import annotations

import dataclasses
import os
import random
import re
import wave
from pathlib import Path

import numpy as np
import tensorflow as tf

from kerastl.data.labelled import LabelledData
from kerastl.errors import InvalidArgumentError
from kerastl.progress import logger

FSDD_PATTERN = r"(?P<label>\d+)_(?P<speaker>[A-Za-z]+)_\d+\.wav"
PATTERNS = {"fsdd": FSDD_PATTERN}  # names `label_pattern` also takes
AUDIO_SUFFIXES = (".wav",)


@dataclasses.dataclass
class AudioData(LabelledData):
    """Batched (waveforms (batch, samples), labels) datasets; `files` lists the WAV files per split."""

    speakers: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # split -> its speakers (by pattern)


def resample(samples, rate, target) -> tf.Tensor:
    """(n,) float32 samples at `rate` Hz -> `target` Hz, band-limited (the spectrum cut or zero-padded).
    Works eagerly and in a graph (the rates may be tensors: `serving_wav` decodes any WAV)."""
    samples = tf.convert_to_tensor(samples, tf.float32)
    length = tf.shape(samples)[0]
    n = tf.maximum(tf.cast(tf.round(tf.cast(length, tf.float64) * tf.cast(target, tf.float64)
                                    / tf.cast(rate, tf.float64)), tf.int32), 1)
    return tf.signal.irfft(tf.signal.rfft(samples), fft_length=[n]) * (tf.cast(n, tf.float32) / tf.cast(length, tf.float32))


def read_wav(path: str | Path, sample_rate: int | None) -> np.ndarray:
    """Mono float32 samples in [-1, 1] of a PCM WAV file, resampled to `sample_rate` Hz (None: the file's
    own rate). Raises ValueError for a file that is not a PCM WAV or holds no samples."""
    samples, rate = read_pcm(path)
    return samples if sample_rate in (None, rate) else resample(samples, rate, sample_rate).numpy()


def read_pcm(path: str | Path) -> tuple[np.ndarray, int]:
    """(mono float32 samples in [-1, 1], sample rate) of a PCM WAV file; ValueError if it is none or empty."""
    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate, frames = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.readframes(-1)
    except (wave.Error, EOFError) as error:
        raise ValueError(f"not a PCM WAV file ({error})") from None
    if not frames:
        raise ValueError("no samples")
    raw = np.frombuffer(frames, np.uint8).reshape(-1, width)
    if width == 1:  # 8-bit WAV is unsigned
        samples = (raw[:, 0].astype(np.float32) - 128.0) / 128.0
    else:  # little-endian signed: place the bytes at the top of an int32
        padded = np.zeros((len(raw), 4), np.uint8)
        padded[:, 4 - width:] = raw
        samples = padded.view("<i4")[:, 0].astype(np.float32) / 2.0 ** 31
    return samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1), rate


def fit_length(clip: np.ndarray, length: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """`clip` as `length` samples: its first ones, zero-padded at the end (the convention of inference);
    given `rng`, cut at a random offset, or placed at a random offset in the zero-padded window (training)."""
    if rng is None:
        return np.pad(clip[:length], (0, max(length - len(clip), 0)))
    slack = abs(len(clip) - length)
    offset = int(rng.integers(0, slack + 1))
    if len(clip) >= length:
        return clip[offset:offset + length]
    return np.pad(clip, (offset, slack - offset))


def decode_wav(encoded: tf.Tensor, sample_rate: int, length: int) -> tf.Tensor:
    """Graph op: an encoded 16-bit PCM WAV (any rate, any channels) -> (length,) float32 at `sample_rate`,
    the convention of `fit_length` (the serving_wav signature)."""
    audio, rate = tf.audio.decode_wav(encoded)
    mono = tf.reduce_mean(audio, axis=1)
    tf.debugging.assert_positive(tf.shape(mono)[0], "the WAV holds no samples")
    mono = tf.cond(tf.equal(rate, sample_rate), lambda: mono, lambda: resample(mono, rate, sample_rate))
    window = tf.pad(mono[:length], [[0, tf.maximum(length - tf.shape(mono)[0], 0)]])
    return tf.ensure_shape(window, [length])


def looks_like_audio(path: str | Path) -> bool:
    """Whether the folder `path` holds WAV files rather than images (the first such file found decides)."""
    from kerastl.data.image_folder import IMAGE_SUFFIXES

    for _, folders, files in os.walk(path):
        folders.sort()
        for name in sorted(files):
            suffix = os.path.splitext(name)[1].lower()
            if suffix in AUDIO_SUFFIXES or suffix in IMAGE_SUFFIXES:
                return suffix in AUDIO_SUFFIXES
    return False


def speaker_list(text: str | None) -> list[str] | None:
    """'george, theo' -> ['george', 'theo'] (a comma-separated list, as the CLI and TOML take it); '' -> None."""
    speakers = [s.strip() for s in (text or "").split(",") if s.strip()]
    return speakers or None


def audio_folder(
    path: str | Path,
    *,
    sample_rate: int = 16000,
    seconds: float = 1.0,
    label_pattern: str | None = None,
    held_out_speakers: list[str] | None = None,
    validation_split: float = 0.2,
    batch_size: int = 32,
    seed: int = 0,
    shard: tuple[int, int] = (0, 1),
) -> AudioData:
    """Load WAV clips from `path/<class>/*.wav`, or from `path/*.wav` named by `label_pattern`.

    Held out: the clips of `held_out_speakers`; else, with a pattern that names speakers, a seeded
    `validation_split` of the speakers (at least one), so that no speaker is in both splits; else a seeded
    `validation_split` of the clips (0 = none). `shard=(i, n)`: `train` holds only every n-th training clip
    from the i-th (worker i's share).
    """
    class_names, splits, clips, skipped, speakers = audio_splits(
        path, sample_rate=sample_rate, label_pattern=label_pattern, held_out_speakers=held_out_speakers,
        validation_split=validation_split, seed=seed)
    index = {name: i for i, name in enumerate(class_names)}
    files = {split: [(f, index[label]) for f, label in pairs] for split, pairs in splits.items() if pairs}
    length = int(round(sample_rate * seconds))
    train = files["train"][shard[0]::shard[1]]
    return AudioData(clip_dataset(train, clips, length, batch_size, np.random.default_rng(seed), seed),
                     clip_dataset(files["val"], clips, length, batch_size) if "val" in files else None,
                     class_names, skipped, files, speakers=speakers)


def clip_dataset(pairs: list[tuple[str, int]], clips: dict[str, np.ndarray], length: int, batch_size: int,
                 rng: np.random.Generator | None = None, seed: int = 0) -> tf.data.Dataset:
    """Batched (waveform, label) of [(file, class index)] whose samples are `clips[file]`, cut as
    `fit_length` does: the first window, or (given `rng`) a random one every pass, reshuffled."""
    labels = np.array([label for _, label in pairs], np.int32)

    def clips_of_one_pass():
        for (file, _), label in zip(pairs, labels):
            yield fit_length(clips[file], length, rng), label

    spec = (tf.TensorSpec([length], tf.float32), tf.TensorSpec([], tf.int32))
    data = tf.data.Dataset.from_generator(clips_of_one_pass, output_signature=spec)
    data = data.apply(tf.data.experimental.assert_cardinality(len(pairs)))
    if rng is not None:
        data = data.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def audio_splits(path: str | Path, *, sample_rate: int, label_pattern: str | None = None,
                 held_out_speakers: list[str] | None = None, validation_split: float = 0.2, seed: int = 0):
    """-> (class names, {"train": [(file, label)], "val": [...]}, {file: samples at sample_rate}, [skipped files],
    {split: its speakers}): the clips of `audio_folder` and its split rule, every readable clip read once."""
    root = Path(path)
    if not root.is_dir():
        raise InvalidArgumentError(f"audio folder {str(root)!r} does not exist")
    if not 0 <= validation_split < 1:
        raise InvalidArgumentError(f"validation_split must be in [0, 1), got {validation_split!r}")
    entries, pattern = labelled_clips(root, label_pattern)  # [(file, label, speaker or None)]
    if held_out_speakers and "speaker" not in pattern.groupindex:
        raise InvalidArgumentError("held_out_speakers needs a label_pattern with a (?P<speaker>...) group, "
                                   f"e.g. FSDD_PATTERN = {FSDD_PATTERN!r}")
    clips, skipped = {}, []
    for file, _, _ in entries:
        try:
            clips[str(file)] = read_wav(file, sample_rate)
        except ValueError:
            skipped.append(str(file))
    if skipped:
        logger.warning("skipped %d unreadable or empty WAV file(s), e.g. %s", len(skipped), skipped[:3])
    kept = [(str(f), label, speaker) for f, label, speaker in entries if str(f) in clips]
    if not kept:
        raise InvalidArgumentError(f"no readable PCM WAV file in {str(root)!r} ({len(skipped)} skipped)")
    speakers = sorted({s for _, _, s in kept if s})
    if held_out_speakers:
        unknown = sorted(set(held_out_speakers) - set(speakers))
        if unknown:
            raise InvalidArgumentError(f"held_out_speakers {unknown} have no clips in {str(root)!r}")
        if set(speakers) <= set(held_out_speakers):
            raise InvalidArgumentError(f"held_out_speakers {sorted(held_out_speakers)} are every speaker in "
                                       f"{str(root)!r}: none is left to train on; hold out fewer")
    elif speakers and validation_split > 0:
        if len(speakers) == 1:
            raise InvalidArgumentError(f"{str(root)!r} has clips of one speaker only: no speaker is left to hold "
                                       "out; pass validation_split=0 or add speakers")
        n_held = min(len(speakers) - 1, max(1, round(len(speakers) * validation_split)))  # >= 1 speaker each side
        held_out_speakers = random.Random(seed).sample(speakers, n_held)
    if held_out_speakers:
        train, val = ([e for e in kept if (e[2] in held_out_speakers) == held] for held in (False, True))
    else:
        shuffled = random.Random(seed).sample(kept, len(kept))
        n_val = int(len(shuffled) * validation_split)
        train, val = shuffled[n_val:], shuffled[:n_val]
    logger.info("%d training / %d held-out clips, %d classes (%s)%s", len(train), len(val),
                len({label for _, label, _ in kept}), root,
                f"; held-out speakers {sorted(held_out_speakers)}" if held_out_speakers else "")
    return (sorted({label for _, label, _ in kept}),
            {"train": [(f, label) for f, label, _ in train], "val": [(f, label) for f, label, _ in val]},
            clips, skipped, {name: sorted({s for _, _, s in split if s}) for name, split in (("train", train), ("val", val))})


def labelled_clips(root: Path, label_pattern: str | None) -> tuple[list[tuple[Path, str, str | None]], re.Pattern]:
    """-> ([(WAV file, label, speaker or None)], the compiled label pattern: one with no groups for class
    folders) of `root/<class>/*.wav`, or of `root/*.wav` named by `label_pattern` (a regex or a PATTERNS name)."""
    if label_pattern is None:
        folders = sorted(d for d in root.iterdir() if d.is_dir())
        entries = [(f, d.name, None) for d in folders for f in sorted(d.rglob("*"))
                   if f.is_file() and not f.name.startswith(".")]  # a file that is no WAV: skipped and counted
        if not entries:
            raise InvalidArgumentError(f"{str(root)!r} has no class folders with files; expected "
                                       "<path>/<class>/*.wav, or a label_pattern for the file names of one folder "
                                       f"(e.g. 'fsdd': {FSDD_PATTERN!r})")
        return entries, re.compile("")
    try:
        pattern = re.compile(PATTERNS.get(label_pattern, label_pattern))
    except re.error as error:
        raise InvalidArgumentError(f"label_pattern {label_pattern!r} is not a regular expression: {error}") from None
    if "label" not in pattern.groupindex:
        raise InvalidArgumentError(f"label_pattern needs a (?P<label>...) group, got {label_pattern!r}")
    entries = []
    for file in sorted(f for f in root.iterdir() if f.is_file()):
        match = pattern.fullmatch(file.name)
        if match:
            entries.append((file, match["label"], match.groupdict().get("speaker")))
    if not entries:
        raise InvalidArgumentError(f"no file name in {str(root)!r} matches label_pattern {pattern.pattern!r}")
    return entries, pattern
