"""`strategy=` names -> tf.distribute strategies; kerastl builds and compiles models in their scope."""
from __future__ import annotations

import tensorflow as tf

from kerastl.errors import InvalidArgumentError, KerastlError

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")


class NoAcceleratorError(KerastlError, RuntimeError):
    """The requested accelerator (a TPU) is not reachable from this process."""


def get_strategy(strategy: str | tf.distribute.Strategy | None = "default") -> tf.distribute.Strategy:
    """A strategy instance for a name (see STRATEGIES) or the instance itself.

    "auto": MirroredStrategy over all GPUs when there are several, else the default strategy.
    "mirrored": all local GPUs (or the logical CPU devices you configured). "multi_worker": the
    cluster in TF_CONFIG; create it first thing in the program, before any TensorFlow op (Keras 3
    `fit` cannot train under it: use `kerastl.train.fit_distributed`).
    """
    if strategy is None:
        strategy = "default"
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy not in STRATEGIES:
        raise InvalidArgumentError(f"strategy must be one of {STRATEGIES} or a tf.distribute.Strategy, got {strategy!r}")
    if strategy == "multi_worker":  # before any device query: collectives are configured at startup
        return tf.distribute.MultiWorkerMirroredStrategy()
    if strategy == "tpu":
        return _tpu()
    gpus = tf.config.list_logical_devices("GPU")
    if strategy == "auto":
        strategy = "mirrored" if len(gpus) > 1 else "default"
    if strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    cpus = tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy(None if gpus else [d.name for d in cpus])


def _tpu() -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.NotFoundError, tf.errors.UnavailableError) as error:
        raise NoAcceleratorError(
            f"strategy='tpu' found no TPU ({str(error).splitlines()[0]}); run on a TPU VM or Colab TPU "
            "runtime, or use strategy='auto'") from None
    return tf.distribute.TPUStrategy(resolver)
