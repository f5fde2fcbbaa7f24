#!/usr/bin/env bash
# The GPU checks, as run on a lent GPU machine (H100/H200 with JAX and PyTorch, no TensorFlow).
#
#   bash bench/gpu_session.sh all     # what a lent session runs, in one call (below)
#   bash bench/gpu_session.sh table   # the reproduction alone on .gpu-data, for TABLE_S seconds
#   bash bench/gpu_session.sh smoke   # CLI train + evaluate of ALSTM-FCN on GunPoint under JAX
#   bash bench/gpu_session.sh bench   # bench/bench_gpu.py: the engine, our loop and Keras fit
#   bash bench/gpu_session.sh repro   # the workflow on the demo datasets, gpu=true, cells
#                                     # 8/64/128 x 3 seeds x 2000 epochs, 14 jobs sharing the GPU
#   bash bench/gpu_session.sh engine  # the JAX engine: one 3-seed group through the CLI
#   REPRO_CONFIG='engine=jax' bash bench/gpu_session.sh repro   # the workflow with the engine
#
# `all` fits a session's device time (15 minutes, the machine's start included) into one call
# of at most 10 minutes, each part with its share of ALL_S seconds (default 540): first
# bench/bench_gpu.py alone on the GPU (BENCH_S, default 240; the most wanted measurements first),
# then together on the GPU bench/precision_check.py (TF32 against fp32, 2000 epochs) and the
# reproduction itself with the engine on the datasets of .gpu-data, cheapest first, until
# ALL_S is spent; then the finished seeds are published into the tarball brought back.
#
# TensorFlow cannot travel there, so Keras runs on KERAS_BACKEND=jax. Keras, Snakemake, their
# dependencies missing there and this package travel as wheels in .whl/, the datasets as zips in
# .gpu-data/: build both here first (`.venv/bin/python bench/gpu_wheels.py`, ~30 MiB, and
# `.venv/bin/python bench/gpu_data.py`, ~24 MiB) and name both in the call's carry. Results go
# to $OUT (default results/gpu): at most 8 files, none deeper than $OUT/a/b/, so the records
# come back inside repro.tar.gz (results/published/ in it: `lstmfcn publish` of the device's
# results), not as a folder, and the models the table selects, without optimizer state, in
# kept.tar (bench/gpu_kept.py).
set -uo pipefail
stage=${1:?usage: gpu_session.sh all|table|smoke|engine|bench|repro}
OUT=${OUT:-results/gpu}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH KERAS_BACKEND=jax PYTHONUNBUFFERED=1
export TF_CPP_MIN_LOG_LEVEL=2
# The commit the wheel was built from (no .git travels), for the records' provenance.
LSTMFCN_BENCH_CODE=$(cat .whl/code.txt) && export LSTMFCN_BENCH_CODE

# The workflow (preset ucr85, the paper's protocol, gpu=true, 3 seeds) for $1 seconds, with the
# extra config words in $2; then its finished seeds published and everything but the checkpoints
# packed into $OUT/repro.tar.gz.
reproduce() {
    local - start rc
    set -f  # the config words hold [...], which is not a glob
    start=$(date +%s)
    # The jobs share the GPU: cap each JAX process's memory pool (its autotuner otherwise keeps
    # tens of GiB of scratch per process and the later jobs find the GPU full); 0.04 leaves
    # room for the 14 slots, precision_check.py's 6 groups beside them in `all`, and more.
    # shellcheck disable=SC2086  # $2 is a list of config words
    # -k: on SIGTERM Snakemake waits for its jobs, which save resume states; a lent call's
    # end is a hard limit (2026-12-04: the shutdown outlasted it and nothing came back).
    XLA_PYTHON_CLIENT_MEM_FRACTION=0.04 timeout -k 30 "$1" snakemake --cores 16 --resources gpu=14 -q \
        --config preset=ucr85 gpu=true threads=1 'seeds=[0,1,2]' $2 \
        > "$OUT/repro_snakemake.log" 2>&1  # no pipe: a killed job's children would hold it open
    rc=$?
    echo "workflow: $(($(date +%s) - start)) s, exit $rc" | tee -a "$OUT/repro_snakemake.log"
    # The finished seeds' records: here `lstmfcn publish` into results/published; back home,
    # copy its runs/ into reproduction/runs and run `lstmfcn aggregate reproduction/`.
    lstmfcn publish results --to results/published 2>&1 | tail -5
    # The released weights come from the same run as their records: the selected kept models.
    python3 bench/gpu_kept.py --records results/published --models results/models \
        --out "$OUT/kept.tar" 2>&1 | tail -3
    tar czf "$OUT/repro.tar.gz" --exclude='*.keras' --exclude='*.resume.npz' \
        results/published results/tables results/metrics results/models results/logs \
        results/benchmarks results/figures results/precision 2>/dev/null
    return $rc
}

