"""Semantic segmentation on generated shapes (offline):  python examples/segmentation.py

EfficientNet-Lite0 (frozen, ImageNet) + a U-Net decoder over its feature pyramid, trained on cached
pyramid features; prints held-out mean IoU and exports SavedModel + TFLite, verified.
"""
import tempfile

import keras
import tensorflow as tf

import kerastl
from kerastl.data import shapes, shapes_classes
from kerastl.export import table
from kerastl.train import fit_head

train, held_out = shapes(400, 64, seed=0), shapes(100, 64, seed=1)
model = kerastl.build("efficientnet_lite0", num_classes=1 + len(shapes_classes), task="segmentation",
                      input_shape=(64, 64, 3))
fit_head(model, tf.data.Dataset.from_tensor_slices((train.images, train.masks)).batch(32), epochs=30,
         learning_rate=3e-3)
iou = keras.metrics.MeanIoU(1 + len(shapes_classes), sparse_y_pred=False)
iou.update_state(held_out.masks, model.predict(held_out.images, verbose=0))
print(f"held-out mean IoU: {float(iou.result()):.3f}")
report = kerastl.export(model, tempfile.mkdtemp(prefix="kerastl-segmentation-"), ("saved_model", "tflite"), quantize=("fp32", "fp16"),
                        labels=["background", *shapes_classes], verify_data=held_out.images)
print(table(report))
