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

Resume states and outputs are those of the Keras loop, member by member, so either engine can
continue the other's run.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..models.checkpoint import model_input
from ..runs import beside_model
from .config import TrainConfig
from .loop import TrainingInterrupted, TrainResult, _start, _stop_on_signals
from .outputs import run_info, write_run
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
    import jax
    import jax.numpy as jnp

    _require_jax()
    check_group(configs)
    if len(model_paths) != len(configs):
        raise ConfigError("one model path per member of the group")
    config = configs[0]
    model_paths = [Path(p) for p in model_paths]
    weights = class_weights(dataset.y_train, dataset.n_classes, config.class_weighted)
    data_sha = dataset.meta.get("data_sha256", "")

    members, starts = [], []
    for c, path in zip(configs, model_paths, strict=True):
        if path.suffix != ".keras":
            raise ConfigError(f"the model file must end in .keras, got {path}")
        model, state, resumed = _start(dataset, c, path, c.fingerprint(data_sha), weights, log)
        members.append((model, state, resumed))
        starts.append(state.next_epoch)
    template = members[0][0]
    X_host = model_input(dataset.X_train, config.shuffle)
    y_host = dataset.y_train.astype(np.int32)
    # Builds the compiled metrics (train_on_batch does this on its first call).
    template._symbolic_build(data_batch=(X_host[:1], y_host[:1], None))
    layout = _Layout(template)
    arrays = [_member_arrays(m, s, layout) for m, s, _ in members]
    for a, start in zip(arrays, starts, strict=True):
        a["epoch"] = np.int32(start)
    state = jax.tree.map(jnp.asarray, _stack(arrays))
    X, y = jnp.asarray(X_host), jnp.asarray(y_host)
    n = int(len(y_host))
    run = _program(template, config, n, on_host_loop=on_cpu() if host_loop is None else host_loop)

    histories = [list(s.history) for _, s, _ in members]
    seconds_before = [s.seconds for _, s, _ in members]
    signals: dict = {}
    t_session = time.perf_counter()
    epoch = min(starts)
    # The host looks in every `chunk` epochs (for a stop signal), and writes resume states
    # every checkpoint_every epochs or when stopped.
    chunk = max(1, min(config.checkpoint_every, SIGNAL_EVERY, config.epochs - epoch))
    saved = epoch
    with _stop_on_signals(signals):
        while epoch < config.epochs:
            # Always `chunk` epochs a call (those past the budget inactive): one compilation.
            span = range(epoch, epoch + chunk)
            perms = np.stack(
                [[epoch_permutation(c.seed, e, n) for c in configs] for e in span]
            ).astype(np.int32)
            active = np.array([[s <= e < config.epochs for s in starts] for e in span])
            t0 = time.perf_counter()
            state, (losses, accs, lrs) = run(state, X, y, jnp.asarray(perms), jnp.asarray(active))
            losses, accs, lrs = (np.asarray(a, dtype=np.float64) for a in (losses, accs, lrs))
            # A member's share of the group's epoch, as with its total time.
            group_epoch = (time.perf_counter() - t0) / max(1, min(chunk, config.epochs - epoch))
            per_epoch = group_epoch / len(configs)
            best = np.asarray(state["best_loss"])
            best_epoch = np.asarray(state["best_epoch"])
            for k in range(len(configs)):
                for j, e in enumerate(span):
                    if not active[j, k]:
                        continue
                    row = {"epoch": e + 1, "loss": losses[j, k], "accuracy": accs[j, k]}
                    histories[k].append({**row, "lr": lrs[j, k], "seconds": per_epoch})
                    if log_every and ((e + 1) % log_every == 0 or e + 1 == config.epochs):
                        log(
                            f"seed {configs[k].seed}: epoch {e + 1}/{config.epochs}  "
                            f"loss {losses[j, k]:.5f}  acc {accs[j, k]:.4f}  lr {lrs[j, k]:.3g}"
                            f"  {per_epoch:.3f}s  best {best[k]:.5f}@{best_epoch[k]}"
                        )
            epoch = min(epoch + chunk, config.epochs)
            if epoch < config.epochs and (signals or epoch - saved >= config.checkpoint_every):
                saved = epoch
                _save_resume(
                    state,
                    members,
                    configs,
                    model_paths,
                    histories,
                    layout,
                    data_sha,
                    seconds_before,
                    time.perf_counter() - t_session,
                )
                if signals:
                    raise TrainingInterrupted(
                        f"stopped by signal {signals['signal']} after epoch {epoch}; resume "
                        f"states saved beside {model_paths[0].parent}: rerun the same command "
                        "to continue",
                        signals["signal"],
                    )

    total = time.perf_counter() - t_session
    host = jax.tree.map(np.asarray, state)
    results = []
    for k, (c, path) in enumerate(zip(configs, model_paths, strict=True)):
        model, _, resumed = members[k]
        best_epoch = int(host["best_epoch"][k])
        member = _member(host, k)
        kept = layout.to_weights(member["best_tv"], member["best_ntv"]) if best_epoch else None
        _assign(model, member)  # the final state, as the Keras loop's model ends; then the kept
        if kept is not None:
            model.set_weights(kept)
        # Each member's share of the group's time, so that runs' times add up.
        seconds = seconds_before[k] + total / len(configs)
        info = run_info(dataset, c, histories[k], best_epoch, seconds, resumed, engine="jax")
        info["group_seeds"] = [g.seed for g in configs]
        info["group_seconds"] = total
        write_run(path, model, histories[k], info)
        results.append(
            TrainResult(
                model_path=path,
                history=histories[k],
                best_epoch=best_epoch,
                best_loss=float(host["best_loss"][k]),
                epochs_run=len(histories[k]),
                seconds=seconds,
                resumed_from=resumed,
                info=info,
            )
        )
    for path in model_paths:  # only once every member's files are written
        beside_model(path, "resume").unlink(missing_ok=True)
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


def _save_resume(state, members, configs, paths, histories, layout, data_sha, before, elapsed):
    """Each member's resume state, in the Keras loop's format (its variables in its model)."""
    import jax

    host = jax.tree.map(np.asarray, state)
    for k, (c, path) in enumerate(zip(configs, paths, strict=True)):
        model = members[k][0]
        m = _member(host, k)
        _assign(model, m)
        plateau = Plateau.of(c)
        plateau.lr, plateau.best, plateau.wait = (
            float(m["lr"]),
            float(m["plateau_best"]),
            int(m["wait"]),
        )
        best_epoch = int(m["best_epoch"])
        ResumeState(
            fingerprint=c.fingerprint(data_sha),
            plateau=plateau,
            next_epoch=int(m["epoch"]),
            history=histories[k],
            best_loss=float(m["best_loss"]),
            best_epoch=best_epoch,
            best_weights=layout.to_weights(m["best_tv"], m["best_ntv"]) if best_epoch else None,
            seconds=before[k] + elapsed / len(configs),
        ).save(beside_model(path, "resume"), model)
