"""Multi-label and regression heads on generated shapes (offline, ~30 s):
    python examples/multi_label_and_regression.py

multi_label: which of circle / square / triangle are in the image; regression: the share of the
image each one covers. Both on the frozen EfficientNet-Lite0, heads trained on cached features.
"""
import numpy as np
import tensorflow as tf

import kerastl
from kerastl.data import shapes, shapes_classes
from kerastl.train import fit_head

train, test = shapes(400, 64, seed=0), shapes(100, 64, seed=1)


def targets(data):
    present = np.stack([(data.labels == k).any(1) for k in range(len(shapes_classes))], 1).astype("float32")
    cover = np.stack([(data.masks == k + 1).mean((1, 2)) for k in range(len(shapes_classes))], 1).astype("float32")
    return present, cover


(present, cover), (test_present, test_cover) = targets(train), targets(test)
for task, y, y_test in (("multi_label", present, test_present), ("regression", cover, test_cover)):
    model = kerastl.build("efficientnet_lite0", num_classes=len(shapes_classes), task=task, input_shape=(64, 64, 3))
    fit_head(model, tf.data.Dataset.from_tensor_slices((train.images, y)).batch(32), epochs=60)
    print(task, model.evaluate(test.images, y_test, return_dict=True, verbose=0))
