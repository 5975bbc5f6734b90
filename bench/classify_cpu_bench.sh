#!/usr/bin/env bash
# End-to-end CPU classification of one 700x700 image: derm-classify against a
# PyTorch 1.13 eager script doing the same with the same weights
# (bench/pytorch_classify.py on Debian's python3-torch, the same LibTorch).
#
#   bench/classify_cpu_bench.sh [--threads 2] [--runs 7] [--build DIR] [--python /usr/bin/python3]
#                               [--image SRC] [--out bench/results/classify_cpu.json]
#
# 1. derm_bench_make_model writes a random, BatchNorm-calibrated model (700x700
#    input, learned-resizer stem to 299, 3 classes, no aux head) and a 700x700 PNG
#    of a real lesion (first image of $DERM_DATA_DIR/isic-fullres-sample/images,
#    default ../shared/data; a synthetic lesion when absent).
# 2. Both classify the PNG once; their probabilities must agree (max abs
#    difference <= 1e-4, float32 rounding: derm folds BatchNorm into its
#    convolutions on the CPU, and on this model's small logits both sides sit
#    about 1e-4 from a float64 forward) or the script fails.
# 3. --runs alternating runs of each are timed from process start to answer
#    (wall clock); median and min are printed with the ratio baseline/ours and
#    written to --out with the machine, thread count and versions.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
PY=/usr/bin/python3
THREADS=2
RUNS=7
OUT=$ROOT/bench/results/classify_cpu.json
DATA=${DERM_DATA_DIR:-$ROOT/../shared/data}
IMAGE=
TOLERANCE=1e-4

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --threads) THREADS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --image) IMAGE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "classify_cpu_bench.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

CLASSIFY=$BUILD/apps/derm-classify/derm-classify
MAKE_MODEL=$BUILD/bench/derm_bench_make_model
BASELINE_SCRIPT=$ROOT/bench/pytorch_classify.py
for exe in "$CLASSIFY" "$MAKE_MODEL"; do
  [[ -x $exe ]] || { echo "classify_cpu_bench.sh: $exe missing; build derm-classify and derm_bench_make_model" >&2; exit 1; }
done
"$PY" -c 'import torch, torchvision, numpy, PIL' 2>/dev/null ||
  { echo "classify_cpu_bench.sh: $PY cannot import torch/torchvision/numpy/PIL (apt install python3-torchvision)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/derm-classify-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
if [[ -z $IMAGE ]]; then
  IMAGE=$(find "$DATA/isic-fullres-sample/images" -maxdepth 1 -name '*.jpg' 2>/dev/null | sort | head -n 1 || true)
fi

echo "== making the model and the 700x700 image" >&2
"$MAKE_MODEL" "$TMP/model.safetensors" --input-size 700 --backbone-size 299 \
  --classes melanoma,seborrheic_keratosis,nevus --seed 1 --image "$IMAGE" --image-out "$TMP/lesion.png"

ours_cmd=("$CLASSIFY" --model "$TMP/model.safetensors" --device cpu --threads "$THREADS" --json --quiet "$TMP/lesion.png")
base_cmd=("$PY" "$BASELINE_SCRIPT" "$TMP/model.safetensors" "$TMP/lesion.png" --threads "$THREADS")

echo "== identical probabilities? (also the warm-up run of each)" >&2
"${ours_cmd[@]}" >"$TMP/ours.json"
"${base_cmd[@]}" >"$TMP/baseline.json"
MAX_DIFF=$("$PY" - "$TMP/ours.json" "$TMP/baseline.json" <<'EOF'
import json, sys
ours = json.load(open(sys.argv[1]))
base = json.load(open(sys.argv[2]))
member = ours["images"][0]["members"][0]["probabilities"]
assert ours["classes"] == base["classes"], (ours["classes"], base["classes"])
print(max(abs(member[c] - p) for c, p in zip(base["classes"], base["probabilities"][0])))
EOF
)
echo "probabilities: ours $(tr -d ' \n' <"$TMP/ours.json" | grep -o '"members":\[{[^]]*"probabilities":{[^}]*}' | grep -o '"probabilities":{[^}]*}')" >&2
echo "probabilities: baseline $(cat "$TMP/baseline.json")" >&2
echo "max abs probability difference: $MAX_DIFF" >&2
if ! "$PY" -c "import sys; sys.exit(0 if float('$MAX_DIFF') <= $TOLERANCE else 1)"; then
  echo "classify_cpu_bench.sh: FAIL: probabilities differ by $MAX_DIFF (> $TOLERANCE)" >&2
  exit 1
fi

# Wall seconds of one run, process start to answer (output discarded after the check above).
time_run() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f\n", (e - s) / 1e9 }'
}

