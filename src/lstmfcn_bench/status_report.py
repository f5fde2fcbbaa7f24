"""What ``lstmfcn status`` prints: a plain-text table of where the runs stand (read by
:mod:`lstmfcn_bench.run_status`), within 100 columns, once or redrawn every few seconds."""

from __future__ import annotations

import statistics
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from .baselines import is_baseline
from .progress import duration
from .run_status import STATES, Eta, RunStatus, estimate, survey

#: The widest line the report writes (a dataset name is cut to fit).
WIDTH = 100
_NAME_MAX = 30  # the longest UCR name, ProximalPhalanxOutlineAgeGroup
#: Runs listed one per line: those that train or need a look.
_LISTED = ("running", "paused", "failed")


def _speed(v: float | None, measured: bool) -> str:
    if v is None:
        return "?"
    return f"{v:.3g}" if measured else f"~{v:.2g}"


def run_rows(statuses: list[RunStatus], eta: Eta) -> list[str]:
    """One line per running, paused or failed run: its epoch of N, loss, speed, time left."""
    shown = [s for s in statuses if s.state in _LISTED]
    shown.sort(key=lambda s: (_LISTED.index(s.state), s.run.dataset, s.run.stem))
    if not shown:
        return ["no run is training, paused or failed"]
    w = min(max(len(s.run.dataset) for s in shown), _NAME_MAX)
    r = max(len(s.run.stem) for s in shown)
    lines = [
        f"{'dataset':<{w}} {'run':<{r}} {'state':<7} {'epoch':>9} {'loss':>9} "
        f"{_unit(statuses):>7} {'left':>8}"
    ]
    for s in shown:
        epoch = f"{s.epoch}/{s.epochs if s.epochs is not None else '?'}"
        if is_baseline(s.run.model):  # one fit, no epochs
            epoch = "fit"
        loss = "" if s.loss is None else f"{s.loss:.5f}"
        left = eta.left_s.get(s.run) if s.planned else _own_left(s)
        lines.append(
            f"{s.run.dataset[:w]:<{w}} {s.run.stem:<{r}} {s.state:<7} {epoch:>9} {loss:>9} "
            f"{_speed(s.seconds_per_epoch, True):>7} {duration(left):>8}"
        )
        if s.note:
            lines.append(f"{'':<{w}} {s.note[: WIDTH - w - 1]}")
    return lines


def _unit(statuses: list[RunStatus]) -> str:
    """What a run's speed is counted in: seconds per epoch, or per fit when every run is a
    baseline's (one fit each)."""
    return "s/fit" if all(is_baseline(s.run.model) for s in statuses) else "s/epoch"


def _own_left(s: RunStatus) -> float | None:
    remaining = s.remaining
    if remaining is None or s.seconds_per_epoch is None:
        return None
    return remaining * s.seconds_per_epoch


def dataset_rows(statuses: list[RunStatus], eta: Eta) -> list[str]:
    """Per planned dataset with a run begun: runs done of planned, running, paused, failed,
    seconds per epoch (measured; ``~`` estimated) and its runs' time left; then one line
    for the datasets not begun."""
    by_dataset: dict[str, list[RunStatus]] = {}
    for s in statuses:
        if s.planned:
            by_dataset.setdefault(s.run.dataset, []).append(s)
    begun = {d: ss for d, ss in by_dataset.items() if any(s.state != "pending" for s in ss)}
    w = min(max([len(d) for d in begun] + [7]), _NAME_MAX)
    unit = _unit(statuses)
    lines = [
        f"{'dataset':<{w}} {'done':>9} {'running':>7} {'paused':>6} {'failed':>6} "
        f"{unit:>8} {'run time left':>13}"
    ]
    for d, ss in begun.items():
        count = _counts(ss)
        # A Keras epoch and a baseline's fit are not the same work: a dataset with Keras runs
        # shows their s/epoch, one of baselines only its s/fit.
        same = [s for s in ss if not is_baseline(s.run.model)] or ss
        measured = [s.seconds_per_epoch for s in same if s.seconds_per_epoch]
        v = statistics.fmean(measured) if measured else eta.speed.get(same[0].run)
        speed = _speed(v, bool(measured))
        if unit == "s/epoch" and all(is_baseline(s.run.model) for s in ss):
            speed += "/fit"  # under an s/epoch header
        done = f"{count['done']}/{len(ss)}"
        lines.append(
            f"{d[:w]:<{w}} {done:>9} {count['running']:>7} "
            f"{count['paused']:>6} {count['failed']:>6} {speed:>8} "
            f"{duration(_sum([eta.left_s[s.run] for s in ss])):>13}"
        )
    rest = [ss for d, ss in by_dataset.items() if d not in begun]
    if rest:
        runs = [s for ss in rest for s in ss]
        lines.append(
            f"{len(rest)} datasets not begun ({len(runs)} runs; {_estimated_from(runs, eta)}): "
            f"{duration(_sum([eta.left_s[s.run] for s in runs]))}"
        )
    return lines


