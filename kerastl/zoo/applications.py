"""Every keras.applications family as zoo specs: one table, one constructor."""
from __future__ import annotations

import functools

import keras

from kerastl.zoo.registry import register
from kerastl.zoo.spec import BackboneSpec, Preprocessing

# The three normalisations of keras.applications' `preprocess_input`, as data.
TF = Preprocessing(scale=1 / 127.5, offset=-1.0)
TORCH = Preprocessing(
    scale=tuple(1 / (255 * s) for s in (0.229, 0.224, 0.225)),
    offset=tuple(-m / s for m, s in zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))),
)
CAFFE = Preprocessing(offset=(-103.939, -116.779, -123.68), reverse_channels=True)  # BGR means
INTERNAL = None  # EfficientNet(V2), ConvNeXt, MobileNetV3 normalise inside the network

_KERAS_LICENCE = "weights: see https://keras.io/api/applications/ (upstream licences per family)"

# family -> (preprocessing, block pattern, block marker, min input size, description)
FAMILIES = {
    "ConvNeXt": (INTERNAL, r"(?:stage_|downsampling_block_)(\d)", "start", 32, "ConvNeXt (2022)"),
    "DenseNet": (TORCH, r"^(conv[2-5])_block|^(pool[2-4])_", "start", 32, "DenseNet (2017)"),
    "EfficientNet": (INTERNAL, r"^(block\d|top)", "start", 32, "EfficientNet (2019)"),
    "EfficientNetV2": (INTERNAL, r"^(block\d|top)", "start", 32, "EfficientNetV2 (2021)"),
    "InceptionV3": (TF, r"^(mixed\d+)$", "end", 75, "Inception v3 (2015)"),
    "InceptionResNetV2": (
        TF, r"^(mixed_5b|block35|mixed_6a|block17|mixed_7a|block8|conv_7b)(?:_\d+)?(?:_ac|_bn)?$",
        "end", 75, "Inception-ResNet v2 (2016)"),
    "MobileNet": (TF, r"^conv_(?:dw|pw|pad)_(\d+)", "start", 32, "MobileNet v1 (2017)"),
    "MobileNetV2": (TF, r"^(block_\d+|expanded_conv)_|^(Conv_1)", "start", 32, "MobileNet v2 (2018)"),
    "MobileNetV3": (INTERNAL, r"^(expanded_conv(?:_\d+)?)_|^(conv_1)", "start", 32, "MobileNet v3 (2019)"),
    "NASNet": (TF, r"^(?:normal|reduction)_concat_(\w+)$", "end", 32, "NASNet (2018)"),
    "ResNet": (CAFFE, r"^(conv[2-5])_block", "start", 32, "ResNet v1 (2015)"),
    "ResNetV2": (TF, r"^(conv[2-5])_block", "start", 32, "ResNet v2 (2016)"),
    "VGG": (CAFFE, r"^(block\d)_", "start", 32, "VGG (2014)"),
    "Xception": (TF, r"^(block\d+)_", "start", 71, "Xception (2017)"),
}

# keras.applications name -> (family, default input size)
MODELS = {
    **{f"ConvNeXt{v}": ("ConvNeXt", 224) for v in ("Tiny", "Small", "Base", "Large", "XLarge")},
    **{f"DenseNet{d}": ("DenseNet", 224) for d in (121, 169, 201)},
    **{f"EfficientNetB{i}": ("EfficientNet", s) for i, s in enumerate((224, 240, 260, 300, 380, 456, 528, 600))},
    **{f"EfficientNetV2B{i}": ("EfficientNetV2", s) for i, s in enumerate((224, 240, 260, 300))},
    "EfficientNetV2S": ("EfficientNetV2", 384),
    "EfficientNetV2M": ("EfficientNetV2", 480),
    "EfficientNetV2L": ("EfficientNetV2", 480),
    "InceptionV3": ("InceptionV3", 299),
    "InceptionResNetV2": ("InceptionResNetV2", 299),
    "MobileNet": ("MobileNet", 224),
    "MobileNetV2": ("MobileNetV2", 224),
    "MobileNetV3Small": ("MobileNetV3", 224),
    "MobileNetV3Large": ("MobileNetV3", 224),
    "NASNetMobile": ("NASNet", 224),
    "NASNetLarge": ("NASNet", 331),
    **{f"ResNet{d}": ("ResNet", 224) for d in (50, 101, 152)},
    **{f"ResNet{d}V2": ("ResNetV2", 224) for d in (50, 101, 152)},
    "VGG16": ("VGG", 224),
    "VGG19": ("VGG", 224),
    "Xception": ("Xception", 299),
}

# Zoo names are keras' names lowercased, except where an alias below needs the plain name.
ZOO_NAMES = {"MobileNet": "mobilenet_v1"}

ALIASES = {
    "efficientnet": "EfficientNetB0",
    "efficientnetv2": "EfficientNetV2B0",
    "resnet": "ResNet50",
    "resnetv2": "ResNet50V2",
    "mobilenet": "MobileNetV2",
    "mobilenetv3": "MobileNetV3Small",
    "convnext": "ConvNeXtTiny",
    "densenet": "DenseNet121",
    "inception": "InceptionV3",
    "inception_resnet": "InceptionResNetV2",
    "nasnet": "NASNetMobile",
    "vgg": "VGG16",
}


def _construct(app_name: str, name: str, preprocessing: Preprocessing | None, input_shape, weights) -> keras.Model:
    inputs = keras.Input(input_shape, name="pixels")
    x = preprocessing.apply(inputs) if preprocessing else inputs
    app = getattr(keras.applications, app_name)
    # input_shape too: MobileNets pick their resolution-specific weights from it
    model = app(include_top=False, weights=weights, input_tensor=x, input_shape=tuple(input_shape))
    return keras.Model(inputs, model.output, name=name)


def _register_all() -> None:
    for app_name, (family, size) in MODELS.items():
        pre, pattern, marker, min_size, about = FAMILIES[family]
        name = ZOO_NAMES.get(app_name, app_name.lower())
        register(
            BackboneSpec(
                name=name,
                family=family,
                source="keras.applications",
                constructor=functools.partial(_construct, app_name, name, pre),
                input_size=size,
                preprocessing=pre,
                block_pattern=pattern,
                block_marker=marker,
                min_size=min_size,
                licence=_KERAS_LICENCE,
                description=f"keras.applications.{app_name}: {about}",
            ),
            aliases=tuple(a for a, target in ALIASES.items() if target == app_name),
        )


_register_all()
