"""Image retrieval embeddings on real sign-digit photos (offline; needs ../shared):  python examples/embedding.py

Lite0 frozen + a 64-d L2-normalised projection trained with a supervised contrastive loss on
20 photos per class; prints 1-nearest-neighbour accuracy of 500 held-out queries before and after.
"""
import tensorflow as tf

import kerastl
from kerastl.data import few_shot_split, load_images
from kerastl.train import fit_head

train, held_out = few_shot_split("../shared/data/sign_digits", 20, 500, seed=0)
(x, y), (xq, yq) = load_images(train, 112), load_images(held_out, 112)
model = kerastl.build("efficientnet_lite0", 64, task="embedding", input_shape=(112, 112, 3))


def nearest_neighbour_accuracy() -> float:
    gallery, queries = model.predict(x, verbose=0), model.predict(xq, verbose=0)
    return float((y[(queries @ gallery.T).argmax(1)] == yq).mean())  # unit vectors: dot = cosine


print(f"1-NN accuracy, random projection: {nearest_neighbour_accuracy():.3f}")
fit_head(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(64), epochs=40, batch_size=64)
print(f"1-NN accuracy, trained embedding:  {nearest_neighbour_accuracy():.3f}")
