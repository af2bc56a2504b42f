"""`strategy=` names -> tf.distribute strategies; kerastl builds and compiles models in their scope."""
from __future__ import annotations

import json
import os

import tensorflow as tf

from kerastl.errors import InvalidArgumentError, KerastlError

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")


class NoAcceleratorError(KerastlError, RuntimeError):
    """The requested accelerator (a TPU) is not reachable from this process."""


def get_strategy(strategy: str | tf.distribute.Strategy | None = "default") -> tf.distribute.Strategy:
    """A strategy instance for a name (see STRATEGIES) or the instance itself.

    "auto": the cluster in TF_CONFIG when it names several tasks (as a TFJob sets it), else
    MirroredStrategy over all GPUs when there are several, else the default strategy. "mirrored": all
    local GPUs (or the logical CPU devices you configured). "multi_worker": the cluster in TF_CONFIG
    (checked: `cluster_spec`); create it first thing in the program, before any TensorFlow op (Keras 3
    `fit` cannot train under it: kerastl's recipes then train with `kerastl.train.fit_distributed`).
    """
    if strategy is None:
        strategy = "default"
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy not in STRATEGIES:
        raise InvalidArgumentError(f"strategy must be one of {STRATEGIES} or a tf.distribute.Strategy, got {strategy!r}")
    if strategy == "auto" and sum(map(len, cluster_spec(required=False).get("cluster", {}).values())) > 1:
        strategy = "multi_worker"
    if strategy == "multi_worker":  # before any device query: collectives are configured at startup
        cluster_spec()
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


def cluster_spec(required: bool = True) -> dict:
    """TF_CONFIG, checked: {"cluster": {"chief"?: [host:port], "worker": [host:port, ...]}, "task": {"type":
    "chief"|"worker", "index": i}}. Unset: {} when not `required`. Anything else: an InvalidArgumentError
    naming the key that is wrong."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        if required:
            raise InvalidArgumentError("strategy 'multi_worker' needs TF_CONFIG, e.g. TF_CONFIG='{\"cluster\": "
                                       "{\"worker\": [\"host0:2222\", \"host1:2222\"]}, \"task\": {\"type\": "
                                       "\"worker\", \"index\": 0}}' (a TFJob sets it for every pod)")
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgumentError(f"TF_CONFIG is not valid JSON ({error}); it must be an object with keys "
                                   "'cluster' and 'task'") from None
    if not isinstance(config, dict):
        raise InvalidArgumentError("TF_CONFIG must be a JSON object with keys 'cluster' and 'task'")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise InvalidArgumentError("TF_CONFIG['cluster'] is missing or empty; it maps job names ('chief', "
                                   "'worker') to lists of 'host:port'")
    for job, addresses in cluster.items():
        if job not in ("chief", "worker"):
            raise InvalidArgumentError(f"TF_CONFIG['cluster'][{job!r}]: kerastl trains with "
                                       f"MultiWorkerMirroredStrategy, which has no {job!r} job; use 'chief' and 'worker'")
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses)):
            raise InvalidArgumentError(f"TF_CONFIG['cluster'][{job!r}] must be a non-empty list of 'host:port', "
                                       f"got {addresses!r}")
    if len(cluster.get("chief", [])) > 1:
        raise InvalidArgumentError(f"TF_CONFIG['cluster']['chief'] lists {len(cluster['chief'])} addresses; "
                                   "a cluster has at most one chief")
    if not isinstance(task, dict):
        raise InvalidArgumentError("TF_CONFIG['task'] is missing; it names this process, e.g. "
                                   "{'type': 'worker', 'index': 0}")
    if task.get("type") not in cluster:
        raise InvalidArgumentError(f"TF_CONFIG['task']['type'] is {task.get('type')!r}; it must be one of the "
                                   f"cluster's jobs {sorted(cluster)}")
    index = task.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[task["type"]]):
        raise InvalidArgumentError(f"TF_CONFIG['task']['index'] is {index!r}; it must be an integer from 0 to "
                                   f"{len(cluster[task['type']]) - 1} (cluster[{task['type']!r}] lists "
                                   f"{len(cluster[task['type']])} address(es))")
    return config


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """Whether `strategy` spans several processes (then Keras `fit` cannot train under it)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files: always, except the non-chief workers of a cluster."""
    return strategy.extended.should_checkpoint


def worker_shard(strategy: tf.distribute.Strategy) -> tuple[int, int]:
    """(this worker's position, number of workers): chief first, then TF_CONFIG's workers in order;
    (0, 1) for a single-process strategy."""
    if not is_multi_worker(strategy):
        return 0, 1
    config = cluster_spec()
    cluster, task = config["cluster"], config["task"]
    chiefs = len(cluster.get("chief", []))
    return (chiefs + task["index"] if task["type"] == "worker" else 0), chiefs + len(cluster.get("worker", []))


def sum_over_workers(strategy: tf.distribute.Strategy, value: float) -> float:
    """The sum of every worker's `value` (an all-reduce: every worker must call it at the same point)."""
    per_replica = tf.constant(value / len(strategy.extended.worker_devices), tf.float64)  # replicas of this worker
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.identity(per_replica)), axis=None))


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
