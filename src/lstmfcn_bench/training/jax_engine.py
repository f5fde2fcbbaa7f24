"""The JAX engine: the runs of a group (one dataset, model and cells; several seeds) trained as
one compiled program.

Each member is the run :func:`lstmfcn_bench.training.loop.train` would train, with the same
maths: the same Keras model and train step (``model.train_step``, what ``train_on_batch``
compiles under JAX), its own initial weights, dropout seed state, BatchNorm statistics, Adam
slots, learning rate and plateau state, and the batch order drawn from (seed, epoch). The
members are stacked and ``jax.vmap``-ed; an epoch is a ``lax.scan`` over its full batches and
then one step on the smaller last batch (so BatchNorm sees exactly its rows); many epochs run
per call (``lax.scan`` again), and the host sees the device only every ``checkpoint_every``
epochs, to log, write each member's resume state and look for a stop signal. The plateau
schedule and the minimum-training-loss weights are kept inside the program.

Resume states and outputs are those of the Keras loop, member by member (both engines live a
run's life as lifecycle.py has it), so either engine can continue the other's run.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..models.checkpoint import model_input
from ..runs import beside_model
from . import lifecycle
from .clock import RunClock
from .config import TrainConfig
from .lifecycle import TrainResult
from .protocol import Plateau, class_weights, epoch_permutation
from .resume import ResumeState

#: At most this many epochs per device call: how long a stop signal may wait.
SIGNAL_EVERY = 10


def check_group(configs: list[TrainConfig]) -> None:
    """A group is one run configuration over several distinct seeds."""
    if not configs:
        raise ConfigError("a training group needs at least one seed")
    for c in configs:
        c.validate()
    first = configs[0]
    for c in configs[1:]:
        if dataclasses.replace(c, seed=first.seed) != first:
            raise ConfigError("the runs of a group may differ only in their seed")
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"a group's seeds must differ, got {seeds}")


def _require_jax() -> None:
    import keras

    if keras.backend.backend() != "jax":
        raise ConfigError(
            f"engine jax needs Keras on JAX (KERAS_BACKEND=jax), this process runs on "
            f"{keras.backend.backend()}"
        )


class _Layout:
    """Where each of ``model.weights`` sits among the trainable and non-trainable variables
    (the resume state and the saved files speak of weights, the program of variables)."""

    def __init__(self, model):
        trainable = {id(v): i for i, v in enumerate(model.trainable_variables)}
        other = {id(v): i for i, v in enumerate(model.non_trainable_variables)}
        self.weights = [
            ("t", trainable[id(w)]) if id(w) in trainable else ("n", other[id(w)])
            for w in model.weights
        ]

    def to_weights(self, tv: list, ntv: list) -> list[np.ndarray]:
        return [np.asarray(tv[i] if kind == "t" else ntv[i]) for kind, i in self.weights]

    def from_weights(self, weights: list, tv: list, ntv: list) -> tuple[list, list]:
        tv, ntv = list(tv), list(ntv)
        for (kind, i), w in zip(self.weights, weights, strict=True):
            (tv if kind == "t" else ntv)[i] = np.asarray(w)
        return tv, ntv


def _member_arrays(model, state: ResumeState, layout: _Layout) -> dict:
    """One member's program state, as NumPy arrays, from its model and resume state."""
    tv = [np.asarray(v.value) for v in model.trainable_variables]
    ntv = [np.asarray(v.value) for v in model.non_trainable_variables]
    best_tv, best_ntv = (
        layout.from_weights(state.best_weights, tv, ntv) if state.best_weights else (tv, ntv)
    )
    p = state.plateau
    return {
        "tv": tv,
        "ntv": ntv,
        "ov": [np.asarray(v.value) for v in model.optimizer.variables],
        "lr": np.float32(p.lr),
        "plateau_best": np.float32(p.best),
        "wait": np.int32(p.wait),
        "best_loss": np.float32(state.best_loss),
        "best_epoch": np.int32(state.best_epoch),
        "best_tv": best_tv,
        "best_ntv": best_ntv,
        "epoch": np.int32(state.next_epoch),  # the member's start
    }


def _stack(members: list[dict]):
    import jax

    return jax.tree.map(lambda *xs: np.stack(xs), *members)


def on_cpu() -> bool:
    import jax

    return jax.devices()[0].platform == "cpu"


