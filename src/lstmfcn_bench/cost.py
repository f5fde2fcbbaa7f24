"""What the protocol costs per dataset, and which datasets fit a budget: the cost model.

One run-epoch of a dataset with ``n`` training series of length ``T`` takes
``steps = ceil(n / batch_size)`` optimizer steps and ``FLOPs = 6 · n · T · 263168`` (the conv
branch's multiply-accumulates per timestep, × 2 FLOPs per MAC, × 3 for forward, gradient
with respect to the activations and to the weights; the LSTM on one timestep and the dense
head are small beside it). Its seconds are modelled as
``seconds_per_step · steps + seconds_per_gflop · GFLOPs``: the first term is the per-step
cost that dominates small datasets (launches, the loop's own work), the second the arithmetic
that dominates large ones. A :class:`CostModel` holds the two constants and where they came
from: :data:`DEFAULT` (figures measured on this project's CPU machines) or :func:`calibrate`
(a short real training here, now).

:func:`ordered` ranks datasets cheapest first; :func:`within_budget` keeps the cheapest prefix
whose estimated hours fit a budget, which is what the workflow's ``budget_hours`` plans and
``lstmfcn plan`` prints.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .data import registry, splits
from .errors import ConfigError
from .models.architecture import CONV_BLOCKS
from .training.config import PAPER_EPOCHS


def _conv_macs_per_step(blocks, channels: int = 1) -> int:
    """Forward multiply-accumulates per timestep and sample of conv ``blocks`` ((filters,
    kernel size) each, "same" padding) over a series of ``channels`` channels."""
    macs = 0
    for filters, kernel_size in blocks:
        macs += channels * filters * kernel_size
        channels = filters
    return macs


#: Forward multiply-accumulates of the conv branch per timestep and sample: its blocks
#: (models/architecture.py: Conv1D(128, 8) on 1 channel + Conv1D(256, 5) + Conv1D(128, 3)).
CONV_MACS_PER_STEP = _conv_macs_per_step(CONV_BLOCKS)  # 263168
#: The paper's batch size (the config's default).
BATCH = 128

#: The padded length of the UCR 2018 datasets of variable length (the registry says "Vary"):
#: the longest series of either split, which is the length the package pads both splits to
#: (data/preprocess.py). From the archive's files (per-dataset statistics of the public copy
#: mat-analysis/datasets, uts/<Name>/<Name>-stats.md, "Longest Size").
MAX_LENGTH: dict[str, int] = {
    "AllGestureWiimoteX": 385,
    "AllGestureWiimoteY": 385,
    "AllGestureWiimoteZ": 385,
    "GestureMidAirD1": 360,
    "GestureMidAirD2": 360,
    "GestureMidAirD3": 360,
    "GesturePebbleZ1": 455,
    "GesturePebbleZ2": 455,
    "PickupGestureWiimoteZ": 361,
    "PLAID": 1344,
    "ShakeGestureWiimoteZ": 385,
}


def flops_per_epoch(n: int, T: int) -> float:
    """Training FLOPs of one epoch over ``n`` series of length ``T`` (the conv branch)."""
    return 6.0 * n * T * CONV_MACS_PER_STEP


def steps_per_epoch(n: int, batch: int = BATCH) -> int:
    """Optimizer steps of one epoch: batches of ``batch``, the last one partial."""
    return math.ceil(n / batch)


def size(name: str) -> tuple[int, int]:
    """``(n_train, T)`` of a dataset: the series a run of the paper's split trains on, and
    the length (a variable-length dataset's padded, max, length)."""
    info = registry.registry()[registry.canonical_name(name)]
    length = info.length if info.length is not None else MAX_LENGTH[info.name]
    n_train, _ = splits.sizes(info.n_train, info.n_test, info.name, splits.PAPER)
    return n_train, length


@dataclass(frozen=True)
class CostModel:
    """Seconds of one run-epoch = ``seconds_per_step · steps + seconds_per_gflop · GFLOPs``."""

    seconds_per_step: float
    seconds_per_gflop: float
    source: str  # where the constants came from, for a reader

    def seconds_per_epoch(self, n: int, T: int, batch: int = BATCH) -> float:
        return (
            self.seconds_per_step * steps_per_epoch(n, batch)
            + self.seconds_per_gflop * flops_per_epoch(n, T) / 1e9
        )

    def hours(self, dataset: str, epochs: int, runs: int = 1, batch: int = BATCH) -> float:
        """Estimated hours of ``runs`` runs of ``epochs`` epochs each on ``dataset``."""
        n, T = size(dataset)
        return self.seconds_per_epoch(n, T, batch) * epochs * runs / 3600

    def describe(self) -> str:
        return (
            f"{self.seconds_per_step * 1e3:.2f} ms/step + {self.seconds_per_gflop * 1e3:.2f} "
            f"ms/GFLOP ({1 / self.seconds_per_gflop:.0f} GFLOP/s); {self.source}"
            if self.seconds_per_gflop > 0
            else f"{self.seconds_per_step * 1e3:.2f} ms/step; {self.source}"
        )


def fit(points: Iterable[tuple], source: str) -> CostModel:
    """The two constants from measured ``(n, T, seconds_per_epoch[, batch])`` points: least
    squares on the *relative* error (the sizes span three orders of magnitude, and a small
    dataset's estimate matters as much as a large one's), both constants kept >= 0."""
    rows = []
    for p in points:
        n, T, seconds = p[0], p[1], float(p[2])
        batch = p[3] if len(p) > 3 else BATCH
        if not seconds > 0:
            raise ValueError(f"a measured time must be > 0, got {seconds} for n={n}, T={T}")
        # weighted by 1/seconds: minimise sum((a*s + b*g) / t - 1)^2
        rows.append((steps_per_epoch(n, batch) / seconds, flops_per_epoch(n, T) / 1e9 / seconds))
    if not rows:
        raise ValueError("fit needs at least one measured point")

    def residual(a: float, b: float) -> float:
        return sum((a * s + b * g - 1) ** 2 for s, g in rows)

    ss = sum(s * s for s, _ in rows)
    gg = sum(g * g for _, g in rows)
    sg = sum(s * g for s, g in rows)
    s1, g1 = sum(s for s, _ in rows), sum(g for _, g in rows)
    candidates = [(s1 / ss, 0.0), (0.0, g1 / gg)]  # one constant only
    det = ss * gg - sg * sg
    if det > 1e-12 * ss * gg:
        a, b = (s1 * gg - g1 * sg) / det, (g1 * ss - s1 * sg) / det
        if a >= 0 and b >= 0:
            candidates.append((a, b))
    a, b = min(candidates, key=lambda c: residual(*c))
    return CostModel(a, b, source)


#: Seconds of the *machine* per run-epoch measured on this project's CPU machine kind: a
#: 2-core AMD EPYC, TensorFlow on the CPU, the package's training loop unless said otherwise.
#: Where the workflow ran two jobs at once (one thread each), the machine's seconds are the
#: job's divided by 2. (n, T, seconds):
DEFAULT_POINTS: tuple[tuple[int, int, float], ...] = (
    # ItalyPowerDemand: a 2000-epoch run ≈ 70 s, two jobs in parallel → 35 s of the machine
    (67, 24, 70 / 2 / 2000),
    # GunPoint: the README's 36 runs of GunPoint + ItalyPowerDemand, 2000 epochs, 44 min at
    # two jobs in parallel, less the 18 ItalyPowerDemand runs' 18 × 35 s
    (50, 150, (44 * 60 - 18 * 35) / 18 / 2000),
    # bench/bench_engine.py, the Keras loop on TensorFlow, one job on both cores
    (20, 70, 0.0239),
    (50, 150, 0.0807),
    (300, 300, 0.992),
    # shared/notes/cpu-baseline.md: Keras fit, both cores, 8 steps (≈ 77 GFLOP/s)
    (1000, 500, 10.27),
)
#: The default cost model: the points above fitted (≈ 4.1 ms/step + 6.1 ms/GFLOP; within
#: +36 %/-27 % of the small points, and the large one's 10.3 s/epoch is underestimated by half,
#: so hours of the largest datasets are a lower bound). `lstmfcn plan --calibrate` measures a
#: machine instead.
DEFAULT = fit(
    DEFAULT_POINTS,
    "default figures measured on a 2-core AMD EPYC (TensorFlow on the CPU, the workflow's "
    "jobs 2 at a time)",
)


def _synthetic(n: int, T: int):
    import numpy as np

    from .data.dataset import Dataset

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, T)).astype(np.float32)
    y = rng.permutation(np.arange(n) % 2).astype(np.int64)  # 2 balanced classes
    lengths = np.full(n, T)
    meta = {"n_classes": 2, "classes": ["0", "1"], "data_sha256": f"calibrate-{n}x{T}"}
    return Dataset(f"calibrate-{n}x{T}", X, y, X[:2], y[:2], lengths, lengths[:2], meta)


