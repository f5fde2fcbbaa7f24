#!/usr/bin/env bash
# The GPU checks, as run on a lent GPU machine (H100/H200 with JAX and PyTorch, no TensorFlow).
#
#   bash bench/gpu_session.sh smoke   # CLI train + evaluate of ALSTM-FCN on GunPoint under JAX
#   bash bench/gpu_session.sh bench   # bench/bench_gpu.py: our loop vs Keras fit, fp32 and TF32
#   bash bench/gpu_session.sh repro   # the workflow on the demo datasets, gpu=true, cells
#                                     # 8/64/128 x 3 seeds x 2000 epochs, 14 jobs sharing the GPU,
#                                     # records under $OUT/reproduction
#   bash bench/gpu_session.sh engine  # the JAX engine: one 3-seed group through the CLI
#   REPRO_CONFIG='engine=jax' bash bench/gpu_session.sh repro   # the workflow with the engine
#
# bench/bench_gpu.py times the engine beside our loop and fit, and projects the whole table.
#
# TensorFlow cannot travel there, so Keras runs on KERAS_BACKEND=jax. Keras, Snakemake, their
# dependencies missing there and this package travel as wheels in .whl/: build it here first,
# `.venv/bin/python bench/gpu_wheels.py` (~30 MiB, 45 wheels), and name it in the call's carry.
# Results go to $OUT (default results/gpu).
set -uo pipefail
stage=${1:?usage: gpu_session.sh smoke|engine|bench|repro}
OUT=${OUT:-results/gpu}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH KERAS_BACKEND=jax PYTHONUNBUFFERED=1
export TF_CPP_MIN_LOG_LEVEL=2

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
    start=$(date +%s)
    # 14 jobs share the GPU: cap each JAX process's memory pool (its autotuner otherwise keeps
    # tens of GiB of scratch per process and the later jobs find the GPU full).
    export XLA_PYTHON_CLIENT_MEM_FRACTION=0.06
    # The paper's protocol (preset ucr85) on the demo datasets, or as REPRO_CONFIG says, e.g.
    # REPRO_CONFIG='source=../shared/ucr2018 budget_hours=0.2' for the cheapest that fit.
    timeout "${REPRO_TIMEOUT:-420}" snakemake --cores 16 --resources gpu=14 -q \
        --config preset=ucr85 gpu=true threads=1 'seeds=[0,1,2]' \
        ${REPRO_CONFIG:-'datasets=[GunPoint,ItalyPowerDemand,ArrowHead]'} \
        > "$OUT/repro_snakemake.log" 2>&1  # no pipe: a killed job's
    # children would hold it open past the timeout
    rc=$?
    echo "workflow: $(($(date +%s) - start)) s, exit $rc" | tee -a "$OUT/repro_snakemake.log"
    # The finished seeds' records, to commit here: `lstmfcn publish` of the copy brought back
    # (or copy $OUT/reproduction/runs into reproduction/runs), then `lstmfcn aggregate`.
    lstmfcn publish results --to "$OUT/reproduction" 2>&1 | tail -5
    # Everything but the checkpoints (the tables, metrics, histories, logs, figures).
    tar czf "$OUT/repro.tar.gz" --exclude='*.keras' --exclude='*.resume.npz' \
        results/tables results/metrics results/models results/logs results/benchmarks \
        results/figures 2>/dev/null
    ls -la "$OUT"
    exit $rc
    ;;
*)
    echo "unknown stage $stage" >&2
    exit 2
    ;;
esac
