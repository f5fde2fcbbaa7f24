"""Where each run of a results tree stands, read only from the files the runs write: the
training log's epoch lines, the resume state, the kept model and its ``_train.json``. It needs
no access to the process that trains, so it reads a local run, a SLURM job or the campaign
alike (``lstmfcn status``, :mod:`lstmfcn_bench.campaign`).

A run is *running* while its log keeps being written (no later than a few of its own logging
intervals, and at least ``fresh_s``), *paused* when a resume state waits for the next attempt,
*done* once its model is kept and no resume state is left, *failed* when its log went quiet
with neither, and *pending* when nothing of it exists yet. What is left costs each run's own
measured seconds per epoch, else its dataset's measured runs', else the cost model
(:mod:`lstmfcn_bench.cost`) scaled by how the measured runs compare with it.

A baseline's run (a model of another library, baselines.py) is one fit, counted as one
"epoch" of its training job's seconds: what is left of one is its dataset's measured jobs,
else the mean of every measured one, else :data:`BASELINE_FIT_S`.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import cost
from .baselines import is_baseline
from .errors import LstmfcnError
from .runs import RUN_FILES, Run, runs_of
from .training.epoch_line import EpochLine, parse_line
from .training.resume import ResumeState

STATES = ("running", "paused", "failed", "done", "pending")
#: A baseline's run is one fit (its "epochs"); its job takes a few seconds (MiniRocket: ~5 s,
#: most of it start-up; ~30 s the first time, while numba compiles): the guess before any is
#: measured.
FIT_EPOCHS = 1
BASELINE_FIT_S = 10.0
#: A log quiet for longer than this (and than 3 of its logging intervals) is not running.
FRESH_S = 120.0
#: The files a run leaves, by kind (runs.RUN_FILES), that say a run exists.
_FOUND = {
    kind: RUN_FILES[kind].format(dataset="*", stem="*")
    for kind in ("model", "baseline_model", "resume", "train_log", "metrics")
}


@dataclass
class RunStatus:
    run: Run
    state: str  # one of STATES
    epoch: int = 0  # epochs trained (running: the last logged; paused: where it resumes)
    epochs: int | None = None  # planned
    loss: float | None = None  # the last logged (running, paused) or the kept (done)
    seconds_per_epoch: float | None = None  # measured on this run
    line: str = ""  # the last epoch line as printed
    note: str = ""  # why a failed run stopped: the log's last line
    planned: bool = True  # part of the plan (else only found in the results tree)

    @property
    def remaining(self) -> int | None:
        """Epochs left to train; None when the planned number is unknown."""
        if self.state == "done":
            return 0
        return None if self.epochs is None else max(self.epochs - self.epoch, 0)


@dataclass
class _Log:
    lines: list[EpochLine]
    age_s: float
    last: str  # the last line of the whole log


def _read_log(path: Path, run: Run, grouped: bool, now: float) -> _Log | None:
    """The epoch lines of ``run`` in a training log (a group's log holds each seed's)."""
    try:
        age = now - path.stat().st_mtime
        text = path.read_text("utf-8", "replace")
    except OSError:  # not there, or replaced between the listing and the read
        return None
    lines = [p for t in text.splitlines() if (p := parse_line(t)) is not None]
    if grouped:
        lines = [p for p in lines if p.seed == run.seed]
    tail = [t.strip() for t in text.splitlines() if t.strip()]
    return _Log(lines, age, tail[-1] if tail else "")


def _logs(results: Path) -> dict[Run, tuple[Path, bool]]:
    """Every run's training log: its own, or its group's (``..._s0-1-2.log``)."""
    out = {}
    for path in sorted((results / "logs" / "train").glob("*/*.log")):
        try:
            group = runs_of(path)
        except ValueError:  # not named after a run
            continue
        for run in group:
            out[run] = (path, len(group) > 1)
    return out


def _mean_seconds(epochs: list[tuple[int, float]]) -> float | None:
    """Seconds per epoch of a run from (epoch, seconds) samples: their mean without epoch 1,
    which compiles (unless it is all there is)."""
    later = [s for e, s in epochs if e > 1 and s > 0]
    first = [s for e, s in epochs if e == 1 and s > 0]
    return statistics.fmean(later or first) if later or first else None


def _running(log: _Log | None, fresh_s: float) -> bool:
    if log is None or log.last.startswith(("done:", "lstmfcn train:")):
        return False
    quiet = fresh_s
    if len(log.lines) >= 2:  # allow for slow epochs: 3 logging intervals
        a, b = log.lines[-2], log.lines[-1]
        quiet = max(quiet, 3 * (b.epoch - a.epoch) * b.seconds)
    return log.age_s <= quiet


def _from_log(status: RunStatus, log: _Log | None) -> None:
    if log is None or not log.lines:
        return
    last = log.lines[-1]
    status.epoch, status.loss, status.line = last.epoch, last.loss, last.text
    status.epochs = status.epochs or last.epochs
    status.seconds_per_epoch = _mean_seconds([(p.epoch, p.seconds) for p in log.lines])


def _from_resume(status: RunStatus, path: Path) -> None:
    try:
        state = ResumeState.summary_of(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return  # being written, or unusable: the next attempt sets it aside
    status.epoch = int(state.get("next_epoch", 0))
    history = state.get("history") or []
    if history:
        status.loss = float(history[-1]["loss"])
        samples = [(int(h["epoch"]), float(h["seconds"])) for h in history]
        status.seconds_per_epoch = _mean_seconds(samples)


def _job_seconds(run: Run, results: Path) -> float | None:
    """The wall seconds of ``run``'s training job, from Snakemake's benchmark file."""
    try:
        with open(run.path("train_benchmark", results), newline="") as f:
            return float(next(csv.DictReader(f, delimiter="\t"))["s"])
    except (OSError, StopIteration, KeyError, ValueError):
        return None


def _from_info(status: RunStatus, results: Path) -> None:
    try:
        info = json.loads(status.run.path("info", results).read_text("utf-8"))
        if is_baseline(status.run.model):  # one fit, no loss; its job's start-up dominates
            status.epoch = status.epochs = FIT_EPOCHS
            job = _job_seconds(status.run, results)
            status.seconds_per_epoch = job or float(info["seconds"])
            return
        status.epoch = int(info["epochs_run"])
        status.epochs = status.epochs or int(info["config"]["epochs"])
        status.loss = info.get("train_loss")
        status.seconds_per_epoch = float(info["seconds"]) / max(status.epoch, 1)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # a done run whose record cannot be read: its counts stay unknown


def run_status(
    run: Run, results: Path, log: _Log | None, epochs: int | None, fresh_s: float = FRESH_S
) -> RunStatus:
    """Where ``run`` stands under ``results``; ``log`` is its training log's, read."""
    status = RunStatus(run, "pending", epochs=epochs)
    resume = run.path("resume", results)
    if _running(log, fresh_s):
        status.state = "running"
        _from_log(status, log)
        if not status.line and resume.exists():  # resumed, no epoch logged yet
            _from_resume(status, resume)
    elif resume.exists():
        status.state = "paused"
        _from_log(status, log)
        _from_resume(status, resume)  # where it resumes: the last state saved, not logged
    elif run.path("model", results).exists():
        status.state = "done"
        _from_info(status, results)
    elif run.path("metrics", results).exists():  # a released model, evaluated: no training
        status.state = "done"
    elif log is not None:
        # The log's last line as text a terminal shows as it is (a binary log stays harmless).
        note = "".join(c if c.isprintable() else "?" for c in log.last[:80])
        status.state, status.note = "failed", note
        _from_log(status, log)
        status.epoch = 0  # no resume state: the next attempt starts over
    return status


