"""The life of one training run, whichever engine trains it: the Keras loop (loop.py) and the
JAX engine (jax_engine.py) share every step here.

A run's model file must be a ``.keras`` (:func:`check_model_path`); it starts from its resume
state when one is readable and of this run, else afresh (:func:`start`); SIGTERM/SIGINT only
mark the run to stop (:class:`StopSignals`), so the engine ends its epoch, saves the resume
state and raises :class:`TrainingInterrupted`; every epoch adds one history row and, every
``log_every`` epochs, one progress line (:func:`record_epoch`); a finished run writes its
files (:func:`finish`) and then drops its resume state (:func:`discard_resume`).
"""

from __future__ import annotations

import signal
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..data.splits import check_oriented, data_identity
from ..errors import ConfigError, LstmfcnError
from ..runs import beside_model
from .config import TrainConfig
from .epoch_line import format_line
from .outputs import run_info, write_run
from .protocol import Plateau, new_model
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


def check_model_path(model_path) -> Path:
    """``model_path`` as a Path, or ConfigError when it does not end in ``.keras``."""
    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise ConfigError(f"the model file must end in .keras, got {model_path}")
    return model_path


# --- start or resume ----------------------------------------------------------------------------

#: What an unusable resume state raises while it is read.
_UNUSABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, LstmfcnError)


def set_aside(resume_path: Path, why: str, log) -> None:
    """Keep an unusable resume state for inspection, out of the way of the next attempt."""
    damaged = resume_path.with_name(resume_path.name + ".unusable")
    resume_path.replace(damaged)
    log(f"warning: resume state {resume_path} {why}; set aside as {damaged.name}, starting over")


def start(dataset, config: TrainConfig, model_path: Path, weights, log):
    """``(model, state, resumed_from)``: a compiled model and the state to continue from: the
    resume state's when it is readable and of this run, else a freshly built model and a fresh
    state (nothing of a state that failed to load stays in the model); ``resumed_from`` is the
    epoch the run continues after, None for a fresh start."""
    check_oriented(dataset, config.split)
    resume_path = beside_model(model_path, "resume")
    fingerprint = config.fingerprint(data_identity(dataset))
    model = new_model(config, dataset.length, dataset.n_classes, weights)
    fresh = ResumeState(fingerprint, Plateau.of(config))
    if not resume_path.exists():
        return model, fresh, None
    try:
        if ResumeState.fingerprint_of(resume_path) != fingerprint:
            set_aside(resume_path, "belongs to another configuration", log)
            return model, fresh, None  # nothing was loaded into this model
        state = ResumeState.load(resume_path, model)
    except _UNUSABLE as e:
        why = " ".join(str(e).split()) or type(e).__name__
        set_aside(resume_path, f"is unreadable ({why})", log)
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


# --- stop signals -------------------------------------------------------------------------------


class StopSignals:
    """While entered, SIGTERM (what SLURM sends before SIGKILL) and SIGINT only mark the run to
    stop (true once one arrived): the engine ends its epoch, saves the resume state and then
    raises :meth:`interrupted`."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def __bool__(self) -> bool:
        return self.signum is not None

    def _handler(self, signum, frame) -> None:
        self.signum = signum

    def __enter__(self) -> StopSignals:
        self._previous = {
            s: signal.signal(s, self._handler) for s in (signal.SIGTERM, signal.SIGINT)
        }
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)

    def interrupted(self, epoch: int, saved: str) -> TrainingInterrupted:
        """The error that ends a stopped run after ``epoch`` epochs; ``saved`` says where its
        resume state went."""
        return TrainingInterrupted(
            f"stopped by signal {self.signum} after epoch {epoch}; {saved}: rerun the same "
            "command to continue",
            self.signum,
        )


# --- per epoch ----------------------------------------------------------------------------------


def record_epoch(
    history: list[dict],
    row: dict,
    best: tuple,
    *,
    epochs: int,
    log,
    log_every: int,
    prefix: str = "",
) -> None:
    """Append an epoch's history ``row`` (epoch, loss, accuracy, lr, seconds) and, every
    ``log_every`` epochs and at the last, its progress line with the ``best`` (loss, epoch) so
    far; ``prefix`` names the member of a group."""
    history.append(row)
    epoch = row["epoch"]
    if log_every and (epoch % log_every == 0 or epoch == epochs):
        log(format_line(row, best, epochs, prefix))


# --- finish -------------------------------------------------------------------------------------


def finish(
    dataset,
    config: TrainConfig,
    model_path: Path,
    model,
    history: list[dict],
    best: tuple,
    kept_weights,
    seconds: float,
    resumed_from: int | None,
    *,
    engine: str = "keras",
    extra: dict | None = None,
) -> TrainResult:
    """Put the ``kept_weights`` (those of the ``best`` (loss, epoch); None: the model's own)
    into the model, write the run's ``.keras``, history CSV and ``_train.json`` (``extra``
    added to its record) and return its result. The resume state stays until
    :func:`discard_resume`."""
    if kept_weights is not None:
        model.set_weights(kept_weights)
    best_loss, best_epoch = best
    info = run_info(dataset, config, history, best_epoch, seconds, resumed_from, engine=engine)
    info.update(extra or {})
    write_run(model_path, model, history, info)
    return TrainResult(
        model_path=model_path,
        history=history,
        best_epoch=best_epoch,
        best_loss=best_loss,
        epochs_run=len(history),
        seconds=seconds,
        resumed_from=resumed_from,
        info=info,
    )


def discard_resume(model_paths: list[Path]) -> None:
    """Delete the resume states of finished runs (once all their files are written)."""
    for path in model_paths:
        beside_model(path, "resume").unlink(missing_ok=True)
