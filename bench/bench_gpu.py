"""GPU training throughput: the JAX engine, our loop and Keras's ``Model.fit``, side by side in one run.

The GPU row of the training benchmark. The lent GPU machines carry JAX and PyTorch but no
TensorFlow, so this runs Keras 3 on ``KERAS_BACKEND=jax`` (and optionally ``torch``):

    python bench/bench_gpu.py                       # JAX, 20x70 and the three sizes
    python bench/bench_gpu.py --deadline-s 240      # what fits in 4 min, the most wanted first
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

SIZES = ((20, 70), (50, 150), (1000, 500), (8926, 96))  # the order of the table's rows
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


def spawn(spec: dict, env_extra: dict, log, timeout: float | None = None) -> dict | None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env_extra}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE), "--worker", json.dumps(spec)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        log(f"  TIMED OUT after {timeout:.0f}s (the deadline): {spec} {env_extra}")
        return None
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(cpu_bench.RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        log(f"  FAILED {spec} {env_extra} (exit {proc.returncode}):\n{tail}")
        return None
    log(f"  {spec['kind']} {env_extra} {spec}: {wall:.0f}s wall")
    return json.loads(lines[-1][len(cpu_bench.RESULT_TAG) :])


KINDS = ("ours", "fit", "engine")
PRECISIONS = ("fp32", "tf32")  # full fp32 (`lstmfcn train`'s default) and TF32 (`--tf32`)
#: The size the speed targets name first (engine >= 10x ours and >= 3x fit there).
TARGET_SIZE = (50, 150)


def measurement_order(sizes: list[tuple[int, int]]) -> list[tuple[str, tuple[int, int], str]]:
    """(kind, size, precision) in the order they are measured, the most wanted first, so that a
    run stopped by its deadline has what the issue's targets need: the three paths at the
    target size in fp32; then the engine everywhere (the % of peak and the table's projection
    need only it); then our loop and fit at the other sizes and precisions."""
    order = []
    if TARGET_SIZE in sizes:
        order += [(kind, TARGET_SIZE, "fp32") for kind in ("engine", "ours", "fit")]
    order += [("engine", size, prec) for size in sizes for prec in PRECISIONS]
    order += [(k, size, prec) for size in sizes for prec in PRECISIONS for k in ("ours", "fit")]
    seen: set = set()
    return [m for m in order if not (m in seen or seen.add(m))]


def make_row(backend: str, peak: dict, n: int, T: int, prec: str, got: dict) -> dict:
    """One table row from the measurements `got` (kind -> result or None) of one size."""
    gflop = cpu_bench.train_flops_per_epoch(n, T) / 1e9
    peak_tflops = peak[prec]
    s = {k: (got.get(k) or {}).get("s_per_epoch") for k in KINDS}

    def share(seconds):
        return None if seconds is None else round(100 * gflop / seconds / (1e3 * peak_tflops), 2)

    def ratio(slow, fast):
        return None if slow is None or fast is None else round(slow / fast, 2)

    def rounded(x, digits):
        return None if x is None else round(x, digits)

    ours = got.get("ours")
    return {
        "backend": backend,
        "precision": prec,
        "device": peak["device"],
        "size": f"n={n},T={T}",
        "gflop_per_epoch": round(gflop, 2),
        "ours_s_per_epoch": rounded(s["ours"], 5),
        "fit_s_per_epoch": rounded(s["fit"], 5),
        "ours_speed_vs_fit": ratio(s["fit"], s["ours"]),
        "ours_pct_peak": share(s["ours"]),
        "fit_pct_peak": share(s["fit"]),
        "peak_tflops": round(peak_tflops, 1),
        "peak_fp32_tflops": round(peak["fp32"], 1),
        "n": n,
        "T": T,
        "engine_s_per_run_epoch": rounded(s["engine"], 6),
        "engine_speed_vs_ours": ratio(s["ours"], s["engine"]),
        "engine_speed_vs_fit": ratio(s["fit"], s["engine"]),
        "engine_pct_peak": share(s["engine"]),
        "ours_in_train_on_batch_pct": None
        if ours is None
        else round(100 * ours["train_on_batch_share"], 1),
    }


def write_results(out: Path, rows: list[dict], raw: dict, started: float) -> None:
    """The CSV and the JSON beside it, replaced whole after every measurement, so that a run
    killed at its limit leaves what it had measured."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if rows:
        tmp = out.with_name(out.name + ".tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, out)
    doc = {"rows": rows, "raw": raw, "seconds": time.time() - started}
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, out.with_suffix(".json"))


