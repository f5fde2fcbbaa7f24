"""GPU training throughput: our loop against Keras's own ``Model.fit``, side by side in one run.

The GPU row of the training benchmark. The lent GPU machines carry JAX and PyTorch but no
TensorFlow, so this runs Keras 3 on ``KERAS_BACKEND=jax`` (and optionally ``torch``):

    python bench/bench_gpu.py                       # JAX, the three sizes, ~3.5 min on an H200
    python bench/bench_gpu.py --backends jax,torch  # + the PyTorch backend

sktime, the CPU benchmark's peer, needs TensorFlow, so on the GPU the peer is the plain Keras
path that sktime (and the notes' baseline) run: ``Model.fit`` on the same model, loss,
optimizer, batch size and data. Every measurement is a fresh subprocess of this file:

* ours: ``lstmfcn_bench.training.train`` (bench_training.work_ours, the CPU benchmark's
  worker), seconds per epoch = median of the steady epochs;
* fit: ``Model.fit`` with a per-epoch timer callback, median of the middle epochs;
* peak: the best of a few 8192^2 fp32 matmuls in the backend, at full fp32 precision and
  with TF32 tensor cores allowed (the backends' own default on Ampere and later).

Precision matters there: left alone, every backend runs fp32 convolutions and matmuls as
TF32 on the tensor cores (a 10-bit mantissa). ``lstmfcn train`` keeps full fp32 unless given
``--tf32``; both are timed, each against its own peak.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))

import bench_training as cpu_bench  # noqa: E402  (the CPU benchmark's workers and FLOP count)

SIZES = ((20, 70), (50, 150), (1000, 500), (8926, 96))
EPOCHS = {
    (20, 70): (60, 10),
    (50, 150): (40, 5),
    (1000, 500): (20, 3),
    (8926, 96): (8, 2),
}  # (epochs, warm-up)


def work_peak(backend: str, N: int = 8192) -> dict:
    """TFLOP/s of an N^2 fp32 matmul at full precision and at the backend's default."""
    reps = 10
    flops = 2.0 * N**3
    out = {}
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        a = jax.random.normal(jax.random.key(0), (N, N), jnp.float32)
        b = jax.random.normal(jax.random.key(1), (N, N), jnp.float32)
        for name, prec in (("fp32", "highest"), ("tf32", None)):
            f = jax.jit(lambda a, b, p=prec: jnp.matmul(a, b, precision=p))
            f(a, b).block_until_ready()
            rates = []
            for _ in range(reps):
                t0 = time.perf_counter()
                f(a, b).block_until_ready()
                rates.append(flops / (time.perf_counter() - t0) / 1e12)
            out[name] = max(rates)
        out["device"] = str(jax.devices()[0].device_kind)
    else:
        import torch

        a = torch.randn(N, N, device="cuda")
        b = torch.randn(N, N, device="cuda")
        for name, tf32 in (("fp32", False), ("tf32", True)):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.matmul(a, b)
            torch.cuda.synchronize()
            rates = []
            for _ in range(reps):
                t0 = time.perf_counter()
                torch.matmul(a, b)
                torch.cuda.synchronize()
                rates.append(flops / (time.perf_counter() - t0) / 1e12)
            out[name] = max(rates)
        out["device"] = torch.cuda.get_device_name(0)
    return out


def work_fit(n: int, T: int, epochs: int, warmup: int, tf32: bool) -> dict:
    """Keras's own fit on the same model, loss, optimizer, batch and precision as ours."""
    import keras

    from lstmfcn_bench import runtime
    from lstmfcn_bench.models.checkpoint import model_input
    from lstmfcn_bench.training import TrainConfig
    from lstmfcn_bench.training.protocol import class_weights, new_model

    runtime.configure(tf32=tf32)
    X, y = cpu_bench.make_data(n, T)
    model = new_model(TrainConfig(cells=cpu_bench.CELLS), T, 2, class_weights(y, 2))
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    model.fit(
        model_input(X, True),
        y.astype("int32"),
        batch_size=cpu_bench.BATCH,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        callbacks=[Timer()],
    )
    steady = times[warmup:-1] or times[warmup:]  # the last epoch carries fit's wind-down
    return {"epoch_seconds": times, "s_per_epoch": statistics.median(steady)}


def work_ours(n: int, T: int, epochs: int, warmup: int, tf32: bool) -> dict:
    res = cpu_bench.work_ours(n, T, epochs, warmup, xla=None, tf32=tf32)
    res.pop("model", None)
    return res


def work_engine(n: int, T: int, epochs: int, warmup: int, tf32: bool) -> dict:
    """The JAX engine, a group of 3 seeds, `warmup` epochs a device call (the first compiles)."""
    chunk = max(1, warmup)
    return cpu_bench.work_engine(n, T, max(epochs, 3 * chunk), chunk, seeds=3, tf32=tf32)


def run_worker(spec: dict) -> None:
    kind = spec.pop("kind")
    fn = {"peak": work_peak, "ours": work_ours, "fit": work_fit, "engine": work_engine}[kind]
    print(cpu_bench.RESULT_TAG + json.dumps(fn(**spec)), flush=True)


