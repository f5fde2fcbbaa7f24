"""The compute backend: threads, seeds, determinism, and a description of where a run ran.

Keras reads KERAS_BACKEND at import; TensorFlow is the default backend, JAX and PyTorch work
through the same code (the models use only keras.layers / keras.ops).
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import random
import re
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

_configured = False
_tf32 = False

# Several small training jobs share one GPU (the workflow's `gpu` resource counts slots):
# without these, JAX takes 75 % of the GPU's memory and TensorFlow all of it in the first job.
GPU_SHARING_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}


def share_gpu_memory() -> None:
    """GPU memory on demand instead of most of the GPU per process; before the backend starts.
    Variables a user set are kept."""
    for key, value in GPU_SHARING_ENV.items():
        os.environ.setdefault(key, value)


def configure(threads: int | None = None, deterministic: bool = False, tf32: bool = False) -> None:
    """Thread pools, determinism and GPU precision, set once before the backend's first op.

    On a small CPU machine the default inter-op pool oversubscribes the cores; one
    intra-op pool of `threads` (default: all cores) is what these models want.

    `tf32=False` (the default) keeps convolutions and matmuls in full fp32 on GPUs with
    tensor cores, as the paper's 2017 GPUs computed; TensorFlow, JAX and PyTorch's cuDNN
    convolutions would otherwise use TF32 (a 10-bit mantissa) there. No effect on a CPU.
    """
    global _configured, _tf32
    share_gpu_memory()
    import keras

    backend = keras.backend.backend()
    n = threads or len(os.sched_getaffinity(0))
    if backend == "tensorflow":
        import tensorflow as tf

        if not _configured:
            # Already initialised (e.g. in a test process): keep its pools.
            with contextlib.suppress(RuntimeError):
                tf.config.threading.set_intra_op_parallelism_threads(n)
                tf.config.threading.set_inter_op_parallelism_threads(min(2, n))
            if deterministic:
                tf.config.experimental.enable_op_determinism()
        # Unlike the pools, this may change after start-up.
        tf.config.experimental.enable_tensor_float_32_execution(tf32)
    elif backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", None if tf32 else "highest")
    elif backend == "torch":
        import torch

        torch.set_num_threads(n)
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        if deterministic:
            torch.use_deterministic_algorithms(True)
    _configured, _tf32 = True, tf32


def precision() -> str:
    """How convolutions and matmuls compute on an accelerator: 'fp32' or 'tf32-allowed'."""
    return "tf32-allowed" if _tf32 else "fp32"


def jit_compile_setting() -> bool | str:
    """XLA for the train step where it pays: JAX always compiles; TensorFlow on a GPU gains
    from XLA, but on this project's 2-core CPUs TF's own kernels (oneDNN) ran the LSTM-FCN
    step faster than XLA (bench/bench_training.py measures both)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        return True
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return "auto"


def seed_everything(seed: int) -> None:
    """Python, NumPy and the backend's global seed (keras.utils.set_random_seed does all)."""
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def device_description() -> str:
    """The accelerator the backend computes on, or the CPU model."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_logical_devices("GPU")
            if gpus:
                return f"GPU ({len(gpus)}x) {tf.config.experimental.get_device_details(tf.config.list_physical_devices('GPU')[0]).get('device_name', '')}".strip()
        elif backend == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform != "cpu":
                return f"{dev.platform.upper()} {dev.device_kind}"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU {torch.cuda.get_device_name(0)}"
    except Exception:  # a description must never fail a run
        pass
    return cpu_description()


def cpu_description() -> str:
    """The CPU model and the cores this process may use."""
    return f"CPU {_cpu_model()} ({len(os.sched_getaffinity(0))} cores)"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    """Versions of what decides the numbers: Python, this package, Keras, the backend, NumPy."""
    import keras

    out = {"python": platform.python_version(), "keras": keras.__version__}
    out.update(installed("lstmfcn-bench", "numpy", "tensorflow", "tensorflow-cpu", "jax", "torch"))
    out["backend"] = keras.backend.backend()
    return out


def installed(*dists: str) -> dict[str, str]:
    """The installed version of each of ``dists`` that is installed."""
    out = {}
    for dist in dists:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


@functools.cache
def code_version(where: Path | None = None) -> dict:
    """The project commit the running package (or the folder ``where``) came from, and whether
    its tracked files had uncommitted changes (``dirty``): both ``None`` outside a git checkout
    (an installed wheel), unless ``LSTMFCN_BENCH_CODE`` says "COMMIT clean" or "COMMIT dirty"
    (what bench/gpu_wheels.py read off the tree it built the wheel from). A published record
    names the code that trained it; a dirty tree cannot be rebuilt."""
    where = Path(where or Path(__file__).resolve().parent)

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return _stated_code_version(os.environ.get("LSTMFCN_BENCH_CODE", ""))
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def _stated_code_version(stated: str) -> dict:
    """``LSTMFCN_BENCH_CODE``'s "COMMIT clean|dirty", or unknown when it says anything else."""
    commit, _, state = stated.strip().partition(" ")
    if re.fullmatch(r"[0-9a-f]{40}", commit) and state in ("clean", "dirty"):
        return {"commit": commit, "dirty": state == "dirty"}
    return {"commit": None, "dirty": None}
