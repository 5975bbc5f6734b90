#!/usr/bin/env bash
# Issue 5's GPU benchmarks in one command, from a fresh checkout on the device
# machine (see bench/gpu/README.md for the exact device call):
#
#   bash bench/gpu/run_all.sh
#
# 1. Unless DERM_BENCH_BUILD names a build, builds into build-gpu with
#    bench/gpu/build.sh (the device kit's environment, Release, no tests).
# 2. Makes synthetic data: N random 768x768 PNGs (make_synthetic_images.py),
#    a derm-prep manifest of them, and an untrained 700->299 model (derm-model create).
# 3. Measures, each of ours right before its baseline on the same GPU:
#    latency  derm_bench_forward_latency vs pytorch_latency_baseline.py
#             (batch 1, 700x700, fp32, the same model file; ratio = baseline ms / ours ms, target >= 3);
#             ours as derm-classify runs it (a replayed CUDA graph, BatchNorm folded), and
#             what-ifs: eager (--no-cuda-graphs --no-fold), --cudnn-benchmark, --channels-last,
#             and the fold's options --merge-siblings, --fused-relu, --fold-pools and all three
#    train    derm-train (--epochs 2 --steps-per-epoch S --data-on device, epoch 2's images/s)
#             with --cuda-graphs and without, vs pytorch_train_baseline.py (S warm-up + S
#             timed steps), at 700 with the stem and at 299 without; ratio = ours / baseline,
#             target >= 1.5 at 700; the baselines then profile 3 more steps (top_ops: the
#             operators with the most device time per step);
#    stem     pytorch_stem_profile.py: the stem's forward + backward at the training batch, and
#             its batch-1 fp32 forward, with its resize as interpolate (PyTorch) and as
#             matrix products (derm's other forms, which it takes where faster), and what-ifs
#             (BatchNorm's affine after the resize, conv1 on a 4- or 8-channel input, conv2 as a
#             matmul, all three); ratio = interpolate ms / form's ms; each form's operators by
#             device time (3 profiled passes);
#    input    derm_bench_tensor_augment: derm-train's on-device augmentation + normalisation per
#             batch at the training size, set beside derm's step time per batch.
# 4. Prints a table and writes <prefix>_latency.json, <prefix>_train.json (and the
#    logs) to the results folder and, when $OUT is set, to $OUT.
#
# Environment (defaults for cuda / for the cpu smoke test):
#   DERM_BENCH_DEVICE    cuda | cpu                       (cuda)
#   DERM_BENCH_BUILD     existing build folder to use     (empty: configure + build build-gpu)
#   DERM_BENCH_PYTHON    python with torch + torchvision  (first of python3, /usr/bin/python3 that has them)
#   DERM_BENCH_SIZE      training/latency input side      (700 / 128)
#   DERM_BENCH_BACKBONE  backbone side behind the stem    (299 / 75)
#   DERM_BENCH_SMALL     input side of the stem-less run  (299 / 75)
#   DERM_BENCH_BATCH     training batch                   (64 / 4)
#   DERM_BENCH_STEPS     timed (and warm-up) steps        (30 / 3)
#   DERM_BENCH_LAT_ITERS, DERM_BENCH_LAT_WARMUP           (100, 20 / 5, 2)
#   DERM_BENCH_IMAGES, DERM_BENCH_IMAGE_SIDE              (128, 768 / 16, 160)
#   DERM_BENCH_THREADS   CPU threads (cpu only)           (nproc)
#   DERM_BENCH_RESULTS   results folder                   (bench/results / <build>/bench-smoke)
#   DERM_BENCH_DEADLINE  seconds after start past which no new measurement starts (480 / 3600)
#   DERM_BENCH_STEP_TIMEOUT  seconds per measurement      (150 / 900)
# Exit code: 0 when every measurement ran, 1 otherwise (partial results are still written).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
START=$SECONDS
DEVICE=${DERM_BENCH_DEVICE:-cuda}
case $DEVICE in
  cuda)
    d_size=700 d_backbone=299 d_small=299 d_batch=64 d_steps=30 d_iters=100 d_warm=20 d_images=128 d_side=768
    d_deadline=480 d_timeout=150 prefix=gpu ;;
  cpu)
    d_size=128 d_backbone=75 d_small=75 d_batch=4 d_steps=3 d_iters=5 d_warm=2 d_images=16 d_side=160
    d_deadline=3600 d_timeout=900 prefix=cpu_smoke ;;
  *) echo "run_all.sh: DERM_BENCH_DEVICE must be cuda or cpu, got '$DEVICE'" >&2; exit 2 ;;
