"""Build .whl/, the wheels a lent GPU machine lacks, before the session that uses it.

The GPU machines (H100/H200) have JAX, PyTorch and a long list of packages (listed in
bench/gpu_image_packages.txt, from the workplace's description of the image) but no Keras,
Snakemake or this package, and they cannot reach a package index. So the wheels travel with the
working tree (`carry: [".whl"]`) and bench/gpu_session.sh installs them into /tmp/site.

    .venv/bin/python bench/gpu_wheels.py            # -> .whl/ (git-ignored), ~30 MiB
    .venv/bin/python bench/gpu_wheels.py --list     # only print what would be fetched

What is fetched: the installed dependency closure of `lstmfcn-bench[workflow]` at the versions
installed here, minus TensorFlow and what only TensorFlow needs (Keras runs on JAX there),
minus every package the image already has (its versions win, one version of each), as wheels
for CPython 3.12 on manylinux x86-64; and this package itself, built from the working tree.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from lstmfcn_bench.runtime import code_version

REPO = Path(__file__).resolve().parents[1]
IMAGE_PACKAGES = Path(__file__).with_name("gpu_image_packages.txt")
ROOT = ("lstmfcn-bench", ("workflow",))
#: Not carried: the GPU runs Keras on JAX (the image has it), so TensorFlow stays behind.
LEFT_BEHIND = {"tensorflow", "tensorflow-cpu"}
PYTHON = "3.12"
PLATFORMS = [
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str, extras: tuple[str, ...], skip: set[str]) -> dict[str, str]:
    """Installed distributions reachable from `root[extras]`, not through `skip`: name -> version.
    Markers are read as on the GPU machine's Python; a package met again with other extras is
    walked again for them."""
    found: dict[str, str] = {}
    walked: set[tuple[str, str]] = set()  # (package, extra) pairs already followed
    stack = [(root, extras)]
    while stack:
        name, wanted = stack.pop()
        key = canonical(name)
        if key in skip:
            continue
        todo = [e for e in ("", *wanted) if (key, e) not in walked]
        if not todo:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{name} is needed but not installed here: install it first") from None
        found[key] = dist.version
        walked.update((key, e) for e in todo)
        for text in dist.requires or []:
            req = Requirement(text)
            environments = [{"extra": e, "python_version": PYTHON} for e in todo]
            if req.marker is None or any(req.marker.evaluate(env) for env in environments):
                stack.append((req.name, tuple(req.extras)))
    return found


def image_packages() -> set[str]:
    lines = IMAGE_PACKAGES.read_text().splitlines()
    return {canonical(line) for line in lines if line.strip() and not line.startswith("#")}


def to_carry() -> dict[str, str]:
    """Name -> version of every package the GPU machine needs and lacks, this package aside."""
    needed = closure(*ROOT, skip=LEFT_BEHIND)
    have = image_packages()
    return {k: v for k, v in sorted(needed.items()) if k not in have and k != canonical(ROOT[0])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / ".whl")
    p.add_argument("--list", action="store_true", help="print what would be fetched, fetch nothing")
    args = p.parse_args(argv)
    carry = to_carry()
    print(
        f"{len(carry)} packages the image lacks: " + " ".join(f"{k}=={v}" for k, v in carry.items())
    )
    if args.list:
        return 0
    if args.out.exists():
        shutil.rmtree(args.out)  # one version of each: a stale wheel would stop the install there
    args.out.mkdir(parents=True)
    platforms = [arg for plat in PLATFORMS for arg in ("--platform", plat)]
    pip = [sys.executable, "-m", "pip"]
    download = [*pip, "download", "-q", "--no-deps", "--only-binary=:all:"]
    download += ["--python-version", PYTHON, "--implementation", "cp", *platforms]
    for name, version in carry.items():
        spec = f"{name}=={version}"
        if subprocess.run([*download, "-d", str(args.out), spec], capture_output=True).returncode:
            # No wheel on the index (connection-pool 0.0.3 ships an sdist only): build one here,
            # which is only right for pure-Python code.
            subprocess.run(
                [*pip, "wheel", "-q", "--no-deps", "-w", str(args.out), spec], check=True
            )
            stem = f"{name.replace('-', '_')}-{version}-".lower()
            built = next(
                (w for w in args.out.glob("*.whl") if w.name.lower().startswith(stem)), None
            )
            if built is None or not built.name.endswith("-py3-none-any.whl"):
                raise SystemExit(f"{spec}: no wheel for CPython {PYTHON} and not pure Python")
            print(f"{spec}: built from its sdist (pure Python)")
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(args.out), str(REPO)], check=True)
    # Outside a checkout the package cannot see its commit; gpu_session.sh hands this on as
    # LSTMFCN_BENCH_CODE, so the records trained there name the code (runtime.code_version).
    code = code_version.__wrapped__(REPO)
    if code["commit"] is None:
        raise SystemExit(f"{REPO} is not a git checkout: the records could not name their code")
    state = "dirty" if code["dirty"] else "clean"
    (args.out / "code.txt").write_text(f"{code['commit']} {state}\n")
    wheels = sorted(args.out.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels)
    print(
        f"{len(wheels)} wheels, {size / 2**20:.1f} MiB -> {args.out} (carry it: carry=['.whl']); "
        f"code {code['commit'][:12]} {state}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