def print_table(rows: list[dict]) -> None:
    print()
    print("# GPU training throughput (cells 8, batch 128; FLOPs/epoch = 6 * n * T * 263168)")
    print(
        "| backend | precision | size | ours s/epoch | Keras fit s/epoch | ours speed vs fit "
        "| ours % peak | fit % peak | peak TFLOP/s | ours in train_on_batch "
        "| engine s/run-epoch | engine vs ours | engine vs fit | engine % peak |"
    )
    print("|" + "---|" * 14)

    def f(x, unit=""):
        return "-" if x is None else f"{x}{unit}"

    for r in rows:
        print(
            f"| {r['backend']} | {r['precision']} | {r['size']} | {f(r['ours_s_per_epoch'])} "
            f"| {f(r['fit_s_per_epoch'])} | {f(r['ours_speed_vs_fit'], 'x')} "
            f"| {f(r['ours_pct_peak'], '%')} | {f(r['fit_pct_peak'], '%')} | {r['peak_tflops']} "
            f"| {f(r['ours_in_train_on_batch_pct'], '%')} | {f(r['engine_s_per_run_epoch'])} "
            f"| {f(r['engine_speed_vs_ours'], 'x')} | {f(r['engine_speed_vs_fit'], 'x')} "
            f"| {f(r['engine_pct_peak'], '%')} |"
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="jax", help="comma list of jax, torch")
    p.add_argument(
        "--sizes", help="comma list of NxT (default: 20x70 and the CPU benchmark's three)"
    )
    p.add_argument("--epochs-scale", type=float, default=1.0, help="scale the epoch counts")
    p.add_argument("--peak-n", type=int, default=8192, help="matmul size for the peak")
    p.add_argument(
        "--deadline-s",
        type=float,
        default=None,
        help="stop after this many seconds: no measurement starts later, a running one is "
        "killed at it (the most wanted run first: see measurement_order)",
    )
    p.add_argument("--out", type=Path, default=Path("results/bench/gpu.csv"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker))
        return 0

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    sizes = cpu_bench.parse_sizes(args.sizes) if args.sizes else list(SIZES)
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    started = time.time()

    def left() -> float | None:
        return None if args.deadline_s is None else args.deadline_s - (time.time() - started)

    rows: list[dict] = []
    raw: dict = {}
    for backend in args.backends.split(","):
        env = {"KERAS_BACKEND": backend}
        peak = spawn({"kind": "peak", "backend": backend, "N": args.peak_n}, env, log, left())
        if peak is None:
            continue
        log(
            f"{backend} on {peak['device']}: peak fp32 {peak['fp32']:.1f} TFLOP/s, TF32 {peak['tf32']:.1f}"
        )
        got: dict = {}  # (size, prec) -> kind -> result
        for kind, (n, T), prec in measurement_order(sizes):
            remaining = left()
            if remaining is not None and remaining < 10:
                log(f"  deadline: {kind} {n}x{T} {prec} and the rest not measured")
                break
            epochs, warmup = EPOCHS.get((n, T), (10, 2))
            epochs = max(warmup + 3, round(epochs * args.epochs_scale))
            spec = {"kind": kind, "n": n, "T": T, "epochs": epochs, "warmup": warmup}
            res = spawn({**spec, "tf32": prec == "tf32"}, env, log, remaining)
            got.setdefault(((n, T), prec), {})[kind] = res
            raw.setdefault(f"{backend}-{prec}-{n}x{T}", {})[kind] = res
            mine = [
                make_row(backend, peak, n_, T_, prec_, got[((n_, T_), prec_)])
                for (n_, T_) in sizes
                for prec_ in PRECISIONS
                if ((n_, T_), prec_) in got
            ]
            rows = [r for r in rows if r["backend"] != backend] + mine
            write_results(out, rows, raw, started)

    print_table(rows)
    from bench_engine import print_projection

    for backend, prec in sorted({(r["backend"], r["precision"]) for r in rows}):
        same = [r for r in rows if (r["backend"], r["precision"]) == (backend, prec)]
        print_projection(same, f"the engine, {backend} {prec}")
    if not rows:
        print("no measurement succeeded")
        return 1
    print(f"\nwrote {out} ({(time.time() - started) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
