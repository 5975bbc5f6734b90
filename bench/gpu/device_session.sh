#!/usr/bin/env bash
# Issue 5 in one call of the device tool (15 minutes of GPU per session, start-up
# included, so everything happens in one command under one time budget):
#
#   1. build derm (Release) against the machine's CUDA LibTorch and the kit
#      (bench/gpu/build.sh), and run model_tests' and train_tests' CUDA tests (CUDA graph replays
#      against plain calls, the stem's resize by matrices, gpu_tests.xml);
#   2. the speed benchmarks, bench/gpu/run_all.sh (each of ours right before its
#      PyTorch baseline);
#   3. the ISIC 2017 ensemble, scripts/train_isic2017.sh, with every member in
#      its own process and a --time-limit that makes it end in the time left;
#      with derm-train --cuda-graphs and derm-eval's CUDA graphs only when
#      their tests in 1 passed;
#   4. everything packed into $OUT (the tool brings back at most 8 files): session.log,
#      gpu_tests.xml, run_all.sh's gpu_* files, isic2017_run.tar.gz (no fp32
#      weights: 87 MB each; the float16 copies' sha256 sums), and the float16
#      weights of as many members as fit, in parts (return_member_weights.sh,
#      which also brings back the others in follow-up calls).
#
# Before the call, on the CPU machine (both paths are git-ignored):
#   ../shared/device/make-kit.sh && bench/gpu/add_jpeg_headers_to_kit.sh   # .devkit.tar.xz
#   /usr/bin/python3 bench/gpu/bundle_training_data.py ../shared/data .gpudata
# The call: command "bash bench/gpu/device_session.sh", carry
# [".devkit.tar.xz", ".gpudata"], timeout_s 590 (see bench/gpu/README.md).
#
# Environment: DERM_SESSION_SECONDS (570) is the budget of the whole script.
# To train_isic2017.sh: MEMBERS (5); MEMBER_IDS (all: 1 .. MEMBERS; a session
# that trains some of them, e.g. "3", leaves their combination with other
# sessions' members to scripts/combine_isic2017_members.sh); PARALLEL (as many
# as MEMBER_IDS names, at most 5); SIZE (224); EPOCHS (300: more than a session
# can train, one member alone included; the time limit shortens the schedule
# to what fits); TTA (8: the evaluations average the 8 symmetries of the
# square, fixed before any run used it).
# DERM_SESSION_BENCH=0 skips step 2, DERM_SESSION_TRAIN=0 step 3 (a later call
# on the same warm machine reuses the build and step 1's test results, so the
# benchmarks and the training can be two calls); DERM_SESSION_MIN_TRAIN (180)
# is the training time the benchmarks must leave; DERM_SESSION_RESERVE (80) is the seconds
# kept for what follows training (derm-prep and loading the images before it,
# the evaluations after); DERM_SESSION_WEIGHTS=0 returns no weights.
# A smoke test of the plumbing on a CPU machine: DERM_SESSION_DEVICE=cpu
# DERM_SESSION_BUILD=build (an existing build folder) with small SIZE, MEMBERS
# and PARALLEL (bench/gpu/README.md).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUDGET=${DERM_SESSION_SECONDS:-570}
DEVICE=${DERM_SESSION_DEVICE:-cuda}
BUILD=${DERM_SESSION_BUILD:-}
PACK=${OUT:-$ROOT/build-session}
mkdir -p "$PACK"
SESSION_LOG=$PACK/session.log
log() { printf '[device_session %4ds] %s\n' "$SECONDS" "$*" | tee -a "$SESSION_LOG" >&2; }
left() { echo $((BUDGET - SECONDS)); }

# ---- 1. build ---------------------------------------------------------------
if [[ -z $BUILD ]]; then
  BUILD=$ROOT/build-gpu
  log "configuring and building $BUILD"
  # shellcheck source=build.sh
  source "$ROOT/bench/gpu/build.sh"
  if ! derm_gpu_build "$BUILD"; then
    cp "$BUILD/build.log" "$PACK/"
    log "the build failed"
    exit 1
  fi
  log "built"
