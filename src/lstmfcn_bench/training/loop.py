"""The paper's training protocol, resumable and reproducible: the epoch loop of one run.

Protocol (the authors' latest, leak-free code): Adam 1e-3, batch 128, 2000 epochs, class
weights n / (K · count_k), ReduceLROnPlateau on the *training* loss (factor 1/∛2, patience
100, min lr 1e-4), and the weights of the epoch with the minimum training loss are kept. The
test split is never read here.

Instead of `model.fit` (whose callbacks' state a restart loses) the loop runs one compiled
train step per batch over a dataset kept on the device, and owns all the state it needs to
continue exactly (:class:`~lstmfcn_bench.training.resume.ResumeState`). Each epoch's shuffle is
drawn from (seed, epoch), so a killed-and-resumed run replays the same batches as an
uninterrupted one. Starting, resuming, stopping on a signal, the history and the finish are
the run's life (lifecycle.py), which the JAX engine shares.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ..models.checkpoint import model_input
from ..runs import beside_model
from .clock import RunClock
from .config import TrainConfig
from .lifecycle import (
    StopSignals,
    TrainResult,
    check_model_path,
    discard_resume,
    finish,
    record_epoch,
    start,
)
from .protocol import class_weights, epoch_permutation
from .resume import ResumeState


def train(
    dataset,
    config: TrainConfig,
    model_path: Path,
    *,
    log=print,
    log_every: int = 1,
) -> TrainResult:
    """Train one run and write ``model_path`` (.keras, the kept weights), its history CSV and
    a ``_train.json``; resume from ``<stem>.resume.npz`` when a previous attempt left one."""
    import keras

    config.validate()
    model_path = check_model_path(model_path)
    weights = class_weights(dataset.y_train, dataset.n_classes, config.class_weighted)
    model, state, resumed_from = start(dataset, config, model_path, weights, log)

    # The whole training split lives on the device; batches are gathered there.
    X = keras.ops.convert_to_tensor(model_input(dataset.X_train, config.shuffle))
    y = keras.ops.convert_to_tensor(dataset.y_train.astype(np.int32))
    seconds = _run_epochs(
        model, state, config, X, y, beside_model(model_path, "resume"), log, log_every
    )

    result = finish(
        dataset,
        config,
        model_path,
        model,
        state.history,
        (state.best_loss, state.best_epoch),
        state.best_weights,
        seconds,
        resumed_from,
    )
    discard_resume([model_path])
    sys.stdout.flush()
    return result


def _run_epochs(
    model, state: ResumeState, config: TrainConfig, X, y, resume_path: Path, log, log_every: int
) -> float:
    """Train from ``state.next_epoch`` to the budget, keeping ``state`` current and saving it
    every ``checkpoint_every`` epochs and on a stop signal; the run's seconds, earlier
    attempts' included."""
    n = int(y.shape[0])
    seconds_before = state.seconds
    with StopSignals() as stop, RunClock(log) as clock:
        for epoch in range(state.next_epoch, config.epochs):
            t0 = time.perf_counter()
            lr_used = state.plateau.lr
            loss, acc = _one_epoch(model, config, X, y, epoch, n, lr_used)
            if loss < state.best_loss:  # ModelCheckpoint(monitor="loss", save_best_only=True)
                state.best_loss, state.best_epoch = loss, epoch + 1
                state.best_weights = [np.array(w) for w in model.get_weights()]
            state.plateau.update(loss)
            row = {
                "epoch": epoch + 1,
                "loss": loss,
                "accuracy": acc,
                "lr": lr_used,
                "seconds": time.perf_counter() - t0,
            }
            best = (state.best_loss, state.best_epoch)
            record_epoch(
                state.history, row, best, epochs=config.epochs, log=log, log_every=log_every
            )
            if epoch + 1 == config.epochs:
                break
            if (epoch + 1) % config.checkpoint_every == 0 or stop:
                state.next_epoch = epoch + 1
                state.seconds = seconds_before + clock.elapsed()
                state.save(resume_path, model)
            if stop:
                raise stop.interrupted(epoch + 1, f"resume state saved to {resume_path}")
    return seconds_before + clock.elapsed()


def _one_epoch(model, config: TrainConfig, X, y, epoch: int, n: int, lr: float):
    """One epoch at learning rate ``lr``, its batches in the (seed, epoch) order: its loss and
    accuracy as Keras reports an epoch's (the batches' means weighted by batch size)."""
    import keras

    model.optimizer.learning_rate.assign(lr)
    perm = epoch_permutation(config.seed, epoch, n)
    loss_sum = acc_sum = 0.0
    for lo in range(0, n, config.batch_size):
        idx = keras.ops.convert_to_tensor(perm[lo : lo + config.batch_size].astype(np.int32))
        logs = model.train_on_batch(
            keras.ops.take(X, idx, axis=0), keras.ops.take(y, idx, axis=0), return_dict=True
        )
        bs = min(config.batch_size, n - lo)
        loss_sum += logs["loss"] * bs
        acc_sum += logs["accuracy"] * bs
    return loss_sum / n, acc_sum / n
