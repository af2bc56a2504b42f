"""Train the same model on one device and under MirroredStrategy over 2 logical CPUs; print both losses."""
import json

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerastl  # noqa: E402

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).uniform(0, 255, (32, 32, 32, 3)).astype("float32")
y = np.arange(32) % 3
result, initial = {}, None
for name in ("default", "mirrored"):
    model = kerastl.build("efficientnet_lite0", num_classes=3, input_shape=(32, 32, 3), freeze=False,
                          dropout=0, strategy=name, learning_rate=1e-3)
    initial = initial or model.get_weights()
    model.set_weights(initial)
    history = model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0).history
    result[name] = {"loss": history["loss"], "replicas": model.distribute_strategy.num_replicas_in_sync}
print(json.dumps(result))
