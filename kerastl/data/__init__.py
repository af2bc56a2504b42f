"""tf.data pipelines for kerastl models (raw pixels in [0, 255], integer labels)."""
from kerastl.data.few_shot import few_shot_split, load_images
from kerastl.data.image_folder import ImageData, image_folder

__all__ = ["ImageData", "few_shot_split", "image_folder", "load_images"]