fi
BUILD=$(cd "$BUILD" && pwd)
[[ $DEVICE == cuda ]] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 |
  tee -a "$SESSION_LOG" >&2

# The CUDA tests of the graph recordings (they skip on a CPU): training uses
# --cuda-graphs, and the evaluations their default CUDA graphs, only when the
# matching tests ran and passed.
TRAIN_GRAPHS=0
EVAL_GRAPHS=0
passed() { grep -qF "[       OK ] $1 (" "$BUILD/gpu_tests.log"; }
GPU_TESTS=(model_tests train_tests)  # the executables holding the CUDA tests
gpu_tests_built() { [[ -x $BUILD/tests/model_tests && -x $BUILD/tests/train_tests ]]; }
if gpu_tests_built && [[ $BUILD/gpu_tests.log -nt $BUILD/tests/model_tests && $BUILD/gpu_tests.log -nt $BUILD/tests/train_tests ]]; then
  # A later call on the same warm machine: these test binaries were tested.
  log "CUDA tests: reusing the results of this build ($BUILD/gpu_tests.log)"
  cp "$BUILD"/gpu_tests_*.xml "$PACK/" 2>/dev/null
elif gpu_tests_built; then
  log "CUDA tests: graph, BatchNorm-fold and resize tests"
  rm -f "$BUILD"/gpu_tests_*.xml "$BUILD/gpu_tests.log.tmp"
  for tests in "${GPU_TESTS[@]}"; do
    timeout 120 "$BUILD/tests/$tests" \
      --gtest_filter='GraphedForward.*:GraphedTrainingStep.*:InceptionV3.Fold*:AntialiasedResize.*:TensorAugmenter.*:MultiTensorAdamW.*:WeightAverage.*' \
      --gtest_output="xml:$BUILD/gpu_tests_$tests.xml" 2>&1 | tee -a "$BUILD/gpu_tests.log.tmp" | tee -a "$SESSION_LOG" >&2
    log "$tests ended (exit ${PIPESTATUS[0]})"
  done
  mv "$BUILD/gpu_tests.log.tmp" "$BUILD/gpu_tests.log"
  cp "$BUILD"/gpu_tests_*.xml "$PACK/" 2>/dev/null
fi
if gpu_tests_built && [[ -f $BUILD/gpu_tests.log ]]; then
  if passed GraphedTrainingStep.ReplaysGiveThePlainLossesAndGradientsOnCuda &&
     passed GraphedTrainingStep.ReplaysFollowPlainTrainingThroughOptimizerStepsOnCuda &&
     { [[ ${EMA:-0} == 0 ]] || passed GraphedTrainingStep.ReplaysReadWhatTheWeightAverageSwapsInAndOutOnCuda; }; then
    TRAIN_GRAPHS=1
  fi
  if passed GraphedForward.ReplaysMatchPlainCallsOnCuda &&
     passed GraphedForward.EnsembleMembersSharingMemoryGiveTheirOwnResultsOnCuda; then
    EVAL_GRAPHS=1
  fi
else
  log "no CUDA test results for $BUILD: training and evaluation without CUDA graphs"
fi

# ---- 2. speed benchmarks ----------------------------------------------------
# Reserve: derm-prep, loading the images, two evaluations and packing.
RESERVE=${DERM_SESSION_RESERVE:-80}
# What the benchmarks may take: all but the packing when no training follows,
# else all but the reserve and DERM_SESSION_MIN_TRAIN seconds of training.
if [[ ${DERM_SESSION_TRAIN:-1} == 0 ]]; then
  bench_seconds=$(($(left) - 20))
else
  bench_seconds=$(($(left) - RESERVE - ${DERM_SESSION_MIN_TRAIN:-180}))
fi
if [[ ${DERM_SESSION_BENCH:-1} == 1 ]] && ((bench_seconds < 60)); then
  log "only ${bench_seconds}s for the benchmarks: skipped"