esac
SIZE=${DERM_BENCH_SIZE:-$d_size}
BACKBONE=${DERM_BENCH_BACKBONE:-$d_backbone}
SMALL=${DERM_BENCH_SMALL:-$d_small}
BATCH=${DERM_BENCH_BATCH:-$d_batch}
STEPS=${DERM_BENCH_STEPS:-$d_steps}
LAT_ITERS=${DERM_BENCH_LAT_ITERS:-$d_iters}
LAT_WARMUP=${DERM_BENCH_LAT_WARMUP:-$d_warm}
IMAGES=${DERM_BENCH_IMAGES:-$d_images}
IMAGE_SIDE=${DERM_BENCH_IMAGE_SIDE:-$d_side}
DEADLINE=${DERM_BENCH_DEADLINE:-$d_deadline}
STEP_TIMEOUT=${DERM_BENCH_STEP_TIMEOUT:-$d_timeout}
THREADS=${DERM_BENCH_THREADS:-$(nproc)}
BUILD=${DERM_BENCH_BUILD:-}

log() { printf '[run_all %4ds] %s\n' $((SECONDS - START)) "$*" >&2; }

# ---- 1. build -------------------------------------------------------------
BUILD_SECONDS=0
if [[ -z $BUILD ]]; then
  BUILD=$ROOT/build-gpu
  log "configuring and building $BUILD (log: $BUILD/build.log)"
  b0=$SECONDS
  # shellcheck source=build.sh
  source "$ROOT/bench/gpu/build.sh"
  if ! derm_gpu_build "$BUILD"; then
    [[ -n ${OUT:-} ]] && cp "$BUILD/build.log" "$OUT/" 2>/dev/null
    exit 1
  fi
  BUILD_SECONDS=$((SECONDS - b0))
  log "built in ${BUILD_SECONDS}s"
fi
BUILD=$(cd "$BUILD" && pwd)
PREP=$BUILD/apps/derm-prep/derm-prep
TRAIN=$BUILD/apps/derm-train/derm-train
MODEL=$BUILD/apps/derm-model/derm-model
LATENCY=$BUILD/bench/derm_bench_forward_latency
INPUT=$BUILD/bench/derm_bench_tensor_augment
for exe in "$PREP" "$TRAIN" "$MODEL" "$LATENCY" "$INPUT"; do
  [[ -x $exe ]] || { echo "run_all.sh: $exe missing (build derm-prep derm-train derm-model and the bench/ tools)" >&2; exit 1; }
done

PY=${DERM_BENCH_PYTHON:-}
if [[ -z $PY ]]; then
  for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import torch, torchvision' >/dev/null 2>&1; then PY=$candidate; break; fi
  done
fi
[[ -n $PY ]] || { echo "run_all.sh: no python with torch and torchvision (set DERM_BENCH_PYTHON)" >&2; exit 1; }
if [[ $DEVICE == cuda ]] && ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "run_all.sh: $PY's torch sees no CUDA device" >&2; exit 1
fi

RESULTS=${DERM_BENCH_RESULTS:-}
if [[ -z $RESULTS ]]; then
  if [[ $DEVICE == cuda ]]; then RESULTS=$ROOT/bench/results; else RESULTS=$BUILD/bench-smoke; fi
fi
mkdir -p "$RESULTS"
WORK=$BUILD/bench-work-$DEVICE
rm -rf "$WORK"
mkdir -p "$WORK/logs"