#: Sizes of the calibration: one step of little arithmetic, eight steps of the same
#: arithmetic (the per-step cost), and two steps of eight times the arithmetic (the FLOP rate).
#: Multiples of the batch (or below it), so that no partial batch adds a shape to compile.
CALIBRATION_SIZES = ((128, 64), (1024, 8), (256, 256))


def calibrate(
    sizes: Iterable[tuple[int, int]] = CALIBRATION_SIZES,
    epochs: int = 4,
    *,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
) -> CostModel:
    """Measure the package's real training (:func:`lstmfcn_bench.training.train`, LSTM-FCN,
    cells 8) on synthetic data of each size for ``epochs`` epochs here, now, and fit the two
    constants to the median epoch after the first (which compiles). Seconds, not minutes."""
    from . import runtime
    from .training import TrainConfig, train

    if epochs < 2:
        raise ConfigError(f"calibrate needs >= 2 epochs (the first compiles), got {epochs}")
    runtime.configure(threads)
    points = []
    with tempfile.TemporaryDirectory(prefix="lstmfcn-calibrate-") as tmp:
        for n, T in sizes:
            config = TrainConfig(
                cells=8, epochs=epochs, batch_size=BATCH, checkpoint_every=10**6, seed=0
            )
            t0 = time.perf_counter()
            result = train(_synthetic(n, T), config, Path(tmp) / f"c{n}x{T}.keras", log_every=0)
            seconds = statistics.median(float(h["seconds"]) for h in result.history[1:])
            points.append((n, T, seconds))
            if log is not None:
                log(
                    f"  n={n} T={T}: {seconds:.4f} s/epoch "
                    f"({time.perf_counter() - t0:.1f} s with compiling and saving)"
                )
    where = runtime.device_description()
    return fit(points, f"calibrated now on {where} (one job; {epochs} epochs per size)")