def spawn(spec: dict, env_extra: dict, log) -> dict | None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env_extra}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(HERE), "--worker", json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(cpu_bench.RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        log(f"  FAILED {spec} {env_extra} (exit {proc.returncode}):\n{tail}")
        return None
    log(f"  {spec['kind']} {env_extra} {spec}: {wall:.0f}s wall")
    return json.loads(lines[-1][len(cpu_bench.RESULT_TAG) :])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="jax", help="comma list of jax, torch")
    p.add_argument("--sizes", help="comma list of NxT (default: the CPU benchmark's three)")
    p.add_argument("--epochs-scale", type=float, default=1.0, help="scale the epoch counts")
    p.add_argument("--peak-n", type=int, default=8192, help="matmul size for the peak")
    p.add_argument("--out", type=Path, default=Path("results/bench/gpu.csv"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker))
        return 0

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    sizes = cpu_bench.parse_sizes(args.sizes) if args.sizes else list(SIZES)
    started = time.time()
    rows, raw = [], {}
    for backend in args.backends.split(","):
        env = {"KERAS_BACKEND": backend}
        peak = spawn({"kind": "peak", "backend": backend, "N": args.peak_n}, env, log)
        if peak is None:
            continue
        log(
            f"{backend} on {peak['device']}: peak fp32 {peak['fp32']:.1f} TFLOP/s, TF32 {peak['tf32']:.1f}"
        )
        # Full fp32 (the project's default, `lstmfcn train`) and TF32 (`--tf32`).
        precisions = ["fp32", "tf32"]
        for n, T in sizes:
            epochs, warmup = EPOCHS.get((n, T), (10, 2))
            epochs = max(warmup + 3, round(epochs * args.epochs_scale))
            spec = {"n": n, "T": T, "epochs": epochs, "warmup": warmup}
            gflop = cpu_bench.train_flops_per_epoch(n, T) / 1e9
            for prec in precisions:
                tf32 = prec == "tf32"
                ours = spawn({"kind": "ours", **spec, "tf32": tf32}, env, log)
                fit = spawn({"kind": "fit", **spec, "tf32": tf32}, env, log)
                engine = spawn({"kind": "engine", **spec, "tf32": tf32}, env, log)
                raw[f"{backend}-{prec}-{n}x{T}"] = {"ours": ours, "fit": fit, "engine": engine}
                peak_tflops = peak["tf32"] if tf32 else peak["fp32"]

                def share(res, gflop=gflop, peak_tflops=peak_tflops):
                    if res is None:
                        return None
                    return round(100 * gflop / res["s_per_epoch"] / (1e3 * peak_tflops), 2)

                rows.append(
                    {
                        "backend": backend,
                        "precision": prec,
                        "device": peak["device"],
                        "size": f"n={n},T={T}",
                        "gflop_per_epoch": round(gflop, 2),
                        "ours_s_per_epoch": None if ours is None else round(ours["s_per_epoch"], 5),
                        "fit_s_per_epoch": None if fit is None else round(fit["s_per_epoch"], 5),
                        "ours_speed_vs_fit": None
                        if ours is None or fit is None
                        else round(fit["s_per_epoch"] / ours["s_per_epoch"], 2),
                        "ours_pct_peak": share(ours),
                        "fit_pct_peak": share(fit),
                        "peak_tflops": round(peak_tflops, 1),
                        "peak_fp32_tflops": round(peak["fp32"], 1),
                        "n": n,
                        "T": T,
                        "engine_s_per_run_epoch": None
                        if engine is None
                        else round(engine["s_per_epoch"], 6),
                        "engine_speed_vs_ours": None
                        if engine is None or ours is None
                        else round(ours["s_per_epoch"] / engine["s_per_epoch"], 2),
                        "engine_speed_vs_fit": None
                        if engine is None or fit is None
                        else round(fit["s_per_epoch"] / engine["s_per_epoch"], 2),
                        "engine_pct_peak": share(engine),
                        "ours_in_train_on_batch_pct": None
                        if ours is None
                        else round(100 * ours["train_on_batch_share"], 1),
                    }
                )

    print()
    print("# GPU training throughput (cells 8, batch 128; FLOPs/epoch = 6 * n * T * 263168)")
    print(
        "| backend | precision | size | ours s/epoch | Keras fit s/epoch | ours speed vs fit "
        "| ours % peak | fit % peak | peak TFLOP/s | ours in train_on_batch "
        "| engine s/run-epoch | engine vs ours | engine vs fit | engine % peak |"
    )
    print("|" + "---|" * 14)
    for r in rows:

        def f(x, unit=""):
            return "-" if x is None else f"{x}{unit}"

        print(
            f"| {r['backend']} | {r['precision']} | {r['size']} | {f(r['ours_s_per_epoch'])} "
            f"| {f(r['fit_s_per_epoch'])} | {f(r['ours_speed_vs_fit'], 'x')} "
            f"| {f(r['ours_pct_peak'], '%')} | {f(r['fit_pct_peak'], '%')} | {r['peak_tflops']} "
            f"| {f(r['ours_in_train_on_batch_pct'], '%')} | {f(r['engine_s_per_run_epoch'])} "
            f"| {f(r['engine_speed_vs_ours'], 'x')} | {f(r['engine_speed_vs_fit'], 'x')} "
            f"| {f(r['engine_pct_peak'], '%')} |"
        )
    from bench_engine import print_projection

    for backend, prec in sorted({(r["backend"], r["precision"]) for r in rows}):
        same = [r for r in rows if (r["backend"], r["precision"]) == (backend, prec)]
        print_projection(same, f"the engine, {backend} {prec}")
    if not rows:
        print("no measurement succeeded")
        return 1
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out.with_suffix(".json").write_text(
        json.dumps({"rows": rows, "raw": raw, "seconds": time.time() - started}, indent=1) + "\n"
    )
    print(f"\nwrote {out} ({(time.time() - started) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
