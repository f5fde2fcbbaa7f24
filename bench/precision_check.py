"""TF32 against full fp32: is TF32 safe for the table? Test accuracy of both, next to the seed spread.

On Ampere and later GPUs TF32 runs fp32 convolutions and matmuls on the tensor cores with a
10-bit mantissa, several times faster (`lstmfcn train --tf32`, config `tf32: true`); the
project's default keeps full fp32. This trains LSTM-FCN (cells 8, the paper's protocol
otherwise) on the demo datasets with the JAX engine, seeds 0-2 as one group, once in each
precision (the two groups run at once: the GPU has room), evaluates every member on the test
split and prints, per dataset, the mean and spread of each precision and their difference.

    python bench/precision_check.py                       # 2000 epochs, on a GPU
    python bench/precision_check.py --epochs 30           # a rehearsal on a CPU (TF32 is a
                                                          # no-op there: the two must agree)

Writes `--out` (JSON: every member's accuracy and training loss) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATASETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead")
PRECISIONS = ("fp32", "tf32")
SEEDS = (0, 1, 2)


def train(dataset: str, prec: str, work: Path, epochs: int, log) -> subprocess.Popen:
    out = work / prec / dataset
    cmd = ["lstmfcn", "train", dataset, "--engine", "jax", "--epochs", str(epochs)]
    cmd += ["--seed", *map(str, SEEDS), "--root", str(work / "data"), "--out", str(out)]
    cmd += ["--log-every", "0"] + (["--tf32"] if prec == "tf32" else [])
    log(" ".join(cmd))
    logfile = open(work / f"train_{prec}_{dataset}.log", "w")  # noqa: SIM115 (kept by the child)
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    return subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT, env=env)


def evaluate_all(work: Path) -> list[dict]:
    """Every member's test accuracy, in this process (one JAX start for all of them)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")  # the backend the engine trained on
    from lstmfcn_bench import runtime
    from lstmfcn_bench.data.dataset import load
    from lstmfcn_bench.results.evaluation import evaluate
    from lstmfcn_bench.runs import stem

    runtime.configure()  # evaluation in full fp32 for both
    rows = []
    for dataset in DATASETS:
        data = load(dataset, work / "data")
        for prec in PRECISIONS:
            for seed in SEEDS:
                model = work / prec / dataset / f"{stem('lstmfcn', 8, seed)}.keras"
                m = evaluate(model, data)
                rows.append(
                    {
                        "dataset": dataset,
                        "precision": prec,
                        "seed": seed,
                        "accuracy": m["test_accuracy"],
                        "train_loss": m.get("train_loss"),
                        "device": m.get("device"),
                    }
                )
    return rows


def summary(rows: list[dict]) -> list[str]:
    lines = [
        "| dataset | fp32 mean ± std | TF32 mean ± std | TF32 − fp32 (points) | seed std fp32 (points) |",
        "|---|---|---|---|---|",
    ]
    for dataset in DATASETS:
        acc = {
            p: [r["accuracy"] for r in rows if r["dataset"] == dataset and r["precision"] == p]
            for p in PRECISIONS
        }
        mean = {p: statistics.mean(acc[p]) for p in PRECISIONS}
        std = {p: statistics.stdev(acc[p]) for p in PRECISIONS}
        lines.append(
            f"| {dataset} | {mean['fp32']:.4f} ± {std['fp32']:.4f} "
            f"| {mean['tf32']:.4f} ± {std['tf32']:.4f} "
            f"| {100 * (mean['tf32'] - mean['fp32']):+.2f} | {100 * std['fp32']:.2f} |"
        )
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--work", type=Path, default=Path("results/precision"))
    p.add_argument("--out", type=Path, default=Path("results/precision/precision.json"))
    args = p.parse_args(argv)

    def log(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    started = time.time()
    args.work.mkdir(parents=True, exist_ok=True)
    for dataset in DATASETS:
        subprocess.run(
            ["lstmfcn", "fetch", dataset, "--root", str(args.work / "data"), "--quiet"], check=True
        )
    procs = [train(d, prec, args.work, args.epochs, log) for d in DATASETS for prec in PRECISIONS]
    failed = [proc.args for proc in procs if proc.wait() != 0]
    if failed:
        log(f"{len(failed)} training group(s) failed (logs in {args.work}): {failed}")
        return 1
    log(f"trained in {time.time() - started:.0f}s")
    rows = evaluate_all(args.work)
    lines = summary(rows)
    print(f"# TF32 against fp32: LSTM-FCN, cells 8, {args.epochs} epochs, seeds 0-2, engine jax")
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"epochs": args.epochs, "seconds": time.time() - started, "runs": rows, "table": lines}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out} ({time.time() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
