"""tf.data pipelines for kerastl models (raw pixels in [0, 255], integer labels), speech clips (WAV
waveforms), text files and generated shapes (masks and boxes)."""
from kerastl.data.audio_folder import FSDD_PATTERN, AudioData, audio_folder
from kerastl.data.few_shot import few_shot_split, load_images
from kerastl.data.image_folder import ImageData, image_folder
from kerastl.data.shapes import CLASSES as shapes_classes
from kerastl.data.shapes import Shapes, shapes
from kerastl.data.text_file import text_lines
from kerastl.data.tfds_source import tfds_images

__all__ = [
    "FSDD_PATTERN", "AudioData", "audio_folder", "ImageData", "Shapes", "few_shot_split", "image_folder", "load_images", "shapes", "shapes_classes", "text_lines",
    "tfds_images",
]
