"""Spoken digits through an ImageNet-pretrained image backbone, leave-one-speaker-out.

    .venv/bin/python bench/audio.py [--per-digit 5 20] [--size 96] [--epochs 20] [--methods ...]

Free Spoken Digit Dataset (../shared/data/spoken_digits, 6 speakers x 10 digits x 50 recordings, 8 kHz).
Each speaker is held out in turn (all 500 of their clips scored); the model trains on the other five
speakers' first `k` recordings of each digit, for each k of `--per-digit`. Methods, one clip = 1 s:
- pretrained, frozen: Lite0 with ImageNet weights, `fine_tune(recipe="feature_extraction")`
  (the head on cached features);
- pretrained, two-phase: `fine_tune` with the default recipe (then the top 3 blocks for 4 epochs);
- pretrained, every layer trained: ImageNet weights, then exactly the scratch recipe below (every layer
  and BatchNorm trained, `--epochs` epochs of Adam at lr 1e-3): the same budget, only the start differs;
- scratch: the same network without pretrained weights, every layer and BatchNorm trained, `--epochs`
  epochs of Adam at lr 1e-3;
- MFCC + logistic regression: 13 MFCCs of the same log-mel spectrogram (`tf.signal`), their mean and
  standard deviation over time, standardised, into a softmax layer (multinomial logistic regression,
  Keras, 300 full-batch epochs of Adam).
No method sees the held-out speaker while training (no selection on it).
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_result  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerastl  # noqa: E402
from kerastl.data import FSDD_PATTERN, audio_folder  # noqa: E402
from kerastl.models import compile_task, log_mel  # noqa: E402

RECORDINGS = ROOT.parent / "shared" / "data" / "spoken_digits" / "recordings"
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
RATE = 8000
METHODS = ("pretrained, frozen", "pretrained, two-phase", "pretrained, every layer trained", "scratch",
           "mfcc + logistic regression")


def subset(folder: Path, held_out: str, per_digit: int) -> Path:
    """Links to the first `per_digit` recordings per digit of each training speaker, and all of `held_out`."""
    folder.mkdir()
    for clip in RECORDINGS.glob("*.wav"):
        _, speaker, index = clip.stem.split("_")
        if speaker == held_out or int(index) < per_digit:
            (folder / clip.name).symlink_to(clip)
    return folder


def accuracy(model: keras.Model, data) -> float:
    labels = np.concatenate([y.numpy() for _, y in data])
    return float((model.predict(data.map(lambda x, _: x), verbose=0).argmax(-1) == labels).mean())


def mfcc_logistic(train, val) -> float:
    frontend = log_mel(RATE)

    def features(data):
        x, y = zip(*((frontend(x), y.numpy()) for x, y in data))
        mfcc = tf.signal.mfccs_from_log_mel_spectrograms(tf.transpose(tf.concat(x, 0), (0, 2, 1)))[..., :13]
        return tf.concat([tf.reduce_mean(mfcc, 1), tf.math.reduce_std(mfcc, 1)], -1).numpy(), np.concatenate(y)

    (x, y), (xv, yv) = features(train), features(val)
    mean, std = x.mean(0), x.std(0) + 1e-6
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    model.fit((x - mean) / std, y, batch_size=len(x), epochs=300, verbose=0)
    return float((model.predict((xv - mean) / std, verbose=0).argmax(-1) == yv).mean())


def run(method: str, data, size: int, epochs: int) -> float:
    shape = (size, size, 3)
    if method == "mfcc + logistic regression":
        return mfcc_logistic(data.train, data.val)
    if method in ("scratch", "pretrained, every layer trained"):
        model = kerastl.build("efficientnet_lite0", 10, task="audio_classification", sample_rate=RATE,
                              input_shape=shape, weights=None if method == "scratch" else "imagenet", freeze=False,
                              train_bn=True, compile=False)
        compile_task(model, 1e-3)
        model.fit(data.train, epochs=epochs, verbose=0)
    else:
        model = kerastl.build("efficientnet_lite0", 10, task="audio_classification", sample_rate=RATE, input_shape=shape)
        recipe = "feature_extraction" if method == "pretrained, frozen" else "two_phase"
        kerastl.fine_tune(model, data.train, recipe=recipe, verbose=0)
    return accuracy(model, data.val)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-digit", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    args = parser.parse_args()
    methods = args.methods
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for per_digit in args.per_digit:
            for speaker in SPEAKERS:
                folder = subset(Path(tmp) / f"{per_digit}_{speaker}", speaker, per_digit)
                data = audio_folder(folder, sample_rate=RATE, seconds=1.0, label_pattern=FSDD_PATTERN,
                                    held_out_speakers=[speaker])
                for method in methods:
                    keras.utils.set_random_seed(0)
                    start = time.perf_counter()
                    score = run(method, data, args.size, args.epochs)
                    rows.append({"per_digit": per_digit, "held_out": speaker, "method": method,
                                 "accuracy": round(score, 4), "seconds": round(time.perf_counter() - start, 1)})
                    print(rows[-1], flush=True)
    summary = [{"per_digit": k, "method": m, "mean_accuracy": round(float(np.mean(
        [r["accuracy"] for r in rows if (r["per_digit"], r["method"]) == (k, m)])), 4),
        "per_speaker": {r["held_out"]: r["accuracy"] for r in rows if (r["per_digit"], r["method"]) == (k, m)},
        "mean_seconds": round(float(np.mean([r["seconds"] for r in rows if (r["per_digit"], r["method"]) == (k, m)])), 1)}
        for k in args.per_digit for m in methods]
    write_result("audio", {"data": "Free Spoken Digit Dataset, leave one speaker out", "image_size": args.size,
                           "scratch_epochs": args.epochs, "rows": summary},
                 command="python bench/audio.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