@dataclass(frozen=True)
class Estimate:
    """The protocol's cost on one dataset."""

    name: str
    n_train: int
    length: int  # padded length (max length of a variable-length dataset)
    variable_length: bool
    steps: int  # per epoch
    epochs: int
    runs: int
    pflop: float  # of all runs
    hours: float  # estimated, of all runs


def _per(value: int | Mapping[str, int], name: str) -> int:
    return value[name] if isinstance(value, Mapping) else value


def estimate(
    name: str,
    *,
    epochs: int | Mapping[str, int] = PAPER_EPOCHS,
    runs: int = 6,
    batch: int | Mapping[str, int] = BATCH,
    model: CostModel = DEFAULT,
) -> Estimate:
    """``runs`` runs of ``epochs`` on ``name`` (``epochs``/``batch`` may map names to values:
    the plan's per-dataset settings)."""
    canon = registry.canonical_name(name)
    n, T = size(canon)
    e, b = _per(epochs, canon), _per(batch, canon)
    return Estimate(
        name=canon,
        n_train=n,
        length=T,
        variable_length=registry.registry()[canon].variable_length,
        steps=steps_per_epoch(n, b),
        epochs=e,
        runs=runs,
        pflop=flops_per_epoch(n, T) * e * runs / 1e15,
        hours=model.hours(canon, e, runs, b),
    )


def ordered(datasets: Iterable[str], **kwargs) -> list[Estimate]:
    """Estimates of ``datasets``, cheapest first (ties by name); keywords as :func:`estimate`."""
    return sorted((estimate(d, **kwargs) for d in datasets), key=lambda e: (e.hours, e.name))


def within_budget(datasets: Iterable[str], budget_hours: float, **kwargs) -> list[Estimate]:
    """The cheapest datasets, in cost order, whose estimated hours add up to at most
    ``budget_hours`` (a prefix of :func:`ordered`); ConfigError when not even the cheapest fits.
    Keywords as :func:`estimate`."""
    return cheapest_prefix(ordered(datasets, **kwargs), budget_hours)


