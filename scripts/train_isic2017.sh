#!/usr/bin/env bash
# The ISIC 2017 benchmark of issue 5, end to end: prep -> train an ensemble ->
# evaluate on the 600-image test split (never used before the last step).
#
#   scripts/train_isic2017.sh OUT_DIR
#
# 1. derm-prep --task isic2017 on DATA/isic2017 (official train/val/test) plus,
#    with HAM=1, all of HAM10000's mel/bkl/nv images (DATA/ham10000-full-200;
#    mel -> melanoma, bkl -> seborrheic_keratosis, nv -> nevus; the other
#    diagnoses are not in the task), split by lesion into train (0.85) and val
#    (0.15): scripts/isic_ham_manifest.sh, the data of issue 26's comparison.
#    --drop-leaks leaves out the training copy of any image that duplicates a
#    validation or test image. The test split is ISIC 2017's alone.
# 2. derm-train: MEMBERS networks from scratch (no ImageNet weights here), the
#    best epoch of each chosen on the validation split, into OUT_DIR/ensemble.
#    Issue 26's comparison chose this start: pretraining on HAM10000's seven
#    diagnoses first, with or without colour constancy, did worse for the same
#    images seen (docs/results.md).
#    One process per member (derm-train --members k), PARALLEL of them at once:
#    one GPU serves them all, which pays when one process cannot keep it busy.
# 3. derm-eval on the test split: majority vote, mean probability and each
#    member; thresholds fixed at 0.5 (eval-fixed/) and chosen by Youden's J on
#    the validation split (eval-youden/).
#    A run that trains only some members (MEMBER_IDS) has no ensemble to
#    evaluate: it scores each of its members alone on the validation and the
#    test split instead (eval-member-K-{val,test}/predictions.csv), which
#    scripts/combine_isic2017_members.sh combines with other runs' members.
#
# Environment (defaults):
#   DERM_DATA_DIR  data root holding isic2017/ [and ham10000-full-200/]  (../shared/data)
#   DERM_BIN       folder with the built tools (derm-prep/derm-prep, ...)  (build/apps)
#   HAM            1: add HAM10000 to train and val, 0: ISIC 2017 only (1)
#   MEMBERS        ensemble members                                  (5)
#   MEMBER_IDS     the members this run trains, e.g. "3" or "1 2"    (1 .. MEMBERS)
#   PARALLEL       members trained at once                           (1)
#   EPOCHS         epochs per member (the schedule's length)         (40)
#   TIME_LIMIT     minutes per derm-train process, 0 = none          (0)
#   SIZE           input side                                        (224)
#   BACKBONE       side behind the learned-resizer stem (SIZE: no stem; e.g. SIZE=700 BACKBONE=299)
#   INIT           derm model file to fine-tune (e.g. converted ImageNet weights); empty: from scratch
#   BATCH, LR, WEIGHT_DECAY                                          (64, 0.001, 0.05)
#   EMA            derm-train --ema-decay: the weight average that is validated
#                  and saved, 0 = the weights as trained             (0)
#   DEVICE         cpu, cuda or auto                                 (auto)
#   CUDA_GRAPHS    1: derm-train --cuda-graphs (CUDA only; a member whose
#                  process fails with them is trained again without)  (0)
#   EVAL_CUDA_GRAPHS  0: derm-eval --no-cuda-graphs (CUDA only)      (1)
#   WORKERS        decoding threads per process                      (2)
#   TTA            test-time views for the evaluation: 1, 2, 4 or 8  (1)
# Writes OUT_DIR/{manifest.csv,prep.json,data/,ensemble/,eval-fixed/,eval-youden/,logs/}
# (eval-member-K-{val,test}/ in place of eval-fixed/ and eval-youden/ when the
# run does not complete the ensemble).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
DATA=${DERM_DATA_DIR:-$ROOT/../shared/data}
BIN=${DERM_BIN:-$ROOT/build/apps}
HAM=${HAM:-1}
MEMBERS=${MEMBERS:-5}
PARALLEL=${PARALLEL:-1}
EPOCHS=${EPOCHS:-40}
TIME_LIMIT=${TIME_LIMIT:-0}
SIZE=${SIZE:-224}
BACKBONE=${BACKBONE:-$SIZE}
INIT=${INIT:-}
BATCH=${BATCH:-64}
LR=${LR:-0.001}
WEIGHT_DECAY=${WEIGHT_DECAY:-0.05}
EMA=${EMA:-0}
DEVICE=${DEVICE:-auto}
WORKERS=${WORKERS:-2}
TTA=${TTA:-1}
CUDA_GRAPHS=${CUDA_GRAPHS:-0}
EVAL_CUDA_GRAPHS=${EVAL_CUDA_GRAPHS:-1}
MEMBER_IDS=${MEMBER_IDS:-$(seq -s ' ' 1 "$MEMBERS")}

[[ -d $DATA/isic2017 ]] || { echo "$0: $DATA/isic2017: no such folder (set DERM_DATA_DIR)" >&2; exit 1; }
for tool in derm-prep derm-train derm-eval; do
  [[ -x $BIN/$tool/$tool ]] || { echo "$0: $BIN/$tool/$tool missing (build first or set DERM_BIN)" >&2; exit 1; }
