"""A contributor's campaign toward the paper's table (``scripts/reproduce``): train what the
committed records lack, cheapest first and one seed at a time (breadth first), and publish each
dataset the moment all its runs of that seed are evaluated.

It runs the workflow (``preset=ucr85``, ``skip_published``, an optional budget) in the
background and, every ``--every`` seconds, prints where the training jobs are, publishes the
datasets that became complete into the records folder, rebuilds the table and the README block,
and prints the ``git`` commands that commit them: it commits nothing itself. Stopping it at any
moment is safe: the training jobs keep resume states, a dataset with a run missing is never
published, and the next campaign resumes where this one stopped.

    scripts/reproduce --hours 2                 # seed 0, the cheapest datasets that fit 2 h
    scripts/reproduce --seed 1                  # the next pass, once seed 0 covers the table
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from .aggregate import build_table
from .errors import LstmfcnError
from .plan import make_plan
from .results.publish import publish
from .results.readme_block import status_block, write_readme_block
from .run_status import estimate, survey
from .runs import RESULTS, Run
from .status_report import summary_lines
from .workflow_config import parse_words

#: Where the workflow writes (the Snakefile's fixed results folder).
RESULTS_DIR = Path(RESULTS)


def campaign_config(args: argparse.Namespace, snapshot: Path) -> dict:
    """The workflow's config: ucr85 over the datasets ``args.source`` holds, one seed, without
    what ``snapshot`` (a copy of the records) already covers, within the budget if any."""
    config = {"preset": "ucr85", "seeds": [args.seed], "skip_published": str(snapshot)}
    config.update(source=str(args.source), threads=1)
    config.update(parse_words(args.config))
    if args.hours is not None:
        config["budget_hours"] = args.hours
    return config


def _word(value) -> str:
    """A config value as one ``--config`` word (flow-style YAML on one line)."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=1_000_000)
        .strip()
        .removesuffix("\n...")
    )


def _evaluated(run: Run, results: Path) -> bool:
    """Evaluated after its training finished: metrics newer than the kept model, and no
    resume state (a run being trained again still has its old metrics)."""
    metrics, model = run.path("metrics", results), run.path("model", results)
    if not metrics.is_file() or not model.is_file() or run.path("resume", results).exists():
        return False
    return metrics.stat().st_mtime >= model.stat().st_mtime


def complete(plan, results: Path) -> list[str]:
    """The planned datasets every run of which has been evaluated under ``results``."""
    by_dataset: dict[str, list[Run]] = {}
    for run in plan.runs:
        by_dataset.setdefault(run.dataset, []).append(run)
    return [d for d, runs in by_dataset.items() if all(_evaluated(r, results) for r in runs)]


#: The files of a run that publish reads.
PUBLISHED_FILES = ("metrics", "model", "baseline_model", "history", "info")


def publish_runs(runs: list, results: Path, records: Path, any_protocol: bool):
    """Publish only ``runs`` of ``results`` (the plan's runs of datasets it found complete):
    a view of their files, so that neither a dataset whose other runs are still training nor
    another seed's run left in ``results`` is published. A record they replace is one that
    the plan's ``skip_published`` trained again (recorded with other settings, or with the
    archive's split where the paper's differs)."""
    with tempfile.TemporaryDirectory() as tmp:
        view = Path(tmp)
        for run in runs:
            for kind in PUBLISHED_FILES:
                source = run.path(kind, results)
                if source.is_file():
                    run.path(kind, view).parent.mkdir(parents=True, exist_ok=True)
                    run.path(kind, view).symlink_to(source.resolve())
        return publish(view, records, replace=True, any_protocol=any_protocol)


def progress_lines(results: Path, plan) -> list[str]:
    """The last progress line of every run in training, then the queue's counts and ETA (as
    ``lstmfcn status`` finds and estimates them)."""
    statuses = survey(results, plan)
    eta = estimate(statuses, plan.batches())
    running = [
        f"  {s.run.dataset}/{s.run.stem}: {s.line or '(starting)'}"
        for s in statuses
        if s.state == "running"
    ]
    return [*(running or ["  (no training job writing)"]), *summary_lines(statuses, eta)]