{
  echo "device=$DEVICE size=$SIZE backbone=$BACKBONE small=$SMALL batch=$BATCH steps=$STEPS"
  echo "latency_iterations=$LAT_ITERS latency_warmup=$LAT_WARMUP images=$IMAGES image_side=$IMAGE_SIDE"
  echo "build=$BUILD build_seconds=$BUILD_SECONDS python=$(command -v "$PY")"
  "$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.version.cuda)'
  if [[ $DEVICE == cuda ]]; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1; fi
} >"$WORK/environment.txt"
cat "$WORK/environment.txt" >&2

cpu_threads=()
py_cpu=()
if [[ $DEVICE == cpu ]]; then
  cpu_threads=(--threads "$THREADS")
  py_cpu=(--threads "$THREADS" --fp32 --no-channels-last)  # derm-train uses autocast and channels_last on CUDA only
fi

FAILED=0
# measure NAME OUTFILE COMMAND...: runs it under a timeout, stdout to OUTFILE, stderr to logs/NAME.log.
measure() {
  local name=$1 outfile=$2
  shift 2
  if ((SECONDS - START > DEADLINE)); then
    log "$name: skipped (past the ${DEADLINE}s deadline)"
    FAILED=1
    return 1
  fi
  log "$name: $*"
  local t0=$SECONDS
  timeout "$STEP_TIMEOUT" "$@" >"$outfile" 2>"$WORK/logs/$name.log"
  local rc=$?
  if ((rc != 0)); then
    log "$name: FAILED (exit $rc after $((SECONDS - t0))s); last lines of its log:"
    tail -n 15 "$WORK/logs/$name.log" >&2
    rm -f "$outfile"
    FAILED=1
    return 1
  fi
  log "$name: done in $((SECONDS - t0))s"
}

# derm-train's epoch 2 record (steady state: epoch 1 warmed up cuDNN and the caches,
# and with --cuda-graphs recorded the step).
train_ours() {
  local name=$1 size=$2 backbone=$3
  shift 3
  local out=$WORK/$name
  if measure "$name" "$WORK/$name.stdout" "$TRAIN" --manifest "$WORK/manifest.csv" --out "$out" \
      --input-size "$size" --backbone-size "$backbone" --epochs 2 --steps-per-epoch "$STEPS" \
      --batch-size "$BATCH" --ensemble 1 --data-on device --no-resume --val-split "" \
      --device "$DEVICE" --workers 4 --quiet "${cpu_threads[@]}" "$@"; then
    tail -n 1 "$out/train-log.jsonl" >"$WORK/$name.json"
  fi
}

