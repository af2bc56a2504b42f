"""One worker of a 2-worker MultiWorkerMirroredStrategy run: python multi_worker.py INDEX PORT0 PORT1 OUT."""
import json
import os
import sys

index, ports, out = int(sys.argv[1]), sys.argv[2:4], sys.argv[4]
os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                      "task": {"type": "worker", "index": index}})

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerastl.distribute import get_strategy  # noqa: E402
from kerastl.train import fit_distributed  # noqa: E402

strategy = get_strategy("multi_worker")  # before any other TensorFlow op
keras.utils.set_random_seed(0)

def build(strategy):  # no BatchNorm (its statistics are per replica): one replica's half batch = half the batch
    with get_strategy(strategy).scope():
        model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255),
                                  keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


model = build(strategy)
initial = model.get_weights()
y = np.arange(32) % 3
x = (np.random.default_rng(0).uniform(0, 100, (32, 32, 32, 3)) + 70 * y[:, None, None, None]).astype("float32")
share = tf.data.Dataset.from_tensor_slices((x[index::2], y[index::2])).batch(4)  # this worker's half, 4 per replica
history = fit_distributed(model, share, epochs=2, validation_data=tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
weights = model.get_weights()
reference = build("default")  # Keras fit in one process, on the same global batches (worker 0's + worker 1's half)
reference.set_weights(initial)
expected = reference.fit(x, y, batch_size=8, shuffle=False, epochs=2, verbose=0,
                         validation_data=(x, y)).history
json.dump({"losses": history.history["loss"], "val_accuracy": history.history["val_accuracy"],
           "fit_losses": expected["loss"], "fit_val_accuracy": expected["val_accuracy"],
           "replicas": model.distribute_strategy.num_replicas_in_sync,
           "checksum": float(sum(np.abs(w).sum() for w in weights)),
           "first": float(weights[0].ravel()[0])}, open(out, "w"))
