"""tf.data pipelines for kerastl models (raw pixels in [0, 255], integer labels)."""
from kerastl.data.image_folder import ImageData, image_folder

__all__ = ["ImageData", "image_folder"]