finish() {
  "$PY" - "$WORK" "$RESULTS" "$prefix" "$DEVICE" "$SIZE" "$BACKBONE" "$SMALL" "$BATCH" "$STEPS" "$BUILD_SECONDS" <<'EOF'
import json, os, sys, time
work, results, prefix, device, size, backbone, small, batch, steps, build_seconds = sys.argv[1:]
def load(name):
    try:
        with open(os.path.join(work, name + ".json")) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None
def stem_resize_of_training(name):
    """How derm-train's stem resized (timed once per input), from its train-log.jsonl."""
    try:
        with open(os.path.join(work, name, "train-log.jsonl")) as f:
            return [c for line in f for c in json.loads(line).get("stem_resize", [])]
    except (OSError, ValueError):
        return None
env = open(os.path.join(work, "environment.txt")).read().strip().splitlines()
common = {"device": device, "environment": env, "build_seconds": int(build_seconds),
          "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
          "note": "CPU SMOKE TEST at tiny sizes, not a result" if device == "cpu" else "measured by bench/gpu/run_all.sh"}
rows = []

lo, lb = load("latency_ours"), load("latency_baseline")
latency = dict(common, benchmark="single-image forward latency (derm-classify's network call)",
               size=int(size), ours=lo, baseline=lb, target_ratio=3.0, ratio=None, max_rel_logit_diff=None,
               variants={})
def rel_logit_diff(ours, baseline):
    scale = max(abs(v) for v in baseline["logits"]) or 1.0
    return max(abs(a - b) for a, b in zip(ours["logits"], baseline["logits"])) / scale
if lo and lb:
    latency["ratio"] = lb["median_ms"] / lo["median_ms"]
    latency["max_rel_logit_diff"] = rel_logit_diff(lo, lb)
rows.append(("latency b1 %s fp32 (ms, median)" % size, lb and lb["median_ms"], lo and lo["median_ms"],
             latency["ratio"], 3.0))
for key, label in (("eager", "  what-if: eager, BN unfolded"), ("cudnn_benchmark", "  what-if: + cudnn benchmark"),
                   ("channels_last", "  what-if: + channels-last"),
                   ("merge_siblings", "  what-if: 1x1 siblings merged"),
                   ("fused_relu", "  what-if: conv+bias+ReLU fused"),
                   ("fold_pools", "  what-if: average pools folded into convs"),
                   ("all_fold_options", "  what-if: merged + fused + pools folded")):
    v = load("latency_ours_" + key)
    ratio = (lb["median_ms"] / v["median_ms"]) if v and lb else None
    latency["variants"][key] = dict(ours=v, ratio=ratio, max_rel_logit_diff=rel_logit_diff(v, lb) if v and lb else None)
    rows.append((label, lb and lb["median_ms"], v and v["median_ms"], ratio, None))

train = dict(common, benchmark="training throughput (images/s), derm-train vs PyTorch eager",
             batch=int(batch), steps=int(steps), runs={})
for key, name, s, b, target in (("stem", "train_stem", size, backbone, 1.5), ("plain", "train_plain", small, small, None)):
    o, e, p = load(name + "_ours"), load(name + "_ours_eager"), load(name + "_baseline")
    ratio = lambda ours: (ours["images_per_second"] / p["images_per_second"]) if ours and p else None
    run = {"input_size": int(s), "backbone_size": int(b), "stem": s != b, "ours": o, "ours_eager": e,
           "baseline": p, "ratio": ratio(o), "ratio_eager": ratio(e), "target_ratio": target,
           "note": "ours: derm-train --cuda-graphs; ours_eager: without"}
    if s != b:
        run["stem_resize_ours"] = stem_resize_of_training(name + "_ours")
    train["runs"]["%s_%s" % (s, key)] = run
    rows.append(("train %s%s bs%s (img/s)" % (s, "->%s stem" % b if s != b else "", batch),
                 p and p["images_per_second"], o and o["images_per_second"], run["ratio"], target))
    rows.append(("  without --cuda-graphs", p and p["images_per_second"], e and e["images_per_second"],
                 run["ratio_eager"], None))

stem = load("stem_resize")
train["stem_resize"] = stem
train["input_path"] = load("input_path")
if stem:
    for key, label in (("train_ms", "stem fwd+bwd bs%s (ms, median)" % batch), ("infer_ms", "stem fwd b1 fp32 (ms)")):
        for form, suffix in (("matrices", ""), ("matrices_channels_last", ", NHWC"),
                             ("matrices_channels_last_wide", ", NHWC wide"), ("normalised_after_resize", ", BN after"),
                             ("padded_input_4", ", 4-ch input"), ("padded_input_8", ", 8-ch input"),
                             ("pointwise_as_matmul", ", 1x1 matmul"), ("all_what_ifs", ", all 3 what-ifs")):
            if form not in stem["stems"]:
                continue
            ratio = stem["stems"]["interpolate"][key] / stem["stems"][form][key]
            rows.append((label.replace(" (ms", suffix + " (ms"), stem["stems"]["interpolate"][key],
                         stem["stems"][form][key], ratio, None))

for name, doc in (("latency", latency), ("train", train)):
    path = os.path.join(results, "%s_%s.json" % (prefix, name))
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)

fmt = lambda v: "-" if v is None else ("%.2f" % v if v < 100 else "%.0f" % v)
lines = ["", ("CPU SMOKE TEST (tiny sizes; NOT a result)" if device == "cpu" else "GPU benchmarks (issue 5)")
         + " -- " + "; ".join(env[3:5]),
         "%-46s %12s %12s %8s %8s" % ("measurement", "baseline", "derm", "ratio", "target")]
for label, base, ours, ratio, target in rows:
    lines.append("%-46s %12s %12s %8s %8s" % (label, fmt(base), fmt(ours),
                                             "-" if ratio is None else "%.2fx" % ratio,
                                             "-" if target is None else ">=%.1fx" % target))
