"""Sentiment with a frozen vs fine-tuned MiniLM encoder vs a bag-of-words baseline, in domain and under shift.

    .venv/bin/python bench/text.py [--epochs 3]

Train on Amazon + Yelp sentences (1600 of 2000, fixed shuffle), test on the other 400 (in domain) and
on all 1000 IMDb sentences (domain shift). Bag of words: TF-IDF of uni+bigrams (TextVectorization,
fitted on the training split) + logistic regression. Frozen: the head on cached mean-pooled MiniLM
features (100 epochs). Fine-tuned: the whole encoder at lr 3e-5 for `--epochs` epochs.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_result  # noqa: E402

import keras  # noqa: E402

import kerastl  # noqa: E402
from kerastl.data import text_lines  # noqa: E402
from kerastl.train import split_at_features  # noqa: E402

TEXT = ROOT.parent / "shared" / "data" / "text" / "sentiment_sentences"


def accuracy(predict, x, y) -> float:
    return round(float((np.asarray(predict(x)).argmax(1) == y).mean()), 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    texts, labels = text_lines(TEXT / "amazon_cells_labelled.txt", TEXT / "yelp_labelled.txt")
    order = np.random.default_rng(0).permutation(len(texts))
    texts, labels = np.array(texts)[order], labels[order]
    (x, y), (xh, yh) = (texts[:1600], labels[:1600]), (texts[1600:], labels[1600:])
    imdb, imdb_y = text_lines(TEXT / "imdb_labelled.txt")
    imdb = np.array(imdb)
    rows = []

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    vectorize = keras.layers.TextVectorization(max_tokens=20000, ngrams=2, output_mode="tf_idf")
    vectorize.adapt(x)
    bow = keras.Sequential([keras.Input((vectorize.vocabulary_size(),)), keras.layers.Dense(2, activation="softmax")])
    bow.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    bow.fit(vectorize(x), y, epochs=30, batch_size=32, verbose=0)
    predict = lambda t: bow.predict(vectorize(t), verbose=0)  # noqa: E731
    rows.append({"model": "bag of words (TF-IDF 1-2 grams + logistic regression)", "held_out": accuracy(predict, xh, yh),
                 "imdb": accuracy(predict, imdb, imdb_y), "train_seconds": round(time.perf_counter() - start, 1)})
    print(rows[-1], flush=True)

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    frozen = kerastl.build("minilm", num_classes=2, task="text_classification")
    extractor, head = split_at_features(frozen)
    features = extractor.predict(frozen.preprocessor(x), batch_size=64, verbose=0)
    head.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    head.fit(features, y, epochs=100, batch_size=32, verbose=0)
    predict = lambda t: frozen.predict(t, batch_size=64, verbose=0)  # noqa: E731
    rows.append({"model": "MiniLM-L6 frozen, mean-pooled features + softmax head", "held_out": accuracy(predict, xh, yh),
                 "imdb": accuracy(predict, imdb, imdb_y), "train_seconds": round(time.perf_counter() - start, 1)})
    print(rows[-1], flush=True)

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    tuned = kerastl.build("minilm", num_classes=2, task="text_classification", freeze=False, learning_rate=3e-5)
    tuned.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0)
    predict = lambda t: tuned.predict(t, batch_size=64, verbose=0)  # noqa: E731
    rows.append({"model": f"MiniLM-L6 fine-tuned ({args.epochs} epochs, lr 3e-5)", "held_out": accuracy(predict, xh, yh),
                 "imdb": accuracy(predict, imdb, imdb_y), "train_seconds": round(time.perf_counter() - start, 1)})
    print(rows[-1], flush=True)
    write_result("text", {"train": "amazon + yelp, 1600 sentences", "held_out": "amazon + yelp, 400 sentences",
                          "shift": "imdb, 1000 sentences", "sequence_length": 128, "rows": rows},
                 command="python bench/text.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
