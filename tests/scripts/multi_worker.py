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

import kerastl  # noqa: E402
from kerastl.distribute import get_strategy  # noqa: E402
from kerastl.train import fit_distributed  # noqa: E402

strategy = get_strategy("multi_worker")  # before any other TensorFlow op
keras.utils.set_random_seed(0)
model = kerastl.build("mobilenet_v2", num_classes=3, weights=None, input_shape=(32, 32, 3), freeze=False,
                      dropout=0, strategy=strategy, learning_rate=1e-2)
x = np.random.default_rng(0).uniform(0, 255, (32, 32, 32, 3)).astype("float32")
data = tf.data.Dataset.from_tensor_slices((x, np.arange(32) % 3)).batch(8)
losses = fit_distributed(model, data, epochs=2, global_batch_size=8)
weights = model.get_weights()
json.dump({"losses": losses, "replicas": model.distribute_strategy.num_replicas_in_sync,
           "checksum": float(sum(np.abs(w).sum() for w in weights)),
           "first": float(weights[0].ravel()[0])}, open(out, "w"))