if latency["max_rel_logit_diff"] is not None:
    lines.append("latency logits, max |derm - baseline| / max |baseline|: %.2e" % latency["max_rel_logit_diff"])
    lines.append("  what-ifs: " + ", ".join("%s %.2e" % (k, v["max_rel_logit_diff"])
                                            for k, v in latency["variants"].items() if v["max_rel_logit_diff"] is not None))
resize_lines = [("derm-classify (latency)", (lo or {}).get("stem_resize"))] + [
    ("derm-train", r.get("stem_resize_ours")) for r in train["runs"].values() if r["stem"]]
for who, choices in resize_lines:
    for choice in choices or []:
        lines.append("%s stem resize: %s" % (who, choice))
if stem:
    lines.append("stem rows: baseline = resize by interpolate (PyTorch), derm = by matrices, NCHW or NHWC (derm's other forms);"
                 " outputs differ by %.1e (relative, fp32)" % stem["max_rel_diff_fp32"])
    lines.append("  what-ifs over NHWC (not derm's; bench/pytorch_stem_profile.py): 'BN after' = BatchNorm's affine after the"
                 " resize, '4-/8-ch input' = conv1 on the input zero-padded to 4/8 channels, '1x1 matmul' = conv2 as F.linear;"
                 " outputs differ by " + ", ".join("%s %.1e" % (k, stem["max_rel_diff_fp32_train"][k])
                                                    for k in stem.get("what_ifs", [])) + " (training mode)")
    for form, result in stem["stems"].items():
        if result.get("top_ops"):
            lines.append("stem fwd+bwd by %s, operators by %s time (ms/pass, share):"
                         % (form, "device" if device == "cuda" else "CPU"))
            lines.extend("  %-52s %8.2f %5.1f%%" % (o["op"][:52], o["ms_per_step"], 100 * o["share"])
                         for o in result["top_ops"][:8])
lines.append("ratios: latency = baseline ms / derm ms; training = derm img/s / baseline img/s; stem = interpolate / matrices")
inp = train["input_path"]
if inp:
    stem_run = train["runs"].get("%s_stem" % size) or {}
    ours = stem_run.get("ours") or {}
    step_ms = 1e3 * int(batch) / ours["images_per_second"] if ours.get("images_per_second") else None
    lines.append("derm's on-device input path at %s: %.2f ms per batch of %s (augmentation %.2f, normalisation %.2f)%s"
                 % (size, inp["input_ms"], batch, inp["augment_ms"], inp["normalize_ms"],
                    "; derm's step with it: %.1f ms" % step_ms if step_ms else ""))
for key in ("stem", "plain"):
    run = next((r for k, r in train["runs"].items() if k.endswith(key)), None)
    ops = run and run["baseline"] and run["baseline"].get("top_ops")
    if ops:
        lines.append("baseline %s step, operators by %s time (ms/step, share):" % (
            "%s->%s" % (run["input_size"], run["backbone_size"]) if run["stem"] else run["input_size"],
            "device" if device == "cuda" else "CPU"))
        lines.extend("  %-52s %8.2f %5.1f%%" % (o["op"][:52], o["ms_per_step"], 100 * o["share"]) for o in ops[:12])