def found_runs(results: Path) -> list[Run]:
    """Every run that left a file under ``results``, in a stable order."""
    found: set[Run] = set()
    for pattern in _FOUND.values():
        for path in results.glob(pattern):
            try:
                found.update(runs_of(path))
            except ValueError:
                continue
    return sorted(found, key=lambda r: (r.dataset, r.model, r.cells, r.seed))


def survey(
    results: Path,
    plan=None,
    *,
    now: float | None = None,
    fresh_s: float = FRESH_S,
) -> list[RunStatus]:
    """The status of every run of ``plan`` (a :class:`~lstmfcn_bench.plan.Plan`) and of every
    other run found under ``results``; without a plan, of the runs found."""
    results = Path(results)
    if not results.is_dir():
        raise LstmfcnError(f"{results}: no such results folder (lstmfcn status RESULTS)")
    now = time.time() if now is None else now
    planned = list(plan.runs) if plan is not None else []
    in_plan = set(planned)
    runs = planned + [r for r in found_runs(results) if r not in in_plan]
    logs = _logs(results)
    out = []
    for run in runs:
        path, grouped = logs.get(run, (None, False))
        log = _read_log(path, run, grouped, now) if path is not None else None
        epochs = plan.train[run.dataset]["epochs"] if run in in_plan else None
        if is_baseline(run.model):
            epochs = FIT_EPOCHS
        status = run_status(run, results, log, epochs, fresh_s)
        status.planned = run in in_plan or plan is None
        out.append(status)
    return out