def _publish_new(plan, args, done: set[str]) -> None:
    """Publish the datasets that became complete; one that publish refuses is reported, kept
    out of later tries and left for the contributor (the campaign goes on)."""
    new = [d for d in complete(plan, RESULTS_DIR) if d not in done]
    if not new:
        return
    done.update(new)
    try:
        runs = [r for r in plan.runs if r.dataset in new]
        outcome = publish_runs(runs, RESULTS_DIR, args.records, args.any_protocol)
        build_table(args.records)
        if args.readme:
            write_readme_block(args.readme, status_block(args.records))
    except LstmfcnError as e:
        print(f"not published ({', '.join(new)}): {e}", flush=True)
        return
    print(
        f"published {', '.join(new)} ({len(outcome['added'])} records added, "
        f"{len(outcome['replaced'])} replaced, {len(outcome['waiting'])} waiting); commit with:\n"
        f"  git add {args.records}/ {args.readme or ''} && git commit -m "
        f"'{args.records.name}/: {', '.join(new)} seed {args.seed}; table and README block "
        "rebuilt'",
        flush=True,
    )


def lock_hint(log: Path, since: int) -> str | None:
    """What to do when this campaign's workflow (its log from byte ``since``) stopped on
    Snakemake's lock, which a workflow killed outright (a machine or session stopped) leaves
    behind; None when it did not."""
    with open(log, "rb") as f:
        f.seek(since)
        if b"LockException" not in f.read():
            return None
    return (
        "campaign: the workflow folder is locked, by a workflow still running there or one "
        "that was killed outright; if none runs now, unlock it and rerun: "
        "snakemake --unlock --config preset=ucr85"
    )


def _stop(workflow: subprocess.Popen, grace_s: float = 600.0) -> None:
    """Stop the workflow as Ctrl-C stops it (its jobs save resume states), then harder."""
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 30.0), (signal.SIGKILL, 30.0)):
        if workflow.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(workflow.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            workflow.wait(wait_s)


def _watch(workflow: subprocess.Popen, plan, args, done: set[str]) -> None:
    while workflow.poll() is None:
        time.sleep(args.every)
        print("\n".join(progress_lines(RESULTS_DIR, plan)), flush=True)
        _publish_new(plan, args, done)


def run(args: argparse.Namespace) -> int:
    if not (args.records / "runs").is_dir():
        raise LstmfcnError(f"{args.records}: not a records folder (it has no runs/ folder)")
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "records"  # the plan must not change under the running workflow
        shutil.copytree(args.records / "runs", snapshot / "runs")
        config = campaign_config(args, snapshot)
        plan = make_plan(config)
        estimates = plan.estimates()
        print(
            f"campaign: seed {args.seed}, {len(plan.datasets)} datasets, cheapest first "
            f"({', '.join(e.name for e in estimates)}), {len(plan.runs)} runs, "
            f"{sum(e.hours for e in estimates):.1f} h estimated (a 2-core CPU's default "
            f"figures); progress every {args.every:g} s",
            flush=True,
        )
        # Only what the records need (the figures and tables are the workflow's own run); the
        # targets first, since -q and --config take the words after them.
        cmd = ["snakemake", *(str(run.path("metrics", RESULTS_DIR)) for run in plan.runs)]
        cmd += ["--cores", str(args.cores), "--scheduler", "greedy", "-k", "-q"]
        cmd += ["--config", *(f"{k}={_word(v)}" for k, v in config.items())]
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        done: set[str] = set()
        stopping = []

        def on_signal(signum, frame):  # Ctrl-C, kill, a closed terminal: stop, then publish
            stopping.append(signum)
            raise KeyboardInterrupt

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_signal)
        with open(RESULTS_DIR / "campaign_snakemake.log", "a") as log:
            started_at = log.tell()
            workflow = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                _watch(workflow, plan, args, done)
            except KeyboardInterrupt:
                print("stopping the workflow (its jobs save resume states) ...", flush=True)
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_IGN)  # the last publish is not cut short
                _stop(workflow)
        _publish_new(plan, args, done)
    print(f"workflow exit {workflow.returncode}; log: {RESULTS_DIR / 'campaign_snakemake.log'}")
    hint = lock_hint(RESULTS_DIR / "campaign_snakemake.log", started_at)
    if workflow.returncode and hint:
        print(hint, file=sys.stderr)
    return 1 if stopping or workflow.returncode != 0 else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, help="budget: the cheapest datasets that fit")
    p.add_argument("--seed", type=int, default=0, help="the pass: seed 0 first (default)")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    p.add_argument("--source", type=Path, default=Path("../shared/ucr2018"))
    p.add_argument("--records", type=Path, default=Path("reproduction"))
    p.add_argument("--readme", type=Path, default=Path("README.md"))
    p.add_argument("--every", type=float, default=60.0, help="seconds between progress reports")
    p.add_argument("--any-protocol", action="store_true", help="publish other protocols too")
    p.add_argument("config", nargs="*", help="extra workflow config words, key=value")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from .runtime import share_gpu_memory

    share_gpu_memory()  # publishing loads Keras beside the training jobs on a shared GPU
    try:
        return run(args)
    except LstmfcnError as e:
        print(f"scripts/reproduce: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