def _unrolled(epoch):
    """``epoch`` over the members one after another inside one program: the vmap of a CPU."""
    import jax
    import jax.numpy as jnp

    def members(s, X, y, perms, active):
        k = perms.shape[0]
        outs = [
            epoch(jax.tree.map(lambda a, i=i: a[i], s), X, y, perms[i], active[i]) for i in range(k)
        ]
        return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)

    return members


def _program(model, config: TrainConfig, n: int, on_host_loop: bool):
    """``run(state, X, y, perms, active)``: ``perms`` (epochs, members, n) batch orders,
    ``active`` (epochs, members) which members train that epoch. Returns the new state and,
    per epoch and member, (loss, accuracy, learning rate).

    On accelerators the whole span of epochs is one compiled program. XLA's CPU backend runs
    convolutions inside a loop construct tens of times slower than outside one (jax-ml/jax
    issue 12868; 1.2 s against 20 ms per LSTM-FCN step here), so on a CPU
    (``on_host_loop``) each epoch is one compiled call with its batches and its members
    unrolled, dispatched from the host without waiting for the device."""
    import jax
    import jax.numpy as jnp

    lr_index = next(
        i for i, v in enumerate(model.optimizer.variables) if v.path.endswith("learning_rate")
    )
    metrics0 = [jnp.asarray(v.value) for v in model.metrics_variables]
    bs = config.batch_size
    n_full, rest = divmod(n, bs)
    factor = np.float32(config.plateau_factor)
    min_lr = np.float32(config.plateau_min_lr)
    min_delta = np.float32(config.plateau_min_delta)

    def step(carry, idx, X, y):
        tv, ntv, ov = carry
        # train_on_batch resets the metrics before every batch: its logs are the batch's.
        logs, (tv, ntv, ov, _) = model.train_step(
            (tv, ntv, ov, metrics0), (jnp.take(X, idx, axis=0), jnp.take(y, idx, axis=0))
        )
        size = np.float32(idx.shape[0])
        return (tv, ntv, ov), (logs["loss"] * size, logs["accuracy"] * size)

    def epoch(s, X, y, perm, active):
        ov = list(s["ov"])
        ov[lr_index] = s["lr"]
        carry = (s["tv"], s["ntv"], ov)
        loss_sum = acc_sum = jnp.float32(0.0)
        if n_full:
            batches = perm[: n_full * bs].reshape(n_full, bs)
            carry, (losses, accs) = jax.lax.scan(
                lambda c, idx: step(c, idx, X, y), carry, batches, unroll=on_host_loop
            )
            loss_sum, acc_sum = losses.sum(), accs.sum()
        if rest:
            carry, (loss_r, acc_r) = step(carry, perm[n_full * bs :], X, y)
            loss_sum, acc_sum = loss_sum + loss_r, acc_sum + acc_r
        tv, ntv, ov = carry
        loss, acc = loss_sum / np.float32(n), acc_sum / np.float32(n)
        lr_used = s["lr"]
        # ModelCheckpoint(monitor="loss", save_best_only=True), then ReduceLROnPlateau.
        improved = loss < s["best_loss"]
        better = loss < s["plateau_best"] - min_delta
        wait = jnp.where(better, 0, s["wait"] + 1)
        reduce = wait >= config.plateau_patience
        lr = jnp.where(reduce & (lr_used > min_lr), jnp.maximum(lr_used * factor, min_lr), lr_used)
        new = {
            "tv": tv,
            "ntv": ntv,
            "ov": ov,
            "lr": lr,
            "plateau_best": jnp.where(better, loss, s["plateau_best"]),
            "wait": jnp.where(reduce, 0, wait).astype(jnp.int32),
            "best_loss": jnp.where(improved, loss, s["best_loss"]),
            "best_epoch": jnp.where(improved, s["epoch"] + 1, s["best_epoch"]),
            "best_tv": jax.tree.map(lambda a, b: jnp.where(improved, a, b), tv, s["best_tv"]),
            "best_ntv": jax.tree.map(lambda a, b: jnp.where(improved, a, b), ntv, s["best_ntv"]),
            "epoch": s["epoch"] + 1,
        }
        # A member not training this epoch (it resumed further on) keeps its state.
        kept = jax.tree.map(lambda a, b: jnp.where(active, a, b), new, s)
        return kept, (loss, acc, lr_used)

    # Vmapped convolutions become grouped ones, which XLA's CPU backend runs 1.4-2x slower than
    # the members' convolutions one after another (bench/README.md).
    members = _unrolled(epoch) if on_host_loop else jax.vmap(epoch, in_axes=(0, None, None, 0, 0))
    if on_host_loop:
        one_epoch = jax.jit(members)

        def run(state, X, y, perms, active):
            outs = []
            for perm, on in zip(perms, active, strict=True):
                state, out = one_epoch(state, X, y, perm, on)
                outs.append(out)
            return state, tuple(jnp.stack(parts) for parts in zip(*outs, strict=True))

        return run

    def scanned(state, X, y, perms, active):
        return jax.lax.scan(lambda s, xs: members(s, X, y, *xs), state, (perms, active))

    return jax.jit(scanned)