case "$stage" in
smoke)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
    lstmfcn fetch GunPoint --root results/data || exit 1
    lstmfcn train GunPoint --model alstmfcn --epochs 300 --seed 0 --log-every 50 \
        --root results/data --out results/smoke 2>&1 | tee "$OUT/smoke_train.log" || exit 1
    lstmfcn evaluate results/smoke/alstmfcn_c8_s0.keras --dataset GunPoint --root results/data \
        --out "$OUT/smoke_metrics.json" || exit 1
    cp results/smoke/alstmfcn_c8_s0_train.json "$OUT/smoke_train.json"
    ;;
engine)
    lstmfcn fetch ItalyPowerDemand --root results/data || exit 1
    lstmfcn train ItalyPowerDemand --engine jax --seed 0 1 2 --epochs 300 --log-every 50 \
        --root results/data --out results/engine 2>&1 | tee "$OUT/engine_train.log" || exit 1
    cp results/engine/*_train.json "$OUT/"
    ;;
bench)
    python3 bench/bench_gpu.py --out "$OUT/gpu.csv" 2>&1 | tee "$OUT/bench_gpu.log"
    ;;
repro)
    # The demo datasets, or as REPRO_CONFIG says, e.g.
    # REPRO_CONFIG='engine=jax source=.gpu-data/ucr2018 datasets=[...]' (bench/gpu_data.py).
    reproduce "${REPRO_TIMEOUT:-420}" "${REPRO_CONFIG:-datasets=[GunPoint,ItalyPowerDemand,ArrowHead]}"
    rc=$?
    ls -la "$OUT"
    exit $rc
    ;;
table)
    # The whole call for the reproduction (the measurements of `all` were taken 2026-12-04):
    # the staged datasets, cheapest first, for TABLE_S seconds (default 480).
    [ -s .gpu-data/datasets.txt ] || { echo "no .gpu-data: run bench/gpu_data.py here first" >&2; exit 1; }
    reproduce "${TABLE_S:-480}" \
        "engine=jax source=.gpu-data/ucr2018 datasets=[$(cat .gpu-data/datasets.txt)] ${REPRO_EXTRA:-}"
    rc=$?
    ls -la "$OUT"
    exit $rc
    ;;
all)
    t0=$(date +%s)
    total=${ALL_S:-540}
    [ -s .gpu-data/datasets.txt ] || { echo "no .gpu-data: run bench/gpu_data.py here first" >&2; exit 1; }
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/bench_gpu.log" 2>&1
    # shellcheck disable=SC2086  # BENCH_ARGS: extra options (a rehearsal: --peak-n 512 --sizes 20x70,50x150)
    python3 bench/bench_gpu.py --deadline-s "${BENCH_S:-240}" --out "$OUT/gpu.csv" ${BENCH_ARGS:-} \
        >> "$OUT/bench_gpu.log" 2>&1
    echo "bench: $(($(date +%s) - t0)) s"
    left=$((total - ($(date +%s) - t0)))
    # TF32 against fp32 beside the reproduction; it is cheap (6 one-batch groups).
    # A rehearsal on a CPU shortens both: PRECISION_EPOCHS=20 REPRO_EXTRA='epochs=5'.
    XLA_PYTHON_CLIENT_MEM_FRACTION=0.04 timeout -k 10 "$((left - 20))" python3 bench/precision_check.py --work results/precision \
        --epochs "${PRECISION_EPOCHS:-2000}" --out "$OUT/precision.json" > "$OUT/precision.log" 2>&1 &
    reproduce "$((left - 30))" \
        "engine=jax source=.gpu-data/ucr2018 datasets=[$(cat .gpu-data/datasets.txt)] ${REPRO_EXTRA:-}"
    rc=$?
    wait
    echo "all: $(($(date +%s) - t0)) s"
    ls -la "$OUT"
    exit $rc
    ;;
*)
    echo "unknown stage $stage" >&2
    exit 2
    ;;
esac
