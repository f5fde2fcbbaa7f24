"""The paper's training protocol, resumable and reproducible.

Protocol (the authors' latest, leak-free code): Adam 1e-3, batch 128, 2000 epochs, class
weights n / (K · count_k), ReduceLROnPlateau on the *training* loss (factor 1/∛2, patience
100, min lr 1e-4), and the weights of the epoch with the minimum training loss are kept. The
test split is never read here.

Instead of `model.fit` (whose callbacks' state a restart loses) the loop runs one compiled
train step per batch over a dataset kept on the device, and owns all the state it needs to
continue exactly: weights, optimizer slots, dropout RNG state, plateau counter, best loss and
best weights. Each epoch's shuffle is drawn from (seed, epoch), so a killed-and-resumed run
replays the same batches as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_write, atomic_write_text
from .errors import ConfigError, LstmfcnError

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "lr", "seconds")


class TrainingInterrupted(LstmfcnError):
    """SIGTERM/SIGINT arrived: the resume state was saved; rerun the same command to go on."""

    exit_code = 143


@dataclass(frozen=True)
class TrainConfig:
    model: str = "lstmfcn"
    cells: int = 8
    epochs: int = 2000
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    plateau_patience: int = 100
    plateau_factor: float = 1.0 / 2.0 ** (1.0 / 3.0)
    plateau_min_lr: float = 1e-4
    plateau_min_delta: float = 1e-4  # Keras ReduceLROnPlateau's default, which the authors kept
    shuffle: bool = True  # the dimension shuffle: the whole series is one LSTM timestep
    checkpoint_every: int = 50  # epochs between resume states
    tf32: bool = False  # TF32 tensor-core maths allowed on GPUs (else full fp32)

    def validate(self) -> None:
        from .plan import MODEL_NAMES

        if self.model not in MODEL_NAMES:
            raise ConfigError(
                f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}"
            )
        for key in ("cells", "epochs", "batch_size", "plateau_patience", "checkpoint_every"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 < self.plateau_factor < 1:
            raise ConfigError(f"plateau_factor must be in (0, 1), got {self.plateau_factor}")

    def fingerprint(self, data_sha256: str) -> str:
        """Identity of a run for resuming: everything but the epoch budget (which may grow)."""
        d = asdict(self)
        d.pop("epochs")
        d.pop("checkpoint_every")
        if not d["tf32"]:
            d.pop("tf32")  # fp32 runs keep the identity they had before the option existed
        d["data"] = data_sha256
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Plateau:
    """Keras's ReduceLROnPlateau (mode min, cooldown 0) on the training loss, as plain state."""

    lr: float
    factor: float
    patience: int
    min_lr: float
    min_delta: float
    best: float = math.inf
    wait: int = 0

    def update(self, loss: float) -> float:
        if loss < self.best - self.min_delta:
            self.best = loss
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                if self.lr > np.float32(self.min_lr):
                    self.lr = max(self.lr * self.factor, self.min_lr)
                self.wait = 0
        return self.lr


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


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """n / (K · count_k), as the authors' code (sklearn's 'balanced')."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise LstmfcnError(f"classes {missing} have no training series")
    return (len(y) / (n_classes * counts)).astype(np.float32)


def model_input(X: np.ndarray, shuffle: bool) -> np.ndarray:
    """(n, T) → (n, 1, T) with the dimension shuffle, else (n, T, 1)."""
    X = np.asarray(X, dtype=np.float32)
    return X[:, None, :] if shuffle else X[:, :, None]


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of epoch `epoch`: a pure function of (seed, epoch), so resuming replays it."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def resume_path_for(model_path: Path) -> Path:
    return Path(model_path).with_name(Path(model_path).stem + ".resume.npz")


def history_path_for(model_path: Path) -> Path:
    return Path(model_path).with_name(Path(model_path).stem + "_history.csv")


def info_path_for(model_path: Path) -> Path:
    return Path(model_path).with_name(Path(model_path).stem + "_train.json")


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


def _compile(model, config: TrainConfig, weights: np.ndarray) -> None:
    import keras

    from .losses import ClassWeightedCrossEntropy
    from .runtime import jit_compile_setting

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss=ClassWeightedCrossEntropy(weights),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile_setting(),
    )
    model.optimizer.build(model.trainable_variables)


def _save_resume(path: Path, model, state: dict, best_weights: list[np.ndarray] | None) -> None:
    arrays = {f"var_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
    arrays.update(
        {f"opt_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)}
    )
    if best_weights is not None:
        arrays.update({f"best_{i}": w for i, w in enumerate(best_weights)})
    arrays["state_json"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)

    def write(f):
        np.savez(f, **arrays)

    atomic_write(path, write)


def _load_resume(path: Path, model) -> tuple[dict, list[np.ndarray] | None]:
    with np.load(path) as z:
        state = json.loads(bytes(z["state_json"]).decode())
        n_var, n_opt = len(model.variables), len(model.optimizer.variables)
        if state.get("n_variables") != [n_var, n_opt]:
            raise LstmfcnError(f"resume state {path} does not fit this model; delete it to restart")
        for i, v in enumerate(model.variables):
            v.assign(z[f"var_{i}"])
        for i, v in enumerate(model.optimizer.variables):
            v.assign(z[f"opt_{i}"])
        best = [z[f"best_{i}"] for i in range(len(model.weights))] if "best_0" in z.files else None
    return state, best


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

    from . import runtime
    from .models import build_model

    config.validate()
    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise ConfigError(f"the model file must end in .keras, got {model_path}")
    resume_path = resume_path_for(model_path)
    data_sha = dataset.meta.get("data_sha256", "")
    fingerprint = config.fingerprint(data_sha)

    runtime.seed_everything(config.seed)
    K = dataset.n_classes
    model = build_model(config.model, dataset.length, K, cells=config.cells, shuffle=config.shuffle)
    weights = class_weights(dataset.y_train, K)
    _compile(model, config, weights)

    # The whole training split lives on the device; batches are gathered there.
    X = keras.ops.convert_to_tensor(model_input(dataset.X_train, config.shuffle))
    y = keras.ops.convert_to_tensor(dataset.y_train.astype(np.int32))
    n = int(dataset.y_train.shape[0])

    plateau = Plateau(
        lr=config.learning_rate,
        factor=config.plateau_factor,
        patience=config.plateau_patience,
        min_lr=config.plateau_min_lr,
        min_delta=config.plateau_min_delta,
    )
    history: list[dict] = []
    best_loss, best_epoch, best_weights = math.inf, 0, None
    start_epoch, seconds_before, resumed_from = 0, 0.0, None

    if resume_path.exists():
        try:
            state, best_weights = _load_resume(resume_path, model)
        except (OSError, ValueError, KeyError) as e:
            log(f"warning: unreadable resume state {resume_path} ({e}); starting over")
            state = None
        if state is not None and state["fingerprint"] != fingerprint:
            log(
                f"warning: resume state {resume_path} belongs to another configuration; starting over"
            )
            runtime.seed_everything(config.seed)
            model = build_model(
                config.model, dataset.length, K, cells=config.cells, shuffle=config.shuffle
            )
            _compile(model, config, weights)
            state, best_weights = None, None
        if state is not None:
            start_epoch = resumed_from = state["next_epoch"]
            history = state["history"]
            best_loss, best_epoch = state["best_loss"], state["best_epoch"]
            seconds_before = state["seconds"]
            for k, v in state["plateau"].items():
                setattr(plateau, k, v)
            log(
                f"resuming {model_path.name} from epoch {start_epoch + 1} "
                f"(lr {plateau.lr:.6g}, best loss {best_loss:.6f} at epoch {best_epoch})"
            )

    def state_now(next_epoch: int, seconds: float) -> dict:
        return {
            "fingerprint": fingerprint,
            "next_epoch": next_epoch,
            "history": history,
            "best_loss": best_loss,
            "best_epoch": best_epoch,
            "seconds": seconds,
            "plateau": asdict(plateau),
            "n_variables": [len(model.variables), len(model.optimizer.variables)],
        }

    signals: dict = {}
    t_session = time.perf_counter()
    with _stop_on_signals(signals):
        for epoch in range(start_epoch, config.epochs):
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
            if loss < best_loss:  # ModelCheckpoint(monitor="loss", save_best_only=True)
                best_loss, best_epoch = loss, epoch + 1
                best_weights = [np.array(w) for w in model.get_weights()]
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
                    f"lr {lr_used:.3g}  {seconds:.3f}s  best {best_loss:.5f}@{best_epoch}"
                )
            done = epoch + 1 == config.epochs
            if not done and ((epoch + 1) % config.checkpoint_every == 0 or signals):
                elapsed = seconds_before + time.perf_counter() - t_session
                _save_resume(resume_path, model, state_now(epoch + 1, elapsed), best_weights)
            if signals and not done:
                raise TrainingInterrupted(
                    f"stopped by signal {signals['signal']} after epoch {epoch + 1}; resume state "
                    f"saved to {resume_path}: rerun the same command to continue"
                )

    total_seconds = seconds_before + time.perf_counter() - t_session
    if best_weights is not None:
        model.set_weights(best_weights)
    epochs_run = len(history)
    tmp_name = model_path.with_name(f".{model_path.stem}.partial.keras")
    model_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        model.save(tmp_name)
        tmp_name.replace(model_path)
    finally:
        tmp_name.unlink(missing_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(history_path_for(model_path), buf.getvalue())
    kept = history[best_epoch - 1] if best_epoch else {}
    info = {
        "config": asdict(config),
        "dataset": dataset.name,
        "data_sha256": data_sha,
        "best_epoch": best_epoch,
        "train_loss": kept.get("loss"),
        "train_accuracy": kept.get("accuracy"),
        "epochs_run": epochs_run,
        "seconds": total_seconds,
        "seconds_per_epoch_median": float(np.median([h["seconds"] for h in history]))
        if history
        else None,
        "resumed_from_epoch": resumed_from,
        "backend": keras.backend.backend(),
        "device": runtime.device_description(),
        "precision": runtime.precision(),
        "versions": runtime.versions(),
    }
    atomic_write_text(info_path_for(model_path), json.dumps(info, indent=2) + "\n")
    resume_path.unlink(missing_ok=True)
    sys.stdout.flush()
    return TrainResult(
        model_path=model_path,
        history=history,
        best_epoch=best_epoch,
        best_loss=best_loss,
        epochs_run=epochs_run,
        seconds=total_seconds,
        resumed_from=resumed_from,
        info=info,
    )
