"""TFLite Metadata: what MediaPipe Tasks (and Android Studio's model binding) read from a `.tflite` file.

Written with MediaPipe's own metadata writers and schema (`pip install kerastl[mobile]`), never by hand:
model name, version and description; the input as an RGB image with the normalisation that maps it
onto the model's own input (kerastl models take pixels in [0, 255] and normalise inside, so mean 0,
std 1), or for audio models as a mono waveform with its sample rate (`AudioProperties`); outputs as
MediaPipe's task contracts expect them:

| kerastl task | MediaPipe task | output metadata |
|---|---|---|
| classification, multi_label | ImageClassifier | probabilities + labels (TENSOR_AXIS_LABELS file) |
| audio_classification | AudioClassifier | probabilities + labels |
| segmentation | ImageSegmenter | per-pixel class probabilities + labels |
| embedding | ImageEmbedder | feature vector |
| regression | (none: the image input is described, the values are plain features) | feature vector |

Detection exports a SavedModel only: RetinaNet's raw per-anchor outputs would need MediaPipe's SSD
anchor options, which do not describe KerasHub's anchors.
"""
from __future__ import annotations

import sys
import types

from kerastl.errors import InvalidArgumentError

IMAGE_TASKS = ("classification", "multi_label", "segmentation", "embedding", "regression")
AUDIO_TASKS = ("audio_classification",)
CLASSIFIERS = ("classification", "multi_label", "audio_classification")  # probabilities + labels
_VERSION_MODULE = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
# Schema members newer than 1.0.0 that MediaPipe's writers can emit, with the parser version that reads
# them (the table of mediapipe/tasks/cc/metadata/metadata_version.cc); kerastl's metadata needs none.
_NEWER_MEMBERS = {"inputProcessUnits": "1.1.0", "outputProcessUnits": "1.1.0", "inputTensorGroups": "1.2.0",
                  "outputTensorGroups": "1.2.0", "customMetadata": "1.5.0"}


def with_metadata(model: bytes, *, task: str, name: str, version: int, description: str,
                  labels: list[str] | None = None, sample_rate: int | None = None) -> bytes:
    """`model` (TFLite flatbuffer bytes of an image or audio model) with TFLite Metadata for `task` and
    `labels` (one per output class; required for classifiers and segmentation) packed in; an audio
    model's input is described as a mono waveform at `sample_rate` Hz."""
    if task not in IMAGE_TASKS + AUDIO_TASKS:
        raise InvalidArgumentError(f"TFLite metadata describes image models ({', '.join(IMAGE_TASKS)}) and audio "
                                   f"classifiers ({', '.join(AUDIO_TASKS)}); a {task} model takes neither images "
                                   "nor a waveform (export it without TFLite metadata)")
    if task in AUDIO_TASKS and not (isinstance(sample_rate, int) and sample_rate > 0):
        raise InvalidArgumentError(f"audio metadata needs the model's sample_rate in Hz, got {sample_rate!r}")
    writers = _writers()
    writer = writers.MetadataWriter.create(bytearray(model))
    outputs = _output_shape(model)
    if task in CLASSIFIERS or task == "segmentation":
        if labels is None or len(labels) != outputs[-1]:
            raise InvalidArgumentError(f"{0 if labels is None else len(labels)} labels for a model with "
                                       f"{outputs[-1]} output classes: pass one label per class")
    writer.add_general_info(name, description)
    writer._general_md.version = str(version)  # add_general_info takes no version; GeneralMd has the field
    writer._general_md.author = "kerastl"
    if task in AUDIO_TASKS:  # MediaPipe's writer has no audio input of its own: the schema's AudioProperties
        writer._input_mds.append(_audio_input_md(writers.metadata_info, sample_rate))
    else:
        writer.add_image_input([0.0], [1.0])  # pixels in [0, 255]: the model normalises them itself
    if task in CLASSIFIERS:
        writer.add_classification_output(writers.Labels().add(list(labels)),
                                         description="Probability of each class (softmax, or sigmoid for multi-label).")
    elif task == "segmentation":
        writer.add_segmentation_output(writers.Labels().add(list(labels)))
    else:
        writer.add_feature_output(name="embedding" if task == "embedding" else "values")
    packed = bytes(writer.populate()[0])
    del writer, model  # mediapipe's C bindings keep this frame alive: it must not hold the writer or the model
    return packed


def _audio_input_md(metadata_info: types.ModuleType, sample_rate: int):
    """The input tensor's metadata as a mono waveform at `sample_rate` Hz (what AudioClassifier reads)."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as schema

    class AudioInputMd(metadata_info.TensorMd):
        def create_metadata(self):
            meta = super().create_metadata()
            meta.content.contentProperties.sampleRate, meta.content.contentProperties.channels = sample_rate, 1
            return meta

    return AudioInputMd(name="waveform", description=f"Mono waveform, float32 samples in [-1, 1] at {sample_rate} Hz.",
                        content_type=schema.ContentProperties.AudioProperties)


def _writers() -> types.ModuleType:
    """mediapipe's generic metadata writer, importable although the wheel lacks one compiled module."""
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        raise InvalidArgumentError("TFLite metadata needs mediapipe: pip install 'kerastl[mobile]'") from None
    if _VERSION_MODULE not in sys.modules:
        _install_version_module()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer
    return metadata_writer


def _install_version_module() -> None:
    """mediapipe 1.2.2's wheel lacks `_pywrap_metadata_version`, which its populator imports only to
    stamp the minimum metadata-parser version; this supplies it, computed from the same table."""
    parent = None
    for depth, part in enumerate(_VERSION_MODULE.split(".")[2:], start=3):  # the modules below mediapipe.tasks
        module = types.ModuleType(".".join(_VERSION_MODULE.split(".")[:depth]))
        module.__path__ = []
        sys.modules.setdefault(module.__name__, module)
        if parent is not None:
            setattr(parent, part, sys.modules[module.__name__])
        parent = sys.modules[module.__name__]
    parent.GetMinimumMetadataParserVersion = minimum_parser_version


def minimum_parser_version(metadata: bytes) -> str:
    """The oldest metadata parser that reads `metadata` (a ModelMetadata flatbuffer)."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as schema

    model = schema.ModelMetadataT.InitFromObj(schema.ModelMetadata.GetRootAsModelMetadata(metadata, 0))
    holders = [model, *(model.subgraphMetadata or [])]
    needed = [version for holder in holders for member, version in _NEWER_MEMBERS.items()
              if getattr(holder, member, None)]
    return max(needed, key=lambda v: tuple(map(int, v.split("."))), default="1.0.0")


def _output_shape(model: bytes) -> list[int]:
    from tensorflow.lite.python import schema_py_generated as schema  # the TFLite model schema kerastl reads

    graph = schema.Model.GetRootAsModel(model, 0).Subgraphs(0)
    return list(graph.Tensors(graph.Outputs(0)).ShapeAsNumpy())