elif [[ ${DERM_SESSION_BENCH:-1} == 1 ]]; then
  log "speed benchmarks (bench/gpu/run_all.sh), at most ${bench_seconds}s"
  DERM_BENCH_DEVICE=$DEVICE DERM_BENCH_BUILD=$BUILD DERM_BENCH_DEADLINE=${DERM_BENCH_DEADLINE:-250} \
    DERM_BENCH_STEP_TIMEOUT=${DERM_BENCH_STEP_TIMEOUT:-90} OUT=$PACK timeout "$bench_seconds" \
    bash bench/gpu/run_all.sh 2>&1 | tee -a "$SESSION_LOG" >&2
  log "benchmarks ended (exit ${PIPESTATUS[0]})"
fi

# ---- 3. ISIC 2017 ensemble --------------------------------------------------
train_seconds=$(($(left) - RESERVE))
ISIC=$BUILD/isic2017-$DEVICE
trained_here=0
if [[ ${DERM_SESSION_TRAIN:-1} == 0 ]]; then
  log "ISIC 2017 training skipped (DERM_SESSION_TRAIN=0)"
elif ((train_seconds < 90)); then
  log "only ${train_seconds}s left for training: skipped"
else
  minutes=$(awk -v s="$train_seconds" 'BEGIN { printf "%.2f", s / 60 }')
  log "ISIC 2017 ensemble: ${minutes} min of training per member process" \
    "(CUDA_GRAPHS=$TRAIN_GRAPHS EVAL_CUDA_GRAPHS=$EVAL_GRAPHS)"
  rm -rf "$ISIC"
  trained_here=1
  MEMBERS=${MEMBERS:-5}
  MEMBER_IDS=${MEMBER_IDS:-$(seq -s ' ' 1 "$MEMBERS")}
  read -r -a ids <<<"$MEMBER_IDS"
  DERM_DATA_DIR=${DERM_SESSION_DATA:-$ROOT/.gpudata} DERM_BIN=$BUILD/apps DEVICE=$DEVICE \
    CUDA_GRAPHS=$TRAIN_GRAPHS EVAL_CUDA_GRAPHS=$EVAL_GRAPHS MEMBERS=$MEMBERS MEMBER_IDS=$MEMBER_IDS \
    PARALLEL=${PARALLEL:-$((${#ids[@]} < 5 ? ${#ids[@]} : 5))} SIZE=${SIZE:-224} EPOCHS=${EPOCHS:-300} \
    TIME_LIMIT=$minutes WORKERS=3 \
    TTA=${TTA:-8} \
    timeout $(($(left) - 10)) bash scripts/train_isic2017.sh "$ISIC" 2>&1 | tee -a "$SESSION_LOG" >&2
  log "ISIC 2017 run ended (exit ${PIPESTATUS[0]})"
fi

# ---- 4. pack ----------------------------------------------------------------
# This call's run only: an earlier call's on the same machine came back with it.
trained=()
if ((trained_here)) && [[ -d $ISIC/ensemble && ${DERM_SESSION_WEIGHTS:-1} == 1 ]]; then
  mkdir -p "$ISIC/weights"
  for model in "$ISIC"/ensemble/member-*.safetensors; do
    [[ -f $model ]] || continue
    k=${model##*/member-}
    k=${k%.safetensors}
    half=$ISIC/weights/member-$k.f16.safetensors
    if "$BUILD/apps/derm-model/derm-model" convert "$model" "$half" --dtype float16 2>>"$SESSION_LOG"; then
      (cd "$ISIC/weights" && sha256sum "member-$k.f16.safetensors" >"member-$k.f16.safetensors.sha256")
      trained+=("$k")
    else
      log "member $k: derm-model convert failed"
    fi
  done
fi
if ((trained_here)) && [[ -d $ISIC ]]; then
  tar czf "$PACK/isic2017_run.tar.gz" -C "$ISIC" --exclude='*.safetensors' --exclude='*.checkpoint' . 2>/dev/null
fi
if ((${#trained[@]})); then
  log "float16 weights of member(s) ${trained[*]} into $PACK (those that fit; the others: see below)"
  OUT=$PACK bash "$ROOT/bench/gpu/return_member_weights.sh" "$ISIC" "${trained[@]}" 2>&1 | tee -a "$SESSION_LOG" >&2
fi
log "finished; files in $PACK: $(cd "$PACK" && ls | tr '\n' ' ')"