# --- what is left -------------------------------------------------------------------------------


@dataclass
class Eta:
    """The seconds each run has left (its job's time), and the plan's wall time."""

    left_s: dict[Run, float | None]  # None: unknown (planned epochs or speed unknown)
    speed: dict[Run, float | None]  # seconds per epoch used (measured or estimated)
    jobs: int  # runs training at once now (at least 1)
    scale: float  # measured / cost-model seconds (or jobs when nothing is measured)
    measured: int  # runs whose own speed is known

    @property
    def total_s(self) -> float | None:
        """Wall seconds until every planned run is trained, ``jobs`` at a time."""
        left = list(self.left_s.values())
        return None if None in left else sum(left) / self.jobs


def _modelled(run: Run, batch: int, model: cost.CostModel) -> float | None:
    try:
        n, T = cost.size(run.dataset)
    except (LstmfcnError, KeyError):  # not a UCR dataset: no size to model
        return None
    return model.seconds_per_epoch(n, T, batch)


def estimate(statuses: list[RunStatus], batches=None, model=None) -> Eta:
    """What is left of the planned runs: each at its own measured speed, else the measured
    mean of its dataset's runs, else the cost model (``model``, default cost.DEFAULT) times
    the median ratio of measured to modelled speed; ``batches`` maps datasets to their batch
    size (default 128). The cost model gives the machine's seconds for the jobs at once, so
    with nothing measured the ratio is the number of jobs."""
    model = model or cost.DEFAULT
    batches = batches or {}

    def modelled(run: Run) -> float | None:
        return _modelled(run, batches.get(run.dataset, cost.BATCH), model)

    planned = [s for s in statuses if s.planned]
    jobs = max(1, sum(s.state == "running" for s in statuses))
    # Every run measured here tells the machine's speed, planned or not (a published one).
    measured = [s for s in statuses if s.seconds_per_epoch]
    # A Keras epoch and a baseline's fit are not the same work: measured apart.
    by_dataset: dict[tuple[str, bool], list[float]] = {}
    ratios, fits = [], []
    for s in measured:
        baseline = is_baseline(s.run.model)
        by_dataset.setdefault((s.run.dataset, baseline), []).append(s.seconds_per_epoch)
        if baseline:
            fits.append(s.seconds_per_epoch)
        elif m := modelled(s.run):
            ratios.append(s.seconds_per_epoch / m)
    scale = statistics.median(ratios) if ratios else float(jobs)
    fit = statistics.fmean(fits) if fits else BASELINE_FIT_S
    speed, left = {}, {}
    for s in planned:
        v = s.seconds_per_epoch
        key = (s.run.dataset, is_baseline(s.run.model))
        if v is None and key in by_dataset:
            v = statistics.fmean(by_dataset[key])
        if v is None and key[1]:
            v = fit
        if v is None and (m := modelled(s.run)) is not None:
            v = scale * m
        speed[s.run] = v
        remaining = s.remaining
        known = remaining == 0 or (v is not None and remaining is not None)
        left[s.run] = (remaining * v if remaining else 0.0) if known else None
    return Eta(left, speed, jobs, scale, len(measured))
