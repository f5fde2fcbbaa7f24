#!/usr/bin/env bash
# Rehearse `bench/gpu_session.sh all` on this CPU before a lent GPU session spends its minutes:
# a Python 3.12 venv (the GPU image's Python) holding only what the image has of what the project
# needs (bench/gpu_image_packages.txt; JAX at the image's version), the working tree copied as
# the device gets it (tracked and untracked-not-ignored files, .whl and .gpu-data carried), and
# the checks shortened to minutes. What fails here would have failed there.
#
#   .venv/bin/python bench/gpu_wheels.py && .venv/bin/python bench/gpu_data.py
#   bash bench/gpu_rehearse.sh            # -> /tmp/gpu-rehearsal/out (what $OUT would bring back)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/gpu-rehearsal}
PY312=${PY312:-$(command -v python3.12 || echo python3.12)}
JAX_VERSION=${JAX_VERSION:-0.11.2}  # the image's (KINDS.md's pip list)
[ -d .whl ] && [ -d .gpu-data ] || { echo "build .whl and .gpu-data first (see above)" >&2; exit 1; }
rm -rf "$WORK/tree" "$WORK/out" && mkdir -p "$WORK/tree" "$WORK/out"
if [ ! -x "$WORK/image/bin/python" ]; then
    "$PY312" -m venv "$WORK/image"
    image=$(.venv/bin/python -c 'import sys; sys.path.insert(0, "bench"); import gpu_wheels as g
need = g.closure(*g.ROOT, skip=g.LEFT_BEHIND); have = g.image_packages()
print(" ".join(sorted(k for k in need if k in have and k != "jax")))')
    # shellcheck disable=SC2086  # a list of names
    "$WORK/image/bin/pip" install -q "jax==$JAX_VERSION" $image
fi
{ git ls-files -co --exclude-standard; find .whl .gpu-data -type f; } | tar cf - -T - | tar xf - -C "$WORK/tree"
cd "$WORK/tree"
rm -rf /tmp/site  # gpu_session.sh installs the wheels there, as on the device
PATH="$WORK/image/bin:$PATH" OUT="$WORK/out" ALL_S=${ALL_S:-420} BENCH_S=${BENCH_S:-120} \
    BENCH_ARGS='--peak-n 512 --sizes 20x70,50x150 --epochs-scale 0.1' \
    PRECISION_EPOCHS=20 REPRO_EXTRA="${REPRO_EXTRA:-epochs=3 cells=[8] models=[lstmfcn] datasets=[SonyAIBORobotSurface2,TwoLeadECG]}" \
    bash bench/gpu_session.sh all
