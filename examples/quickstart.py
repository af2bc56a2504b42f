"""The README's quick start on the bundled sign-digit photos (offline):  python examples/quickstart.py [SIZE]

SIZE: image size in pixels (default 224, the backbone's own; smaller is faster and less accurate).
"""
import sys

import kerastl
from kerastl.data import image_folder
from kerastl.demo import DATA

size = int(sys.argv[1]) if len(sys.argv) > 1 else 224
data = image_folder(DATA, image_size=(size, size))  # DATA/train/<class>, DATA/val/<class>
model = kerastl.build("efficientnet_lite", num_classes=len(data.class_names), input_shape=(size, size, 3))
kerastl.fine_tune(model, data.train, data.val, recipe="two_phase", fine_tune_epochs=2)
print(model.evaluate(data.val, return_dict=True, verbose=0))
print(kerastl.blocks(model))
