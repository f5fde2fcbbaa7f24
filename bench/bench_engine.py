"""The JAX engine on a CPU, side by side in one run with the Keras loop on TensorFlow (the CPU
default) and the Keras loop under JAX: seconds per run-epoch, ratios, share of the fp32 peak.

    .venv/bin/python bench/bench_engine.py            # ~10 min on 2 cores
    .venv/bin/python bench/bench_engine.py --quick    # the two small sizes only

Each measurement is a fresh subprocess (bench_training.py --worker), so the backends never
meet. The engine trains a group of 3 seeds (the table's), its epochs timed together and divided
by 3; the first device call, which compiles, is left out (bench_training.work_engine). The
loops' first epoch is left out likewise. Writes a CSV (--out) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_training as cpu  # noqa: E402

#: (n, T, epochs): a tiny dataset, the paper's small ones (GunPoint-sized), a medium one.
SIZES = ((20, 70, 60), (50, 150, 60), (300, 300, 12))
CHUNK = {60: 10, 12: 4}


def table_cost(
    rows: list[dict], seeds: int = 1, epochs: int = 2000, key: str = "engine_s_per_run_epoch"
) -> dict:
    """Hours of the paper's table (the ucr85 preset: 2 models x cells 8/64/128 x `seeds`) from
    measured seconds per run-epoch, modelled as a*steps + b*FLOPs per epoch (least squares
    over the measured sizes; steps = batches of 128, FLOPs of the conv branch)."""
    import numpy as np

    from lstmfcn_bench import cost
    from lstmfcn_bench.data import registry

    def features(n, T):
        return [cost.steps_per_epoch(n, cpu.BATCH), cost.flops_per_epoch(n, T)]

    A = np.array([features(r["n"], r["T"]) for r in rows], dtype=float)
    t = np.array([r[key] for r in rows])
    scale = A.max(axis=0)
    coef, *_ = np.linalg.lstsq(A / scale, t, rcond=None)
    coef = np.clip(coef, 0, None) / scale
    info = registry.registry()
    per_epoch = [
        float(np.dot(features(info[d].n_train, info[d].length or 0), coef))
        for d in registry.preset("ucr85")
    ]
    runs_per_dataset = 2 * 3 * seeds
    return {
        "seconds_per_step": float(coef[0]),
        "seconds_per_gflop": float(coef[1] * 1e9),
        "hours": sum(per_epoch) * epochs * runs_per_dataset / 3600,
        "cheapest_half_hours": sum(sorted(per_epoch)[:42]) * epochs * runs_per_dataset / 3600,
    }


def print_projection(rows: list[dict], what: str) -> None:
    """The table's projected hours for 1 and 3 seeds, from rows with an engine time."""
    rows = [r for r in rows if r.get("engine_s_per_run_epoch")]
    if len(rows) < 2:
        return
    for seeds in (1, 3):
        cost = table_cost(rows, seeds)
        print(
            f"projected ucr85 table with {what}, {seeds} seed(s): {cost['hours']:.2f} h "
            f"(the 42 cheapest datasets: {cost['cheapest_half_hours']:.2f} h); model "
            f"{cost['seconds_per_step'] * 1e3:.3f} ms/step + "
            f"{cost['seconds_per_gflop'] * 1e3:.3f} ms/GFLOP"
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the two small sizes only")
    p.add_argument("--out", type=Path, default=Path("results/bench/engine_cpu.csv"))
    args = p.parse_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    py = sys.executable

    def log(m):
        print(m, file=sys.stderr, flush=True)

    peak = cpu.spawn({"kind": "peak", "reps": 3}, py, {}, 0, log)
    peak_gflops = max(peak["tf_gflops"])
    rows = []
    for n, T, epochs in sizes:
        flops = cpu.train_flops_per_epoch(n, T)
        loop = {"kind": "ours", "n": n, "T": T, "epochs": epochs // 3, "warmup": 1, "xla": None}
        tf = cpu.spawn(loop, py, {"KERAS_BACKEND": "tensorflow"}, 0, log)
        jx = cpu.spawn(loop, py, {"KERAS_BACKEND": "jax"}, 0, log)
        spec = {"kind": "engine", "n": n, "T": T, "epochs": epochs, "chunk": CHUNK[epochs]}
        eng = cpu.spawn({**spec, "seeds": 3}, py, {"KERAS_BACKEND": "jax"}, 0, log)
        row = {
            "n": n,
            "T": T,
            "gflop_per_epoch": flops / 1e9,
            "tf_loop_s": tf["s_per_epoch"],
            "jax_loop_s": jx["s_per_epoch"],
            "engine_s_per_run_epoch": eng["s_per_epoch"],
            "engine_first_call_s": eng["first_call_s"],
            "engine_vs_tf_loop": tf["s_per_epoch"] / eng["s_per_epoch"],
            "engine_vs_jax_loop": jx["s_per_epoch"] / eng["s_per_epoch"],
            "engine_pct_peak": 100 * flops / eng["s_per_epoch"] / 1e9 / peak_gflops,
            "tf_loop_pct_peak": 100 * flops / tf["s_per_epoch"] / 1e9 / peak_gflops,
            "engine_x_flop_cost": eng["s_per_epoch"] / (flops / 1e9 / peak_gflops),
            "other_load_max": max(r.get("other_load") or 0 for r in (tf, jx, eng)),
        }
        rows.append(row)
        log(json.dumps(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"CPU: {cpu.cpu_model()}; fp32 peak (TF matmul) {peak_gflops:.1f} GFLOP/s")
    print(
        "| n | T | GFLOP/epoch | TF loop s/epoch | JAX loop s/epoch | engine s/run-epoch "
        "| engine vs TF loop | engine vs JAX loop | engine % peak | TF loop % peak "
        "| engine / FLOP cost | engine first call s |"
    )
    print("|" + "---|" * 12)
    for r in rows:
        print(
            f"| {r['n']} | {r['T']} | {r['gflop_per_epoch']:.3f} | {r['tf_loop_s']:.4f} "
            f"| {r['jax_loop_s']:.4f} | {r['engine_s_per_run_epoch']:.4f} "
            f"| {r['engine_vs_tf_loop']:.2f}x | {r['engine_vs_jax_loop']:.2f}x "
            f"| {r['engine_pct_peak']:.0f}% | {r['tf_loop_pct_peak']:.0f}% "
            f"| {r['engine_x_flop_cost']:.1f}x | {r['engine_first_call_s']:.0f} |"
        )
    print_projection(rows, "the engine on this CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
