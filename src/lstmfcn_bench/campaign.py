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
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from . import cost
from .aggregate import build_table
from .errors import ConfigError, LstmfcnError
from .plan import make_plan
from .results.publish import publish
from .results.readme_block import status_block, write_readme_block
from .runs import RESULTS, Run


def parse_words(words: list[str]) -> dict:
    """``key=value`` words as Snakemake's ``--config`` reads them (values as YAML)."""
    out = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected key=value, got {word!r}")
        out[key] = yaml.safe_load(value)
    return out


def campaign_config(args: argparse.Namespace, snapshot: Path) -> dict:
    """The workflow's config: ucr85 over the datasets ``args.source`` holds, one seed, without
    what ``snapshot`` (a copy of the records) already covers, within the budget if any."""
    config = {"preset": "ucr85", "seeds": [args.seed], "skip_published": str(snapshot)}
    config.update(source=str(args.source), threads=1)
    config.update(parse_words(args.config))
    if args.hours is not None:
        config["budget_hours"] = args.hours
    if not config.get("datasets"):  # a local folder holds only some: plan those it has
        names = make_plan({"preset": config["preset"]}).datasets
        present = cost.available(names, args.source)
        config["datasets"] = [d for d in names if present[d]]
    return config


def _word(value) -> str:
    """A config value as one ``--config`` word (flow-style YAML on one line)."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=1_000_000)
        .strip()
        .removesuffix("\n...")
    )


def complete(plan, results: Path) -> list[str]:
    """The planned datasets every run of which has been evaluated under ``results``."""
    by_dataset: dict[str, list[Run]] = {}
    for run in plan.runs:
        by_dataset.setdefault(run.dataset, []).append(run)
    return [
        d
        for d, runs in by_dataset.items()
        if all(run.path("metrics", results).is_file() for run in runs)
    ]


def publish_datasets(datasets: list[str], results: Path, records: Path, any_protocol: bool):
    """Publish only ``datasets`` of ``results``: a view of their folders, so that a dataset
    whose other model or cells are still training is never published half."""
    with tempfile.TemporaryDirectory() as tmp:
        view = Path(tmp)
        for kind in ("metrics", "models"):
            (view / kind).mkdir()
            for d in datasets:
                (view / kind / d).symlink_to((results / kind / d).resolve())
        return publish(view, records, any_protocol=any_protocol)


def progress_lines(results: Path, within_s: float = 120.0) -> list[str]:
    """The last progress line of every training log written to in the last ``within_s``."""
    now, lines = time.time(), []
    for log in sorted((results / "logs" / "train").glob("*/*.log")):
        if now - log.stat().st_mtime > within_s:
            continue
        tail = [t for t in log.read_text("utf-8", "replace").splitlines() if "epoch" in t]
        if tail:
            lines.append(f"  {log.parent.name}/{log.stem}: {tail[-1].strip()}")
    return lines


def _publish_new(plan, args, done: set[str]) -> None:
    new = [d for d in complete(plan, args.results) if d not in done]
    if not new:
        return
    outcome = publish_datasets(new, args.results, args.records, args.any_protocol)
    done.update(new)
    build_table(args.records)
    if args.readme:
        write_readme_block(args.readme, status_block(args.records))
    print(f"published {', '.join(new)} ({len(outcome['added'])} records added); commit with:")
    for d in new:
        print(
            f"  git add {args.records}/ {args.readme or ''} && git commit -m "
            f"'{args.records.name}/: {d} seed {args.seed}; table and README block rebuilt'"
        )


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "records"  # the plan must not change under the running workflow
        shutil.copytree(args.records / "runs", snapshot / "runs")
        config = campaign_config(args, snapshot)
        plan = make_plan(config)
        runs_each = len(plan.models) * len(plan.cells)
        estimates = cost.ordered(plan.datasets, runs=runs_each)
        print(
            f"campaign: seed {args.seed}, {len(plan.datasets)} datasets, cheapest first "
            f"({', '.join(e.name for e in estimates)}), {len(plan.runs)} runs, "
            f"{sum(e.hours for e in estimates):.1f} h estimated (a 2-core CPU's default "
            f"figures); progress every {args.every:g} s"
        )
        cmd = ["snakemake", "--cores", str(args.cores), "--scheduler", "greedy", "-k", "-q"]
        cmd += ["--config", *(f"{k}={_word(v)}" for k, v in config.items())]
        args.results.mkdir(parents=True, exist_ok=True)
        log = open(args.results / "campaign_snakemake.log", "a")  # noqa: SIM115 (held open)
        workflow = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        done: set[str] = set()

        def stop(signum, frame):
            os.killpg(workflow.pid, signal.SIGINT)  # its jobs save resume states

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop)
        while workflow.poll() is None:
            time.sleep(args.every)
            print("\n".join(progress_lines(args.results)) or "  (no training job writing)")
            _publish_new(plan, args, done)
        log.close()
        _publish_new(plan, args, done)
    print(f"workflow exit {workflow.returncode}; log: {args.results / 'campaign_snakemake.log'}")
    return 0 if workflow.returncode == 0 else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, help="budget: the cheapest datasets that fit")
    p.add_argument("--seed", type=int, default=0, help="the pass: seed 0 first (default)")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    p.add_argument("--source", type=Path, default=Path("../shared/ucr2018"))
    p.add_argument("--records", type=Path, default=Path("reproduction"))
    p.add_argument("--readme", type=Path, default=Path("README.md"))
    p.add_argument("--results", type=Path, default=Path(RESULTS))
    p.add_argument("--every", type=float, default=60.0, help="seconds between progress reports")
    p.add_argument("--any-protocol", action="store_true", help="publish other protocols too")
    p.add_argument("config", nargs="*", help="extra workflow config words, key=value")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except LstmfcnError as e:
        print(f"scripts/reproduce: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
