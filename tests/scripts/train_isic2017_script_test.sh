#!/usr/bin/env bash
# scripts/train_isic2017.sh end to end on a slice of the real data: 8 images
# per class and split of ISIC 2017, 6 per class of HAM10000, two members
# fine-tuned from a derm model file (INIT) as two parallel processes at 75x75
# for two epochs, both evaluations.
# Checks the files the protocol promises and the test split's size; skips
# (exit 77) without the data.
#   train_isic2017_script_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
bin=$2/apps
data=${DERM_DATA_DIR:-$src/../shared/data}
if [[ ! -d $data/isic2017 || ! -d $data/ham10000-224 ]]; then
  echo "SKIPPED: no ISIC data at $data (set DERM_DATA_DIR)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work/data/isic2017/images" "$work/data/ham10000-224/images"
for csv in "$data"/isic2017/*.csv; do
  awk -F, 'NR == 1 || n[$2 $3]++ < 8' "$csv" >"$work/data/isic2017/$(basename "$csv")"
  tail -n +2 "$work/data/isic2017/$(basename "$csv")" | cut -d, -f1 |
    while read -r id; do ln -s "$data/isic2017/images/$id.jpg" "$work/data/isic2017/images/"; done
done
awk -F, 'NR == 1 || (($3 == "mel" || $3 == "bkl" || $3 == "nv") && n[$3]++ < 6)' \
  "$data/ham10000-224/HAM10000_metadata.csv" >"$work/data/ham10000-224/HAM10000_metadata.csv"
tail -n +2 "$work/data/ham10000-224/HAM10000_metadata.csv" | cut -d, -f2 |
  while read -r id; do ln -s "$data/ham10000-224/images/$id.jpg" "$work/data/ham10000-224/images/"; done

"$bin/derm-model/derm-model" create "$work/init.safetensors" --input-size 75 --backbone-size 75 \
  --classes a,b >/dev/null 2>&1 || fail "derm-model create failed"
DERM_DATA_DIR=$work/data DERM_BIN=$bin INIT=$work/init.safetensors MEMBERS=2 PARALLEL=2 EPOCHS=2 SIZE=75 BATCH=4 DEVICE=cpu WORKERS=1 \
  bash "$src/scripts/train_isic2017.sh" "$work/out" >"$work/log" 2>&1 || { cat "$work/log" >&2; fail "the script failed"; }

for f in manifest.csv prep.json ensemble/ensemble.json ensemble/member-1.safetensors ensemble/member-2.safetensors \
         eval-fixed/report.json eval-youden/report.json eval-youden/predictions.csv; do
  [[ -s $work/out/$f ]] || fail "$f missing"
done
grep -q '"member-2.safetensors"' "$work/out/ensemble/ensemble.json" || fail "ensemble.json does not list member 2"
grep -q "init.safetensors" "$work/out/ensemble/member-2.safetensors" || fail "member 2 does not record its INIT start"
grep -c ',train,.*ham10000' "$work/out/manifest.csv" | grep -qx 18 || fail "the 18 HAM10000 images are not all in train"
# 8 per class in each official split: 24 test images, scored by both policies.
[[ $(($(wc -l <"$work/out/eval-youden/predictions.csv") - 1)) -eq 24 ]] || fail "predictions of 24 test images expected"
grep -q '"policy": "youden on validation' "$work/out/eval-youden/report.json" || fail "youden thresholds not chosen on val"
echo "train_isic2017.sh: all outputs present"