def _estimated_from(runs: list[RunStatus], eta: Eta) -> str:
    said = []
    if any(not is_baseline(s.run.model) for s in runs):
        said.append(f"s/epoch from the cost model x {eta.scale:.2g}")
    if any(is_baseline(s.run.model) for s in runs):
        said.append("a baseline's fit from the fits measured")
    return "; ".join(said)


def _counts(statuses: list[RunStatus]) -> dict[str, int]:
    return {state: sum(s.state == state for s in statuses) for state in STATES}


def _sum(values: list[float | None]) -> float | None:
    return None if None in values else sum(values)


def summary_lines(statuses: list[RunStatus], eta: Eta) -> list[str]:
    """The plan's counts and its ETA, and how the ETA was reached."""
    planned = [s for s in statuses if s.planned]
    count = _counts(planned)
    lines = [
        f"plan: {count['done']} of {len(planned)} runs done, {count['running']} running, "
        f"{count['paused']} paused, {count['failed']} failed, {count['pending']} not started",
        f"ETA {duration(eta.total_s)} ({duration(_sum(list(eta.left_s.values())))} of runs "
        f"left, {eta.jobs} at a time; {eta.measured} runs measured, the rest estimated)",
    ]
    outside = sum(not s.planned for s in statuses)
    if outside:
        lines.append(f"{outside} runs found under the results folder are not in the plan")
    return lines


def _title(results: Path, now: float) -> str:
    """``<results> at <time>``, the folder shortened from its left end (its tail names it)
    when the line would pass WIDTH."""
    stamp = f" at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))}"
    room = WIDTH - len(stamp)
    folder = str(results)
    return (folder if len(folder) <= room else "…" + folder[-(room - 1) :]) + stamp


def report(results: Path, plan=None, source: str = "", now: float | None = None) -> list[str]:
    """Every line of one status report of ``results`` against ``plan`` (described by
    ``source``; None: the runs found)."""
    now = time.time() if now is None else now
    statuses = survey(results, plan, now=now)
    if plan is not None and plan.released_from is not None:
        done = sum(s.state == "done" for s in statuses if s.planned)
        return [
            _title(results, now),
            *textwrap.wrap(source, WIDTH),
            "",
            f"released models of {plan.released_from}: nothing trains; {done} of "
            f"{len(plan.runs)} evaluated",
        ]
    batches = plan.batches() if plan is not None else None
    eta = estimate(statuses, batches)
    head = [
        _title(results, now),
        *textwrap.wrap(source or "plan: none (no config.yaml here): the runs found in it", WIDTH),
    ]
    summary = [part for line in summary_lines(statuses, eta) for part in textwrap.wrap(line, WIDTH)]
    return [*head, "", *run_rows(statuses, eta), "", *dataset_rows(statuses, eta), "", *summary]


def watch(draw: Callable[[], list[str]], every_s: float, out=None) -> None:
    """Print ``draw()`` every ``every_s`` seconds until Ctrl-C (which ends it quietly); on a
    terminal each report replaces the last (cleared screen), else they follow each other."""
    out = out or sys.stdout
    tty, sep = out.isatty(), ""
    try:
        while True:
            text = "\n".join(draw()) + "\n"  # read before clearing: no blank screen meanwhile
            out.write(("\033[H\033[2J" if tty else sep) + text)
            out.flush()
            sep = "\n"
            time.sleep(every_s)
    except KeyboardInterrupt:
        pass