def cheapest_prefix(ranked: list[Estimate], budget_hours: float) -> list[Estimate]:
    """The longest prefix of ``ranked`` (cheapest first) within ``budget_hours``."""
    if not budget_hours > 0:  # also NaN, which `--config budget_hours=nan` would hand over
        raise ConfigError(f"budget_hours must be > 0, got {budget_hours}")
    kept, total = [], 0.0
    for e in ranked:
        if total + e.hours > budget_hours:
            break
        kept.append(e)
        total += e.hours
    if not kept:
        cheapest = (
            f"the cheapest, {ranked[0].name}, needs an estimated {ranked[0].hours:.3g} h "
            f"({ranked[0].runs} runs x {ranked[0].epochs} epochs)"
            if ranked
            else "no dataset to plan"
        )
        raise ConfigError(f"budget_hours {budget_hours:g} fits no dataset: {cheapest}")
    return kept


def available(datasets: Iterable[str], folder: str | os.PathLike) -> dict[str, bool]:
    """Whether a local folder source (a path or a ``file://`` URL) holds each dataset, as
    `lstmfcn fetch --source` finds datasets there (data/fetch_plan.py's layout detection: split
    files, per-dataset zips or the UCR 2018 archive zip)."""
    from .data.fetch_plan import local_folder, plan_fetch

    path = local_folder(folder)  # a path or a file:// URL
    if path is None:
        raise ConfigError(f"--source {folder}: not a local folder")
    folder = path
    out = {}
    for d in datasets:
        try:
            plan_fetch(registry.canonical_name(d), folder)
            out[d] = True
        except ConfigError:
            out[d] = False
    return out


def table(
    estimates: list[Estimate],
    model: CostModel,
    *,
    budget_hours: float | None = None,
    excluded: Mapping[str, str] | None = None,
) -> list[str]:
    """The lines `lstmfcn plan` prints: one per dataset (cheapest first) with its rank, size,
    steps, PFLOP and hours, the cumulative hours of the ones left to plan, whether it fits the
    budget; then the totals and the cost model's origin. ``excluded`` maps the datasets left
    out of the plan and the budget to why ("not available", "published")."""
    excluded = excluded or {}
    usable = [e for e in estimates if e.name not in excluded]
    fits: set[str] = set()
    note = None
    if budget_hours is not None and usable:
        try:
            fits = {e.name for e in cheapest_prefix(usable, budget_hours)}
        except ConfigError as err:
            note = str(err)
    header = (
        f"{'rank':>4}  {'dataset':<30} {'n_train':>7} {'T':>6} {'steps':>5} {'PFLOP':>8} "
        f"{'hours':>8} {'cum. h':>8}"
    )
    if budget_hours is not None or excluded:
        header += "  status"
    lines = [header]
    cum = 0.0
    for rank, e in enumerate(estimates, 1):
        ok = e.name not in excluded
        if ok:
            cum += e.hours
        T = f"{e.length}*" if e.variable_length else str(e.length)
        line = (
            f"{rank:>4}  {e.name:<30} {e.n_train:>7} {T:>6} {e.steps:>5} {e.pflop:>8.3f} "
            f"{e.hours:>8.3f} {(f'{cum:.3f}' if ok else '-'):>8}"
        )
        if not ok:
            line += f"  {excluded[e.name]}"
        elif budget_hours is not None:
            line += "  fits" if e.name in fits else "  over budget"
        lines.append(line)
    if any(e.variable_length for e in estimates):
        lines.append("* variable length: the longest series (both splits are padded to it)")
    runs = sum(e.runs for e in estimates)
    lines.append(
        f"total: {len(estimates)} datasets, {runs} runs, "
        f"{sum(e.pflop for e in estimates):.2f} PFLOP, "
        f"{sum(e.hours for e in estimates):.2f} h estimated"
    )
    if excluded:
        shown = {e.name for e in estimates}
        why = Counter(reason for name, reason in excluded.items() if name in shown)
        lines.append(
            f"left to plan: {len(usable)} of {len(estimates)} datasets "
            f"({', '.join(f'{n} {reason}' for reason, n in sorted(why.items()))}), "
            f"{sum(e.hours for e in usable):.2f} h"
        )
    if budget_hours is not None:
        kept = [e for e in usable if e.name in fits]
        lines.append(
            note
            or f"budget {budget_hours:g} h: the {len(kept)} cheapest datasets left fit, "
            f"{sum(e.hours for e in kept):.2f} h"
        )
    lines.append(f"cost model: {model.describe()}")
    return lines
