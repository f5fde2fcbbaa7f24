"""DAG scale: our workflow against a bare skeleton of the same rules and paths, in one run.

The grid is ucr128 × 2 models × 1 cells × 3 seeds = 768 training jobs (1 666 jobs in all).
For each workflow it times (a) the dry run with no outputs present and (b) the no-op rerun
with every output present, and prints our time as a ratio of the skeleton's. The target:
ratio <= 1.5 (input functions and config helpers must add no per-job cost).

    .venv/bin/python bench/bench_dag.py [--repeat 3] [--out results/bench/dag.csv]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lstmfcn_bench.plan import make_plan  # noqa: E402

CONFIG = {"preset": "ucr128", "models": ["lstmfcn", "alstmfcn"], "cells": [8], "seeds": [0, 1, 2]}

SKELETON = """
DATASETS = {datasets!r}
MODELS = ["lstmfcn", "alstmfcn"]
SEEDS = [0, 1, 2]
RUNS = [(d, m, 8, s) for d in DATASETS for m in MODELS for s in SEEDS]

rule all:
    input: "results/tables/summary.html", "results/tables/stats.html"

rule fetch_dataset:
    output: "results/data/{{dataset}}/data.npz", "results/data/{{dataset}}/meta.json"
    shell: "touch {{output}}"

rule train:
    input: "results/data/{{dataset}}/data.npz", "results/data/{{dataset}}/meta.json"
    output:
        "results/models/{{dataset}}/{{model}}_c{{cells}}_s{{seed}}.keras",
        "results/models/{{dataset}}/{{model}}_c{{cells}}_s{{seed}}_history.csv",
        "results/models/{{dataset}}/{{model}}_c{{cells}}_s{{seed}}_train.json",
    shell: "touch {{output}}"

rule evaluate:
    input:
        "results/models/{{dataset}}/{{model}}_c{{cells}}_s{{seed}}.keras",
        "results/models/{{dataset}}/{{model}}_c{{cells}}_s{{seed}}_train.json",
        "results/data/{{dataset}}/data.npz", "results/data/{{dataset}}/meta.json",
    output: "results/metrics/{{dataset}}/{{model}}_c{{cells}}_s{{seed}}.json"
    shell: "touch {{output}}"

rule aggregate:
    input: [f"results/metrics/{{d}}/{{m}}_c{{c}}_s{{s}}.json" for d, m, c, s in RUNS]
    output:
        "results/tables/accuracy.csv", "results/tables/summary.csv",
        "results/tables/summary.html", "results/tables/summary.md",
        "results/tables/stats.csv", "results/tables/stats.html",
        "results/tables/cd_diagram.png",
    shell: "touch {{output}}"
"""


def outputs(datasets: list[str]) -> list[str]:
    """Every output of the grid in dependency order (older first), for the no-op rerun."""
    files = []
    for d in datasets:
        files += [f"results/data/{d}/data.npz", f"results/data/{d}/meta.json"]
    runs = [(d, m, s) for d in datasets for m in CONFIG["models"] for s in CONFIG["seeds"]]
    for d, m, s in runs:
        stem = f"results/models/{d}/{m}_c8_s{s}"
        files += [f"{stem}.keras", f"{stem}_history.csv", f"{stem}_train.json"]
    files += [f"results/metrics/{d}/{m}_c8_s{s}.json" for d, m, s in runs]
    files += [
        f"results/tables/{n}"
        for n in (
            "accuracy.csv",
            "summary.csv",
            "summary.html",
            "summary.md",
            "stats.csv",
            "stats.html",
            "cd_diagram.png",
            "cd_diagram.svg",
        )
    ]
    return files


def make_outputs(workdir: Path, files: list[str]) -> None:
    t = time.time() - 10_000
    for i, f in enumerate(files):
        p = workdir / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()
        os.utime(p, (t + i * 1e-3, t + i * 1e-3))


def timed_dry_run(workdir: Path, args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--quiet", "all", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    dt = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"snakemake failed in {workdir}:\n{done.stderr[-3000:]}")
    return dt, done.stdout + done.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "results/bench/dag.csv")
    args = ap.parse_args()

    datasets = make_plan(CONFIG).datasets
    files = outputs(datasets)
    ours_args = ["--config", "preset=ucr128", "cells=[8]", "seeds=[0,1,2]"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp) / "ours"
        ours.mkdir()
        for item in ("Snakefile", "config.yaml"):
            shutil.copy(ROOT / item, ours)
        for item in ("workflow", "envs"):
            shutil.copytree(ROOT / item, ours / item)
        bare = Path(tmp) / "skeleton"
        bare.mkdir()
        (bare / "Snakefile").write_text(SKELETON.format(datasets=datasets))

        for phase in ("dry run (no outputs)", "no-op rerun (all outputs)"):
            if phase.startswith("no-op"):
                make_outputs(ours, files)
                make_outputs(bare, files)
            times = {"ours": [], "skeleton": []}
            for _ in range(args.repeat):  # interleaved, so both see the same machine state
                for name, wd, extra in (("skeleton", bare, []), ("ours", ours, ours_args)):
                    dt, text = timed_dry_run(wd, extra)
                    if phase.startswith("no-op") and "Nothing to be done" not in text:
                        raise SystemExit(f"{name}: the no-op rerun is not a no-op:\n{text[-2000:]}")
                    times[name].append(dt)
            o, s = statistics.median(times["ours"]), statistics.median(times["skeleton"])
            rows.append(
                {
                    "phase": phase,
                    "jobs": 1666,
                    "skeleton_s": round(s, 2),
                    "ours_s": round(o, 2),
                    "ratio": round(o / s, 2),
                    "target_met": o / s <= 1.5,
                }
            )

    print(f"{'phase':<28} {'skeleton s':>10} {'ours s':>8} {'ratio':>6}  target <= 1.5")
    for r in rows:
        print(
            f"{r['phase']:<28} {r['skeleton_s']:>10.2f} {r['ours_s']:>8.2f} {r['ratio']:>6.2f}"
            f"  {'met' if r['target_met'] else 'NOT met'}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