def train_group(
    dataset,
    configs: list[TrainConfig],
    model_paths: list[Path],
    *,
    log=print,
    log_every: int = 1,
    host_loop: bool | None = None,
) -> list[TrainResult]:
    """Train the runs ``configs`` (one configuration, several seeds) as one program and write
    each member's ``.keras``, history CSV and ``_train.json`` at ``model_paths``; resume every
    member from its resume state when a previous attempt left one. ``host_loop``: the CPU's
    program (one call per epoch, batches and members unrolled) or the accelerators' (an
    interval per call, members vmapped); by default the one that suits the device."""
    _require_jax()
    check_group(configs)
    if len(model_paths) != len(configs):
        raise ConfigError("one model path per member of the group")
    members = _start_members(dataset, configs, model_paths, log)
    X_host = model_input(dataset.X_train, configs[0].shuffle)
    y_host = dataset.y_train.astype(np.int32)
    template = members[0].model
    # Builds the compiled metrics (train_on_batch does this on its first call).
    template._symbolic_build(data_batch=(X_host[:1], y_host[:1], None))
    layout = _Layout(template)
    state = _initial_state(members, layout)
    on_host_loop = on_cpu() if host_loop is None else host_loop
    run = _program(template, configs[0], len(y_host), on_host_loop=on_host_loop)
    state, seconds = _run_epochs(members, layout, run, state, X_host, y_host, log, log_every)
    return _finish_members(dataset, members, layout, state, seconds)


@dataclasses.dataclass
class _Member:
    """One run of a group as it started: its settings, model file, Keras model (the group's
    state goes back into it to be saved), resume state and history so far."""

    config: TrainConfig
    path: Path
    model: object
    state: ResumeState
    resumed_from: int | None
    history: list[dict]


def _start_members(dataset, configs, model_paths, log) -> list[_Member]:
    """Each member started or resumed as the Keras loop starts a run."""
    weights = class_weights(dataset.y_train, dataset.n_classes, configs[0].class_weighted)
    members = []
    for c, path in zip(configs, model_paths, strict=True):
        path = lifecycle.check_model_path(path)
        model, state, resumed = lifecycle.start(dataset, c, path, weights, log)
        members.append(_Member(c, path, model, state, resumed, list(state.history)))
    return members


def _initial_state(members: list[_Member], layout: _Layout):
    """The program's state: every member's, stacked, on the device."""
    import jax
    import jax.numpy as jnp

    arrays = [_member_arrays(m.model, m.state, layout) for m in members]
    return jax.tree.map(jnp.asarray, _stack(arrays))


def _run_epochs(members, layout, run, state, X_host, y_host, log, log_every):
    """Train every member from where it starts to the budget, ``chunk`` epochs a call, the host
    looking in after each call (for a stop signal) and writing resume states every
    checkpoint_every epochs or when stopped. The new state and the group's seconds."""
    import jax.numpy as jnp

    config = members[0].config
    X, y = jnp.asarray(X_host), jnp.asarray(y_host)
    n = int(len(y_host))
    epoch = min(m.state.next_epoch for m in members)
    chunk = max(1, min(config.checkpoint_every, SIGNAL_EVERY, config.epochs - epoch))
    saved = epoch
    with lifecycle.StopSignals() as stop, RunClock(log) as clock:
        while epoch < config.epochs:
            # Always `chunk` epochs a call (those past the budget inactive): one compilation.
            span = range(epoch, epoch + chunk)
            perms, active = _schedule(members, span, n)
            t0 = time.perf_counter()
            state, outs = run(state, X, y, jnp.asarray(perms), jnp.asarray(active))
            outs = tuple(np.asarray(a, dtype=np.float64) for a in outs)
            # A member's share of the group's epoch, as with its total time.
            group_epoch = (time.perf_counter() - t0) / max(1, min(chunk, config.epochs - epoch))
            _record(members, state, span, active, outs, group_epoch / len(members), log, log_every)
            epoch = min(epoch + chunk, config.epochs)
            if epoch < config.epochs and (stop or epoch - saved >= config.checkpoint_every):
                saved = epoch
                _save_resume(state, members, layout, clock.elapsed())
                if stop:
                    where = f"resume states saved beside {members[0].path.parent}"
                    raise stop.interrupted(epoch, where)
    return state, clock.elapsed()