done
((PARALLEL >= 1 && MEMBERS >= 1)) || { echo "$0: PARALLEL and MEMBERS must be at least 1" >&2; exit 2; }
read -r -a member_ids <<<"$MEMBER_IDS"
((${#member_ids[@]} >= 1)) || { echo "$0: MEMBER_IDS is empty" >&2; exit 2; }
for k in "${member_ids[@]}"; do
  if [[ ! $k =~ ^[1-9][0-9]*$ ]] || ((k > MEMBERS)); then
    echo "$0: MEMBER_IDS: '$k' is not a member of 1..$MEMBERS" >&2
    exit 2
  fi
  [[ $(printf '%s\n' "${member_ids[@]}" | grep -cx "$k") == 1 ]] ||
    { echo "$0: MEMBER_IDS: member $k is named twice" >&2; exit 2; }
done
mkdir -p "$OUT/logs"
log() { printf '[train_isic2017 %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# Waits for the background processes left in pids; one that failed ends the run.
failed=0
wait_for_all() {
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || { echo "$0: a $1 process failed (logs in $OUT/logs)" >&2; exit 1; }
}

if [[ $HAM == 1 ]]; then
  log "derm-prep: ISIC 2017 + HAM10000 (scripts/isic_ham_manifest.sh)"
  DERM_DATA_DIR=$DATA DERM_BIN=$BIN "$ROOT/scripts/isic_ham_manifest.sh" "$OUT/data"
  cp "$OUT/data/isic_ham.csv" "$OUT/manifest.csv"
  cp "$OUT/data/isic_ham.json" "$OUT/prep.json"
else
  log "derm-prep: ISIC 2017"
  "$BIN/derm-prep/derm-prep" --task isic2017 --isic2017-dir "$DATA/isic2017" --drop-leaks \
    --absolute-paths --threads "$(nproc)" --out "$OUT/manifest.csv" --summary "$OUT/prep.json" --quiet
fi

train_args=(--manifest "$OUT/manifest.csv" --input-size "$SIZE" --backbone-size "$BACKBONE" --epochs "$EPOCHS"
            --batch-size "$BATCH" --lr "$LR" --weight-decay "$WEIGHT_DECAY" --ema-decay "$EMA" --device "$DEVICE"
            --workers "$WORKERS" --ensemble "$MEMBERS" --out "$OUT/ensemble" --quiet)
if [[ -n $INIT ]]; then train_args+=(--init "$INIT"); fi
# Member k with CUDA graphs when asked for; should that process fail (e.g. a
# step that cannot be recorded), member k again without them, resuming from its
# last checkpoint, in what is left of TIME_LIMIT.
train_member() {
  local k=$1 started=$SECONDS member_log=$OUT/logs/train-member-$k.log graphs=()
  [[ $CUDA_GRAPHS == 1 ]] && graphs=(--cuda-graphs)
  "$BIN/derm-train/derm-train" "${train_args[@]}" --members "$k" --time-limit "$TIME_LIMIT" "${graphs[@]}" \
    2>"$member_log" && return
  ((${#graphs[@]})) || return 1
  local minutes=0
  if [[ $TIME_LIMIT != 0 ]]; then
    minutes=$(awk -v limit="$TIME_LIMIT" -v used=$((SECONDS - started)) \
      'BEGIN { left = limit - used / 60 - 0.25; if (left < 1) print "none"; else printf "%.2f", left }')
    [[ $minutes == none ]] && return 1
  fi
  mv "$member_log" "$OUT/logs/train-member-$k.cuda-graphs.log"
  log "member $k failed with --cuda-graphs ($(tail -n 1 "$OUT/logs/train-member-$k.cuda-graphs.log")); again without them"
  "$BIN/derm-train/derm-train" "${train_args[@]}" --members "$k" --time-limit "$minutes" 2>"$member_log"
}
log "derm-train: member(s) ${member_ids[*]} of $MEMBERS, $PARALLEL at a time"
# Member k is the same network whichever process trains it; the process that
# completes the set writes ensemble.json.
pids=()
for k in "${member_ids[@]}"; do
  train_member "$k" &
  pids+=($!)
  if ((${#pids[@]} >= PARALLEL)); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
wait_for_all derm-train

eval_args=(--manifest "$OUT/manifest.csv" --tta "$TTA" --device "$DEVICE" --workers "$WORKERS" --quiet)
if [[ $EVAL_CUDA_GRAPHS == 0 ]]; then eval_args+=(--no-cuda-graphs); fi
if [[ ! -f $OUT/ensemble/ensemble.json ]]; then
  log "members ${member_ids[*]} of $MEMBERS: each scored alone on val and test (no ensemble here to evaluate)"
  pids=()
  for k in "${member_ids[@]}"; do
    for split in val test; do
      "$BIN/derm-eval/derm-eval" --model "$OUT/ensemble/member-$k.safetensors" --split "$split" --bootstrap 0 \
        --out "$OUT/eval-member-$k-$split" "${eval_args[@]}" 2>"$OUT/logs/eval-member-$k-$split.log" &
      pids+=($!)
    done
  done
  wait_for_all derm-eval
  log "done: $OUT/eval-member-*-{val,test}/predictions.csv (combine with scripts/combine_isic2017_members.sh)"
  exit 0
fi
for policy in fixed youden; do
  log "derm-eval on the test split, thresholds: $policy"
  "$BIN/derm-eval/derm-eval" --model "$OUT/ensemble" --split test --threshold-policy "$policy" --val-split val \
    --out "$OUT/eval-$policy" "${eval_args[@]}"
done
log "done: $OUT/eval-fixed/report.json, $OUT/eval-youden/report.json"
