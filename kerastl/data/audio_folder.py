"""Labelled speech clips from WAV files -> batched (waveform float32 [-1, 1], label) datasets.

Two layouts: class folders (`path/<class>/*.wav`), or one folder whose file names carry the label and
the speaker, read with `label_pattern` (named groups `label` and `speaker`), e.g. the Free Spoken Digit
Dataset's `{digit}_{speaker}_{i}.wav`: `FSDD_PATTERN`. Every clip is read once (Python's `wave`: PCM
8/16/24/32-bit), mixed down to mono and resampled to `sample_rate` (band-limited, through the FFT). A file
that is not a PCM WAV, or holds no samples, is skipped and counted (`AudioData.skipped`).

Clips become `seconds` long: training clips at a random offset every epoch (a clip shorter than the
window lands at a random place in it, zero-padded), held-out clips centred.
"""
from __future__ import annotations

import dataclasses
import random
import re
import wave
from pathlib import Path

import numpy as np
import tensorflow as tf

from kerastl.errors import InvalidArgumentError
from kerastl.progress import logger

FSDD_PATTERN = r"(?P<label>\d+)_(?P<speaker>[A-Za-z]+)_\d+\.wav"


@dataclasses.dataclass
class AudioData:
    """Batched (waveforms (batch, samples), labels) datasets and the class names (index order)."""

    train: tf.data.Dataset
    val: tf.data.Dataset | None
    class_names: list[str]
    skipped: list[str]  # files that are not readable PCM WAVs or hold no samples
    speakers: dict[str, list[str]]  # split -> speakers in it (with a label_pattern that names them)


def read_wav(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples in [-1, 1] of a PCM WAV file at `sample_rate` Hz. Raises ValueError for a file
    that is not a PCM WAV or holds no samples."""
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
    mono = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1)
    return resample(mono, rate, sample_rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`samples` at `rate` Hz -> `target` Hz, band-limited (the spectrum cut or zero-padded)."""
    if rate == target:
        return samples.astype(np.float32)
    n = max(int(round(len(samples) * target / rate)), 1)
    spectrum = np.fft.rfft(samples)[: n // 2 + 1]
    return (np.fft.irfft(spectrum, n) * (n / len(samples))).astype(np.float32)


def fit_length(clip: np.ndarray, length: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """`clip` cut or zero-padded to `length` samples: centred, or at a random offset given `rng`."""
    slack = abs(len(clip) - length)
    offset = int(rng.integers(0, slack + 1)) if rng is not None else slack // 2
    if len(clip) >= length:
        return clip[offset:offset + length]
    return np.pad(clip, (offset, slack - offset))


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
) -> AudioData:
    """Load WAV clips from `path/<class>/*.wav`, or from `path/*.wav` named by `label_pattern`.

    Held out: the clips of `held_out_speakers` (needs a pattern with a `speaker` group, so no speaker is
    in both splits), else a seeded `validation_split` of the clips (0 = none).
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidArgumentError(f"audio folder {str(root)!r} does not exist")
    pattern = None if label_pattern is None else re.compile(label_pattern)
    if pattern is not None and "label" not in pattern.groupindex:
        raise InvalidArgumentError(f"label_pattern needs a (?P<label>...) group, got {label_pattern!r}")
    if held_out_speakers and (pattern is None or "speaker" not in pattern.groupindex):
        raise InvalidArgumentError("held_out_speakers needs a label_pattern with a (?P<speaker>...) group, "
                                   f"e.g. FSDD_PATTERN = {FSDD_PATTERN!r}")
    entries = _entries(root, pattern)  # [(file, label, speaker or None)]
    class_names = sorted({label for _, label, _ in entries})
    clips, skipped = {}, []
    for file, _, _ in entries:
        try:
            clips[file] = read_wav(file, sample_rate)
        except ValueError:
            skipped.append(str(file))
    if skipped:
        logger.warning("skipped %d unreadable or empty WAV file(s), e.g. %s", len(skipped), skipped[:3])
    kept = [e for e in entries if e[0] in clips]
    if held_out_speakers:
        unknown = sorted(set(held_out_speakers) - {s for _, _, s in kept})
        if unknown:
            raise InvalidArgumentError(f"held_out_speakers {unknown} have no clips in {str(root)!r}")
        train, val = ([e for e in kept if (e[2] in held_out_speakers) == held] for held in (False, True))
    else:
        shuffled = random.Random(seed).sample(kept, len(kept))
        n_val = int(len(shuffled) * validation_split)
        train, val = shuffled[n_val:], shuffled[:n_val]
    index = {name: i for i, name in enumerate(class_names)}
    length = int(round(sample_rate * seconds))
    logger.info("%d training / %d held-out clips, %d classes (%s)", len(train), len(val), len(class_names), root)

    def dataset(split: list, rng: np.random.Generator | None) -> tf.data.Dataset:
        labels = np.array([index[label] for _, label, _ in split], np.int32)

        def clips_of_one_pass():
            for (file, _, _), label in zip(split, labels):
                yield fit_length(clips[file], length, rng), label

        spec = (tf.TensorSpec([length], tf.float32), tf.TensorSpec([], tf.int32))
        data = tf.data.Dataset.from_generator(clips_of_one_pass, output_signature=spec)
        data = data.apply(tf.data.experimental.assert_cardinality(len(split)))
        if rng is not None:
            data = data.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
        return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    speakers = {name: sorted({s for _, _, s in split if s}) for name, split in (("train", train), ("val", val))}
    return AudioData(dataset(train, np.random.default_rng(seed)), dataset(val, None) if val else None, class_names,
                     skipped, speakers)


def _entries(root: Path, pattern: re.Pattern | None) -> list[tuple[Path, str, str | None]]:
    if pattern is None:
        folders = sorted(d for d in root.iterdir() if d.is_dir())
        entries = [(f, d.name, None) for d in folders for f in sorted(d.rglob("*")) if f.is_file()]
        if not entries:
            raise InvalidArgumentError(f"{str(root)!r} has no class folders with files; expected <path>/<class>/*.wav "
                                       "or a label_pattern for file names")
        return entries
    entries = []
    for file in sorted(f for f in root.iterdir() if f.is_file()):
        match = pattern.fullmatch(file.name)
        if match:
            entries.append((file, match["label"], match.groupdict().get("speaker")))
    if not entries:
        raise InvalidArgumentError(f"no file name in {str(root)!r} matches label_pattern {pattern.pattern!r}")
    return entries
