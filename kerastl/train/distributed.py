"""A custom distributed training loop, for strategies Keras 3 `fit` cannot run (MultiWorkerMirrored:
keras-team/keras#20585). Same model, optimizer and task loss as `fit`; one `strategy.run` step per batch."""
from __future__ import annotations

import keras
import tensorflow as tf

from kerastl.heads import head_of


def fit_distributed(model: keras.Model, dataset: tf.data.Dataset, *, epochs: int, global_batch_size: int) -> list[float]:
    """Train `model` (built with `strategy=`, compiled) on `dataset` (batched by `global_batch_size`,
    the same on every worker: the strategy shards it). Returns the mean loss of each epoch."""
    strategy = model.distribute_strategy
    loss = head_of(model).loss()
    per_example = loss.call if isinstance(loss, keras.losses.Loss) else keras.losses.get(loss)
    optimizer = model.optimizer
    with strategy.scope():
        optimizer.build(model.trainable_variables)

    def replica_step(images, targets):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            loss = tf.nn.compute_average_loss(per_example(targets, outputs), global_batch_size=global_batch_size)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def step(images, targets):
        losses = strategy.run(replica_step, args=(images, targets))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    history = []
    for _ in range(epochs):
        total, batches = 0.0, 0
        for images, targets in strategy.experimental_distribute_dataset(dataset):
            total += float(step(images, targets))
            batches += 1
        history.append(total / max(batches, 1))
    return history
