"""The paper's training protocol, resumable and reproducible: the epoch loop of one run.

Protocol (the authors' latest, leak-free code): Adam 1e-3, batch 128, 2000 epochs, class
weights n / (K · count_k), ReduceLROnPlateau on the *training* loss (factor 1/∛2, patience
100, min lr 1e-4), and the weights of the epoch with the minimum training loss are kept. The
test split is never read here.

Instead of `model.fit` (whose callbacks' state a restart loses) the loop runs one compiled
train step per batch over a dataset kept on the device, and owns all the state it needs to
continue exactly (:class:`~lstmfcn_bench.training.resume.ResumeState`). Each epoch's shuffle is
drawn from (seed, epoch), so a killed-and-resumed run replays the same batches as an
uninterrupted one.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, LstmfcnError
from ..models.checkpoint import model_input
from ..runs import beside_model
from .config import TrainConfig
from .outputs import run_info, write_run
from .protocol import Plateau, class_weights, epoch_permutation, new_model
from .resume import ResumeState


class TrainingInterrupted(LstmfcnError):
    """SIGTERM/SIGINT arrived: the resume state was saved; rerun the same command to go on.
    The exit status is the shell's for that signal (143 for SIGTERM, 130 for SIGINT)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


@dataclass
class TrainResult:
    model_path: Path
    history: list[dict]
    best_epoch: int
    best_loss: float
    epochs_run: int
    seconds: float
    resumed_from: int | None = None
    info: dict = field(default_factory=dict)


@contextlib.contextmanager
def _stop_on_signals(state: dict):
    """SIGTERM (what SLURM sends before SIGKILL) and SIGINT only set a flag: the loop ends the
    epoch, saves the resume state and then stops."""

    def handler(signum, frame):
        state["signal"] = signum

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _set_aside(resume_path: Path, why: str, log) -> None:
    """Keep an unusable resume state for inspection, out of the way of the next attempt."""
    damaged = resume_path.with_name(resume_path.name + ".unusable")
    resume_path.replace(damaged)
    log(f"warning: resume state {resume_path} {why}; set aside as {damaged.name}, starting over")


def _start(dataset, config: TrainConfig, model_path: Path, fingerprint: str, weights, log):
    """A compiled model and the state to continue from: the resume state's when it is readable
    and of this run, else a freshly built model and a fresh state (nothing of a state that
    failed to load stays in the model)."""
    resume_path = beside_model(model_path, "resume")
    model = new_model(config, dataset.length, dataset.n_classes, weights)
    fresh = ResumeState(fingerprint, Plateau.of(config))
    if not resume_path.exists():
        return model, fresh, None
    unusable = (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        EOFError,
        zipfile.BadZipFile,
        LstmfcnError,
    )
    try:
        if ResumeState.fingerprint_of(resume_path) != fingerprint:
            _set_aside(resume_path, "belongs to another configuration", log)
            return model, fresh, None  # nothing was loaded into this model
        state = ResumeState.load(resume_path, model)
    except unusable as e:
        why = " ".join(str(e).split()) or type(e).__name__
        _set_aside(resume_path, f"is unreadable ({why})", log)
        return new_model(config, dataset.length, dataset.n_classes, weights), fresh, None
    if state.next_epoch > config.epochs:
        raise ConfigError(
            f"{resume_path} has already trained {state.next_epoch} epochs, more than "
            f"--epochs {config.epochs}: rerun with --epochs {state.next_epoch} or more to "
            "continue it, or delete it to start over"
        )
    log(
        f"resuming {model_path.name} from epoch {state.next_epoch + 1} "
        f"(lr {state.plateau.lr:.6g}, best loss {state.best_loss:.6f} at epoch {state.best_epoch})"
    )
    return model, state, state.next_epoch


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
    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise ConfigError(f"the model file must end in .keras, got {model_path}")
    resume_path = beside_model(model_path, "resume")
    fingerprint = config.fingerprint(dataset.meta.get("data_sha256", ""))
    weights = class_weights(dataset.y_train, dataset.n_classes, config.class_weighted)
    model, state, resumed_from = _start(dataset, config, model_path, fingerprint, weights, log)
    plateau, history = state.plateau, state.history

    # The whole training split lives on the device; batches are gathered there.
    X = keras.ops.convert_to_tensor(model_input(dataset.X_train, config.shuffle))
    y = keras.ops.convert_to_tensor(dataset.y_train.astype(np.int32))
    n = int(dataset.y_train.shape[0])

    signals: dict = {}
    t_session = time.perf_counter()
    seconds_before = state.seconds
    with _stop_on_signals(signals):
        for epoch in range(state.next_epoch, config.epochs):
            t0 = time.perf_counter()
            model.optimizer.learning_rate.assign(plateau.lr)
            perm = epoch_permutation(config.seed, epoch, n)
            loss_sum = acc_sum = 0.0
            for lo in range(0, n, config.batch_size):
                idx = keras.ops.convert_to_tensor(
                    perm[lo : lo + config.batch_size].astype(np.int32)
                )
                logs = model.train_on_batch(
                    keras.ops.take(X, idx, axis=0), keras.ops.take(y, idx, axis=0), return_dict=True
                )
                bs = min(config.batch_size, n - lo)
                # Keras's epoch loss: the batch losses' mean weighted by batch size.
                loss_sum += logs["loss"] * bs
                acc_sum += logs["accuracy"] * bs
            loss, acc = loss_sum / n, acc_sum / n
            lr_used = plateau.lr
            if loss < state.best_loss:  # ModelCheckpoint(monitor="loss", save_best_only=True)
                state.best_loss, state.best_epoch = loss, epoch + 1
                state.best_weights = [np.array(w) for w in model.get_weights()]
            plateau.update(loss)
            seconds = time.perf_counter() - t0
            history.append(
                {
                    "epoch": epoch + 1,
                    "loss": loss,
                    "accuracy": acc,
                    "lr": lr_used,
                    "seconds": seconds,
                }
            )
            if log_every and ((epoch + 1) % log_every == 0 or epoch + 1 == config.epochs):
                log(
                    f"epoch {epoch + 1}/{config.epochs}  loss {loss:.5f}  acc {acc:.4f}  "
                    f"lr {lr_used:.3g}  {seconds:.3f}s  best {state.best_loss:.5f}@{state.best_epoch}"
                )
            done = epoch + 1 == config.epochs
            if not done and ((epoch + 1) % config.checkpoint_every == 0 or signals):
                state.next_epoch = epoch + 1
                state.seconds = seconds_before + time.perf_counter() - t_session
                state.save(resume_path, model)
            if signals and not done:
                raise TrainingInterrupted(
                    f"stopped by signal {signals['signal']} after epoch {epoch + 1}; resume state "
                    f"saved to {resume_path}: rerun the same command to continue",
                    signals["signal"],
                )

    total_seconds = seconds_before + time.perf_counter() - t_session
    if state.best_weights is not None:
        model.set_weights(state.best_weights)
    info = run_info(dataset, config, history, state.best_epoch, total_seconds, resumed_from)
    write_run(model_path, model, history, info)
    resume_path.unlink(missing_ok=True)
    sys.stdout.flush()
    return TrainResult(
        model_path=model_path,
        history=history,
        best_epoch=state.best_epoch,
        best_loss=state.best_loss,
        epochs_run=len(history),
        seconds=total_seconds,
        resumed_from=resumed_from,
        info=info,
    )
