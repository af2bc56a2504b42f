"""Keras `fit` for models built under MultiWorkerMirroredStrategy, which Keras 3 `fit` cannot train
(keras-team/keras#20585): the model's own `train_step`/`test_step` run per replica, the optimizer
all-reduces the gradients, and the callbacks see `fit`'s epoch events."""
from __future__ import annotations

import math

import keras
import tensorflow as tf

from kerastl.distribute import is_multi_worker, sum_over_workers


def fit(model: keras.Model, data, **kwargs) -> keras.callbacks.History:
    """`model.fit(data, **kwargs)`; for a model built under a multi-worker strategy, `fit_distributed`
    (`data` and `validation_data` then tf.data datasets: this worker's share, and the whole validation set)."""
    if not is_multi_worker(model.distribute_strategy):
        return model.fit(data, **kwargs)
    kwargs.pop("verbose", None)
    return fit_distributed(model, data, **kwargs)


def fit_distributed(model: keras.Model, dataset: tf.data.Dataset, *, epochs: int, initial_epoch: int = 0,
                    validation_data: tf.data.Dataset | None = None, callbacks: list | None = None,
                    steps_per_epoch: int | None = None) -> keras.callbacks.History:
    """Train `model` (built with `strategy=`, compiled) like `model.fit`, on every worker of its cluster.

    `dataset`: this worker's own share of the training data, batched per replica (global batch /
    `num_replicas_in_sync`). Every worker runs `steps_per_epoch` steps an epoch (default: the mean number
    of batches of the workers' shares, rounded up; a shorter share wraps around). `validation_data`: the
    whole validation set, scored by every worker; metric sums are all-reduced, so all workers log, and
    their callbacks decide (early stopping), on the same numbers. Callbacks get `fit`'s epoch events; a
    `BackupAndRestore` restores on the chief, and every worker then starts from the chief's state.
    """
    strategy = model.distribute_strategy
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
    steps = steps_per_epoch or math.ceil(sum_over_workers(strategy, count_batches(dataset)) / strategy.num_replicas_in_sync)
    iterator = iter(strategy.distribute_datasets_from_function(lambda _: dataset.repeat()))
    history = keras.callbacks.History()
    callbacks = keras.callbacks.CallbackList([*(callbacks or []), history], model=model, epochs=epochs, steps=steps)

    @tf.function
    def train_epoch(iterator):
        for _ in tf.range(steps):
            strategy.run(model.train_step, args=(next(iterator),))

    @tf.function
    def test_step(batch):
        strategy.run(model.test_step, args=(batch,))

    model.stop_training, model._initial_epoch = False, None  # BackupAndRestore sets _initial_epoch, as for fit
    callbacks.on_train_begin()
    start = _from_chief(strategy, [*model.variables, *model.optimizer.variables], model._initial_epoch or initial_epoch)
    logs = {}
    for epoch in range(start, epochs):
        callbacks.on_epoch_begin(epoch)
        model.reset_metrics()
        train_epoch(iterator)
        logs = _metrics(model)
        if validation_data is not None:
            model.reset_metrics()
            for batch in validation_data:
                test_step(batch)
            logs |= {f"val_{name}": value for name, value in _metrics(model).items()}
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callbacks.on_train_end(logs)
    return history


def count_batches(dataset: tf.data.Dataset) -> int:
    """Batches in one pass of `dataset`: its cardinality, else counted by a pass."""
    count = int(dataset.cardinality())
    return count if count >= 0 else int(dataset.reduce(0, lambda n, _: n + 1))  # a stream: one pass (it caches)


def _metrics(model: keras.Model) -> dict[str, float]:
    """The compiled metrics over all workers (their variables are summed across replicas on read)."""
    return {name: float(value) for name, value in model.get_metrics_result().items()}


def _from_chief(strategy: tf.distribute.Strategy, variables: list, epoch: int) -> int:
    """Every worker takes the chief's (replica 0's) values of `variables`, and its `epoch`: an all-reduce
    sum of the chief's values and everyone else's zeros, in float64 (exact for float32 and int counters).
    Returns the chief's epoch."""

    @tf.function
    def sync():
        def replica():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            values = [tf.convert_to_tensor(epoch, tf.float64), *(v.value for v in variables)]
            values = [tf.cast(x, tf.float64) for x in values]  # one dtype: the all-reduce packs them together
            return context.all_reduce(tf.distribute.ReduceOp.SUM, [tf.where(first, x, tf.zeros_like(x)) for x in values])

        start, *values = strategy.experimental_local_results(strategy.run(replica))[0]
        for variable, value in zip(variables, values):
            variable.assign(tf.cast(value, variable.dtype))
        return start

    return int(sync())
