"""The README's quick start on the bundled sign-digit photos (offline):  python examples/quickstart.py"""
import kerastl
from kerastl.data import image_folder
from kerastl.demo import DATA

data = image_folder(DATA, image_size=(224, 224))  # DATA/train/<class>, DATA/val/<class>
model = kerastl.build("efficientnet_lite", num_classes=len(data.class_names))
kerastl.fine_tune(model, data.train, data.val, recipe="two_phase", fine_tune_epochs=2)
print(model.evaluate(data.val, return_dict=True, verbose=0))
print(kerastl.blocks(model))
