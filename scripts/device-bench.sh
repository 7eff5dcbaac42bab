#!/usr/bin/env bash
# Run THERE (the GPU machine), from the repository root, after scripts/device-build.sh has built
# build-device (benchmarks are on by default):
#   bash scripts/device-bench.sh [OUTDIR]
# Measures the GPU goals of the issues in one go, each step under a time limit (at most 570 s
# in all, inside the device tool's 600 s per command), and keeps going when one fails (a step
# that hits its limit shows exit 124); everything goes to OUTDIR/device-bench.log (default
# $OUT, else ./out):
#   issue 4: ctgan and tvae, 300 epochs on a 32,000-row, 15-column table (goal: < 30 s on an H100)
#   issue 5: ddpm, 30,000 steps at batch 4096 on that table (goal: < 2 min), and 100,000 rows
#            sampled with the strided sampler (goal: < 10 s)
#   issue 6: MMD^2 and DCR at 100,000 x 100,000 x 20 on the GPU (goal: <= 10 s), with the CPU
#            figures of the same machine beside them
# DEVICE=cpu and SCALE=small run the same steps on a CPU in a few minutes (to check the script).
# END_AT (seconds since the epoch) caps the whole run: each step's limit shrinks to what is left,
# and a step with under 15 s left is skipped; the steps run most important first.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-out}}
mkdir -p "$out"
log=$out/device-bench.log
build=${BUILD:-build-device}
device=${DEVICE:-cuda}
if [[ ${SCALE:-full} == small ]]; then
  epochs=2 steps=50 sample=2000 rows=20000
else
  epochs=300 steps=30000 sample=100000 rows=100000
fi
threads=$(nproc)
multi=${PREFIX:-/tmp/rf-prefix}/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$multi:$multi/hdf5/serial:${LD_LIBRARY_PATH:-}

end_at=${END_AT:-$(($(date +%s) + 570))}
step() {  # step LIMIT_SECONDS TITLE COMMAND...
  local limit=$1 title=$2 left=$((end_at - $(date +%s)))
  shift 2
  echo "## $title" | tee -a "$log"
  if ((left < 15)); then
    echo "(skipped: $left s left of the run's time)" | tee -a "$log"
    return
  fi
  ((limit > left)) && limit=$left
  echo "\$ $*" >>"$log"
  local t0=$SECONDS
  timeout "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  echo "(exit $rc, $((SECONDS - t0)) s wall)" | tee -a "$log"
}

{
  echo "# device-bench $(date -u +%FT%TZ), device=$device, scale=${SCALE:-full}"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
  git log -1 --oneline 2>/dev/null || true
} >"$log"

data=$out/gpu15.csv
# 14 features (6 informative, 3 redundant, 2 noise, 3 categorical) + the target = 15 columns.
step 30 "data: 32,000 rows x 15 columns" "$build/tools/rareforge" make-data \
  --preset mixed_realistic --param rows=32000,noise=2,sensitive=0,drift=0 --seed 1 --out "$data" -q

# Each generator with its training step replayed as a CUDA graph (the default), then a short
# eager run (cuda_graph=false) on the same machine for the ratio.
generator_pair() {  # generator_pair ISSUE METHOD epochs|steps COUNT LIMIT_SECONDS [ARGS...]
  local issue=$1 method=$2 unit=$3 n=$4 limit=$5 short=$(($4 / 15 + 1))
  shift 5
  step "$limit" "issue $issue: $method, $n $unit (CUDA graph)" "$build/bench/bench_generators" \
    --data "$data" --method "$method" --"$unit" "$n" --device "$device" --threads "$threads" \
    --sample "$sample" "$@"
  step 40 "issue $issue: $method, $short $unit eager (cuda_graph=false)" \
    "$build/bench/bench_generators" --data "$data" --method "$method:cuda_graph=false" \
    --"$unit" "$short" --device "$device" --threads "$threads" --sample 1000
}
generator_pair 4 ctgan epochs "$epochs" 90
generator_pair 5 ddpm steps "$steps" 150 --sample-steps 50,100
generator_pair 4 tvae epochs "$epochs" 60

for what in mmd dcr; do
  step 30 "issue 6: $what $rows x $rows x 20 on $device" "$build/bench/bench_validation" "$what" \
    --rows "$rows" --device "$device" --threads "$threads"
done
for what in mmd dcr; do
  step 45 "issue 6: $what $rows x $rows x 20 on this machine's CPU ($threads threads)" \
    "$build/bench/bench_validation" "$what" --rows "$rows" --threads "$threads"
done
echo "log: $log"