echo "== timing $RUNS alternating runs of each ($THREADS threads)" >&2
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BASE_TIMES=()
OURS_TIMES=()
for ((i = 1; i <= RUNS; i++)); do
  b=$(time_run "${base_cmd[@]}")
  o=$(time_run "${ours_cmd[@]}")
  BASE_TIMES+=("$b")
  OURS_TIMES+=("$o")
  echo "run $i/$RUNS: baseline ${b}s  ours ${o}s" >&2
done

mkdir -p "$(dirname "$OUT")"
"$PY" - "$OUT" "$THREADS" "$RUNS" "$MAX_DIFF" "$IMAGE" "$CLASSIFY" "${BASE_TIMES[*]}" "${OURS_TIMES[*]}" "$LOAD_START" <<'EOF'
import json, os, platform, statistics, subprocess, sys, datetime
import PIL, numpy, torch, torchvision
out, threads, runs, max_diff, image, classify, base, ours, load_start = sys.argv[1:10]
base = [float(t) for t in base.split()]
ours = [float(t) for t in ours.split()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
def pkg(name):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True)
    return r.stdout.strip() or None
version = subprocess.run([classify, "--version"], capture_output=True, text=True).stdout.strip()
load = open("/proc/loadavg").read().split()[:3]
b_med, o_med = statistics.median(base), statistics.median(ours)
result = {
    "benchmark": "end-to-end CPU classification of one 700x700 PNG, process start to answer",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
                "load_average_at_start": [float(x) for x in load_start.split()],
                "load_average_at_end": [float(x) for x in load]},
    "threads": int(threads), "runs": int(runs),
    "model": "random, BatchNorm-calibrated inception_v3: 700x700 input, learned-resizer stem to 299, 3 classes, no aux head",
    "image": image or "synthetic lesion",
    "versions": {"derm": version, "libtorch-dev": pkg("libtorch-dev"), "python3-torch": pkg("python3-torch"),
                 "torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": numpy.__version__,
                 "PIL": PIL.__version__, "python": platform.python_version()},
    "baseline": {"command": "python3 bench/pytorch_classify.py (PyTorch eager)",
                 "seconds": base, "median_s": b_med, "min_s": min(base)},
    "ours": {"command": "derm-classify --json", "seconds": ours, "median_s": o_med, "min_s": min(ours)},
    "ratio_baseline_over_ours": {"median": b_med / o_med, "min": min(base) / min(ours)},
    "max_abs_probability_difference": float(max_diff),
}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
os.replace(tmp, out)
print(f"machine: {os.cpu_count()} x {cpu}, {threads} threads, {runs} runs each, "
      f"load average {load_start} at start, {' '.join(load)} at end (other work on the machine skews the times)")
print(f"baseline (PyTorch {torch.__version__} eager): median {b_med:.3f} s, min {min(base):.3f} s")
print(f"ours     (derm-classify):        median {o_med:.3f} s, min {min(ours):.3f} s")
print(f"ratio baseline/ours: median x{b_med / o_med:.2f}, min x{min(base) / min(ours):.2f}")
print(f"max abs probability difference: {float(max_diff):.3g}")
print(f"wrote {out}")
EOF
