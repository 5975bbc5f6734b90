#!/usr/bin/env bash
# Issue 26's comparison: what each start buys, on the CPU, with the same budget
# of training images per arm, scored on one fixed validation set (never on
# the ISIC 2017 test split).
#
#   scripts/compare_starts.sh OUT_DIR
#
# Data (scripts/isic_ham_manifest.sh, written once, reused by every arm):
#   ham7.csv       all of HAM10000, 7 classes, split by lesion: the pretraining data
#   isic_ham.csv   ISIC 2017 + HAM10000's mel/bkl/nv in the same lesion split;
#                  val = ISIC 2017 val + HAM10000's val lesions (about 1500 images)
# Arms (each IMAGES training images in all, SIZE px, per seed in SEEDS):
#   a  from scratch on isic_ham's train split
#   b  pretrained from scratch on ham7's train split (half the budget), then
#      --init with new heads (one heads-only epoch, then all) on isic_ham (the other half)
#   c  b with Shades of Gray colour constancy (--color-constancy shades_of_gray) in both stages
# Each arm's best epoch (by validation mean AUC) is scored by derm-eval on
# isic_ham's val split; scripts/compare_starts_summary.py writes the table
# (OUT_DIR/summary.json and summary.md), also for the ISIC 2017 part of that split.
#
# Environment (defaults): DERM_DATA_DIR (../shared/data), DERM_BIN (build/apps),
# SEEDS ("1 2"), ARMS ("a b c"), SIZE (128), EPOCHS (8: the arm's epochs; b and c
# spend half on each stage), STEPS (94 steps of BATCH 32 an epoch: IMAGES = EPOCHS x
# STEPS x BATCH = 24064), THREADS (2).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
BIN=${DERM_BIN:-$ROOT/build/apps}
SEEDS=${SEEDS:-1 2}
ARMS=${ARMS:-a b c}
SIZE=${SIZE:-128}
EPOCHS=${EPOCHS:-8}
STEPS=${STEPS:-94}
BATCH=${BATCH:-32}
THREADS=${THREADS:-2}
((EPOCHS % 2 == 0)) || { echo "$0: EPOCHS must be even (b and c spend half on each stage)" >&2; exit 2; }
log() { printf '[compare_starts %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$OUT/logs"

"$ROOT/scripts/isic_ham_manifest.sh" "$OUT"

common=(--input-size "$SIZE" --backbone-size "$SIZE" --ensemble 1 --steps-per-epoch "$STEPS" --batch-size "$BATCH"
        --threads "$THREADS" --quiet)
train() {  # OUT_FOLDER EPOCHS MANIFEST EXTRA...
  local folder=$1 epochs=$2 manifest=$3
  shift 3
  [[ -f $folder/ensemble.json ]] && return
  "$BIN/derm-train/derm-train" --manifest "$manifest" --out "$folder" --epochs "$epochs" "${common[@]}" "$@" \
    2>"$OUT/logs/$(basename "$folder").log"
}
for seed in $SEEDS; do
  for arm in $ARMS; do
    run=$OUT/$arm-seed$seed
    started=$SECONDS
    log "arm $arm, seed $seed"
    case $arm in
      a) train "$run" "$EPOCHS" "$OUT/isic_ham.csv" --seed "$seed" ;;
      b|c)
        colour=(--color-constancy none)
        [[ $arm == c ]] && colour=(--color-constancy shades_of_gray)
        train "$run-pretrain" $((EPOCHS / 2)) "$OUT/ham7.csv" --seed "$seed" "${colour[@]}"
        train "$run" $((EPOCHS / 2)) "$OUT/isic_ham.csv" --seed "$seed" "${colour[@]}" \
          --init "$run-pretrain/member-1.safetensors" ;;
      *) echo "$0: unknown arm $arm" >&2; exit 2 ;;
    esac
    [[ -f $run/minutes ]] || awk -v s=$((SECONDS - started)) 'BEGIN { printf "%.1f\n", s / 60 }' >"$run/minutes"
    [[ -f $run/eval/report.json ]] ||
      "$BIN/derm-eval/derm-eval" --model "$run" --manifest "$OUT/isic_ham.csv" --split val --out "$run/eval" --quiet \
        --threads "$THREADS" >/dev/null
  done
done

/usr/bin/python3 "$ROOT/scripts/compare_starts_summary.py" "$OUT" \
  "${DERM_DATA_DIR:-$ROOT/../shared/data}/isic2017/ISIC-2017_Validation_Part3_GroundTruth.csv" \
  "$EPOCHS" "$STEPS" "$BATCH" "$SIZE"
