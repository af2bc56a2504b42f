"""Object detection on generated shapes (offline, ~1 min):  python examples/detection.py

KerasHub RetinaNet over the frozen EfficientNet-Lite0 feature pyramid; boxes are yxyx pixels.
Trains on 64 images, prints recall at IoU 0.5 on 32 new ones, and exports a verified SavedModel.
"""
import tempfile

import numpy as np

import kerastl
from kerastl.data import shapes, shapes_classes
from kerastl.export import table


def iou(a, b) -> float:
    top, left = np.maximum(a[:2], b[:2])
    bottom, right = np.minimum(a[2:], b[2:])
    inter = max(0.0, bottom - top) * max(0.0, right - left)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


train, test = shapes(64, 128, seed=0), shapes(32, 128, seed=1)
model = kerastl.build("efficientnet_lite0", num_classes=len(shapes_classes), task="detection", input_shape=(128, 128, 3))
model.fit(train.images, {"boxes": train.boxes, "labels": train.labels}, epochs=40, batch_size=16, verbose=0)
found = model.predict(test.images, batch_size=16, verbose=0)  # keep one batch size: KerasHub's NMS wants it static
hits = [any(found["labels"][i][k] == label and iou(box, found["boxes"][i][k]) >= 0.5
            for k in range(int(found["num_detections"][i])))
        for i in range(len(test.images)) for box, label in zip(test.boxes[i], test.labels[i]) if label >= 0]
print(f"recall at IoU 0.5 on new images: {np.mean(hits):.3f}")
print(table(kerastl.export(model, tempfile.mkdtemp(prefix="kerastl-detection-"), ("saved_model",), verify_data=test.images)))
