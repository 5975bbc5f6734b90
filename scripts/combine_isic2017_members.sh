#!/usr/bin/env bash
# One ISIC 2017 ensemble from members trained in separate runs of
# scripts/train_isic2017.sh with MEMBER_IDS (e.g. one member per GPU session):
# its evaluation from the members' own predictions, and its folder of model
# files where their weights came along.
#
#   scripts/combine_isic2017_members.sh OUT_DIR RUN_DIR...
#
# Each RUN_DIR is a run's output folder or its unpacked isic2017_run.tar.gz,
# holding manifest.csv and, for each member K it trained,
# eval-member-K-val/predictions.csv and eval-member-K-test/predictions.csv.
# A member may come from one run only, and every run must have the same images,
# labels and splits (the manifests' id, label and split columns; the image
# paths may differ).
# A member's weights, where present: RUN_DIR/ensemble/member-K.safetensors, or
# RUN_DIR/weights/member-K.f16.safetensors (derm-model convert), or its parts
# member-K.f16.safetensors.part-* in RUN_DIR/weights/ (joined, then checked
# against RUN_DIR/weights/member-K.f16.safetensors.sha256).
#
# Writes into OUT_DIR:
#   members.tsv       member, run folder, whether its weights are in ensemble/
#   eval-fixed/       derm-eval of the members' test predictions, threshold 0.5
#   eval-youden/      the same, thresholds by Youden's J on their val predictions
#   ensemble/         member-K.safetensors of every member whose weights came
# Environment: DERM_BIN, folder with the built tools (build/apps).
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 OUT_DIR RUN_DIR..." >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DERM_BIN:-$ROOT/build/apps}
EVAL=$BIN/derm-eval/derm-eval
[[ -x $EVAL ]] || { echo "$0: $EVAL missing (build first or set DERM_BIN)" >&2; exit 1; }
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
shift
log() { printf '[combine_isic2017_members] %s\n' "$*" >&2; }

# id, label, split of a manifest, sorted: what must agree between runs.
labels_of() { awk -F, 'NR > 1 { print $1 "," $3 "," $7 }' "$1" | sort; }

first_run=$1
[[ -f $first_run/manifest.csv ]] || { echo "$0: $first_run/manifest.csv: no such file" >&2; exit 1; }
[[ $(head -1 "$first_run/manifest.csv") == id,path,label,label_index,lesion_id,patient_id,split,* ]] ||
  { echo "$0: $first_run/manifest.csv: not a derm manifest (header $(head -1 "$first_run/manifest.csv"))" >&2; exit 1; }
expected_labels=$(labels_of "$first_run/manifest.csv")

declare -A run_of=()
test_csvs=()
val_csvs=()
for run in "$@"; do
  [[ -f $run/manifest.csv ]] || { echo "$0: $run/manifest.csv: no such file" >&2; exit 1; }
  [[ $(labels_of "$run/manifest.csv") == "$expected_labels" ]] ||
    { echo "$0: $run/manifest.csv: its images, labels or splits differ from $first_run/manifest.csv" >&2; exit 1; }
  found=0
  for test_dir in "$run"/eval-member-*-test; do
    [[ -d $test_dir ]] || continue
    k=${test_dir##*/eval-member-}
    k=${k%-test}
    [[ -z ${run_of[$k]:-} ]] || { echo "$0: member $k is in both $run and ${run_of[$k]}" >&2; exit 1; }
    for split in val test; do
      [[ -f $run/eval-member-$k-$split/predictions.csv ]] ||
        { echo "$0: $run/eval-member-$k-$split/predictions.csv: no such file" >&2; exit 1; }
    done
    run_of[$k]=$run
    found=1
  done
  ((found)) ||
    { echo "$0: $run: no eval-member-K-test/ folder (not a MEMBER_IDS run of train_isic2017.sh?)" >&2; exit 1; }
done

# The model file of member k from its run into OUT/ensemble, if the run has it.
take_weights() {
  local k=$1 run=$2 target=$OUT/ensemble/member-$1.safetensors
  local half=$run/weights/member-$k.f16.safetensors
  local tmp=$target.tmp.$$
  if [[ -f $run/ensemble/member-$k.safetensors ]]; then
    cp "$run/ensemble/member-$k.safetensors" "$tmp"
  elif [[ -f $half ]]; then
    cp "$half" "$tmp"
  elif compgen -G "$half.part-*" >/dev/null; then
    [[ -f $half.sha256 ]] || { echo "$0: $half.sha256: no such file (the parts cannot be checked)" >&2; exit 1; }
    cat "$half".part-* >"$tmp"
    [[ $(sha256sum <"$tmp" | cut -d' ' -f1) == $(cut -d' ' -f1 "$half.sha256") ]] ||
      { rm -f "$tmp"; echo "$0: $half.part-*: joined, they do not match $half.sha256" >&2; exit 1; }
  else
    return 1
  fi
  mv "$tmp" "$target"
}

mkdir -p "$OUT/ensemble"
members=$(printf '%s\n' "${!run_of[@]}" | sort -n)
printf 'member\trun\tweights\n' >"$OUT/members.tsv.tmp"
for k in $members; do
  test_csvs+=(--predictions "${run_of[$k]}/eval-member-$k-test/predictions.csv")
  val_csvs+=(--val-predictions "${run_of[$k]}/eval-member-$k-val/predictions.csv")
  weights=no
  if take_weights "$k" "${run_of[$k]}"; then weights=yes; fi
  printf '%s\t%s\t%s\n' "$k" "${run_of[$k]}" "$weights" >>"$OUT/members.tsv.tmp"
done
mv "$OUT/members.tsv.tmp" "$OUT/members.tsv"
with_weights=$(awk -F'\t' '$3 == "yes" { printf "%s ", $1 }' "$OUT/members.tsv")
log "members $(tr '\n' ' ' <<<"$members")from $# run(s); weights in $OUT/ensemble for: ${with_weights:-none}"

common=(--manifest "$first_run/manifest.csv" --split test --quiet)
"$EVAL" "${test_csvs[@]}" "${common[@]}" --out "$OUT/eval-fixed" >/dev/null
"$EVAL" "${test_csvs[@]}" "${val_csvs[@]}" "${common[@]}" --threshold-policy youden --val-split val \
  --out "$OUT/eval-youden" >/dev/null
log "done: $OUT/eval-fixed/report.json, $OUT/eval-youden/report.json"