lines.append("results: " + ", ".join(os.path.join(results, "%s_%s.json" % (prefix, n)) for n in ("latency", "train")))
print("\n".join(lines))
with open(os.path.join(work, "table.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
EOF
  # The device tool brings back at most 8 files from $OUT: the results, the
  # table and one archive of the logs and raw outputs.
  if [[ -n ${OUT:-} && -d ${OUT:-} ]]; then
    cp "$RESULTS/${prefix}_latency.json" "$RESULTS/${prefix}_train.json" "$OUT/" 2>/dev/null
    [[ -f $WORK/table.txt ]] && cp "$WORK/table.txt" "$OUT/${prefix}_table.txt"
    [[ -f $BUILD/build.log ]] && cp "$BUILD/build.log" "$WORK/logs/" 2>/dev/null
    tar czf "$OUT/${prefix}_logs.tar.gz" -C "$WORK" environment.txt logs $(cd "$WORK" && ls ./*.json 2>/dev/null)
  fi
  return 0
}

# ---- 2. data and model ----------------------------------------------------
log "making $IMAGES synthetic ${IMAGE_SIDE}x${IMAGE_SIDE} images, the manifest and the model"
if ! { "$PY" "$ROOT/bench/gpu/make_synthetic_images.py" "$WORK/images" --count "$IMAGES" --side "$IMAGE_SIDE" >&2 &&
       "$PREP" --task melanoma --source "folders:$WORK/images" --split 0.9,0.1 --out "$WORK/manifest.csv" \
         --summary "$WORK/prep.json" --quiet &&
       "$MODEL" create "$WORK/model.safetensors" --input-size "$SIZE" --backbone-size "$BACKBONE" \
         --classes melanoma,benign --seed 1 2>"$WORK/logs/model.log"; }; then
  echo "run_all.sh: making the data or the model failed" >&2
  exit 1
fi

# ---- 3. measurements (each of ours right before its baseline) ---------------
latency_ours() {
  local name=$1
  shift
  measure "$name" "$WORK/$name.json" "$LATENCY" "$WORK/model.safetensors" --device "$DEVICE" \
    --size "$SIZE" --iterations "$LAT_ITERS" --warmup "$LAT_WARMUP" "${cpu_threads[@]}" "$@"
}
latency_ours latency_ours
latency_ours latency_ours_eager --no-cuda-graphs --no-fold
latency_ours latency_ours_cudnn_benchmark --cudnn-benchmark
latency_ours latency_ours_channels_last --channels-last
latency_ours latency_ours_merge_siblings --merge-siblings --no-fused-relu --no-fold-pools
latency_ours latency_ours_fused_relu --no-merge-siblings --fused-relu --no-fold-pools
latency_ours latency_ours_fold_pools --no-merge-siblings --no-fused-relu --fold-pools
latency_ours latency_ours_all_fold_options --merge-siblings --fused-relu --fold-pools
measure latency_baseline "$WORK/latency_baseline.json" "$PY" "$ROOT/bench/pytorch_latency_baseline.py" \
  "$WORK/model.safetensors" --device "$DEVICE" --size "$SIZE" --iterations "$LAT_ITERS" --warmup "$LAT_WARMUP" \
  "${cpu_threads[@]}"
finish >/dev/null

train_ours train_stem_ours "$SIZE" "$BACKBONE" --cuda-graphs
train_ours train_stem_ours_eager "$SIZE" "$BACKBONE"
measure train_stem_baseline "$WORK/train_stem_baseline.json" "$PY" "$ROOT/bench/pytorch_train_baseline.py" \
  --device "$DEVICE" --size "$SIZE" --backbone-size "$BACKBONE" --batch "$BATCH" --warmup "$STEPS" --steps "$STEPS" \
  --profile-steps 3 "${py_cpu[@]}"
measure stem_resize "$WORK/stem_resize.json" "$PY" "$ROOT/bench/pytorch_stem_profile.py" \
  --device "$DEVICE" --size "$SIZE" --backbone-size "$BACKBONE" --batch "$BATCH" --profile-steps 3 "${py_cpu[@]}"
input_format=()
[[ $DEVICE == cpu ]] && input_format=(--no-channels-last)  # derm-train: channels_last on CUDA only
measure input_path "$WORK/input_path.json" "$INPUT" --device "$DEVICE" --size "$SIZE" --batch "$BATCH" \
  --iterations "$STEPS" "${cpu_threads[@]}" "${input_format[@]}"
finish >/dev/null

train_ours train_plain_ours "$SMALL" "$SMALL" --cuda-graphs
train_ours train_plain_ours_eager "$SMALL" "$SMALL"
measure train_plain_baseline "$WORK/train_plain_baseline.json" "$PY" "$ROOT/bench/pytorch_train_baseline.py" \
  --device "$DEVICE" --size "$SMALL" --backbone-size "$SMALL" --batch "$BATCH" --warmup "$STEPS" --steps "$STEPS" \
  --profile-steps 3 "${py_cpu[@]}"

finish
log "finished in $((SECONDS - START))s"
exit $FAILED