def _schedule(members: list[_Member], span: range, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The batch orders (epochs, members, n) of the epochs ``span`` and which members train in
    each (epochs, members): those that have reached their start and not the budget."""
    epochs = members[0].config.epochs
    perms = np.stack(
        [[epoch_permutation(m.config.seed, e, n) for m in members] for e in span]
    ).astype(np.int32)
    active = np.array([[m.state.next_epoch <= e < epochs for m in members] for e in span])
    return perms, active


def _record(members, state, span, active, outs, per_epoch, log, log_every) -> None:
    """Each active member's history rows and progress lines of the epochs ``span``."""
    losses, accs, lrs = outs
    best = np.asarray(state["best_loss"])
    best_epoch = np.asarray(state["best_epoch"])
    for k, m in enumerate(members):
        for j, e in enumerate(span):
            if not active[j, k]:
                continue
            row = {"epoch": e + 1, "loss": losses[j, k], "accuracy": accs[j, k]}
            lifecycle.record_epoch(
                m.history,
                {**row, "lr": lrs[j, k], "seconds": per_epoch},
                (best[k], best_epoch[k]),
                epochs=m.config.epochs,
                log=log,
                log_every=log_every,
                prefix=f"seed {m.config.seed}: ",
            )


def _finish_members(dataset, members, layout, state, total: float) -> list[TrainResult]:
    """Each member's files, as the Keras loop writes a run's, and its result; the resume
    states go only once every member's files are written."""
    import jax

    host = jax.tree.map(np.asarray, state)
    results = []
    for k, m in enumerate(members):
        best_epoch = int(host["best_epoch"][k])
        values = _member(host, k)
        kept = layout.to_weights(values["best_tv"], values["best_ntv"]) if best_epoch else None
        _assign(m.model, values)  # the final state, as the Keras loop's model ends; then the kept
        # Each member's share of the group's time, so that runs' times add up.
        seconds = m.state.seconds + total / len(members)
        best = (float(host["best_loss"][k]), best_epoch)
        results.append(
            lifecycle.finish(
                dataset,
                m.config,
                m.path,
                m.model,
                m.history,
                best,
                kept,
                seconds,
                m.resumed_from,
                engine="jax",
                extra={"group_seeds": [g.config.seed for g in members], "group_seconds": total},
            )
        )
    lifecycle.discard_resume([m.path for m in members])
    return results


def _member(host: dict, k: int) -> dict:
    import jax

    return jax.tree.map(lambda a: a[k], host)


def _assign(model, member: dict) -> None:
    """One member's variables (weights, BatchNorm statistics, seed state, optimizer) into its
    Keras model, for the files that are written from the model."""
    for variables, values in (
        (model.trainable_variables, member["tv"]),
        (model.non_trainable_variables, member["ntv"]),
        (model.optimizer.variables, member["ov"]),
    ):
        for v, value in zip(variables, values, strict=True):
            v.assign(value)


def _save_resume(state, members: list[_Member], layout: _Layout, elapsed: float) -> None:
    """Each member's resume state, in the Keras loop's format (its variables in its model)."""
    import jax

    host = jax.tree.map(np.asarray, state)
    for k, m in enumerate(members):
        values = _member(host, k)
        _assign(m.model, values)
        plateau = Plateau.of(m.config)
        plateau.lr, plateau.best, plateau.wait = (
            float(values["lr"]),
            float(values["plateau_best"]),
            int(values["wait"]),
        )
        best_epoch = int(values["best_epoch"])
        kept = layout.to_weights(values["best_tv"], values["best_ntv"]) if best_epoch else None
        ResumeState(
            fingerprint=m.state.fingerprint,
            plateau=plateau,
            next_epoch=int(values["epoch"]),
            history=m.history,
            best_loss=float(values["best_loss"]),
            best_epoch=best_epoch,
            best_weights=kept,
            seconds=m.state.seconds + elapsed / len(members),
        ).save(beside_model(m.path, "resume"), m.model)
