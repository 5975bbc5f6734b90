#!/usr/bin/env bash
# The training data of issue 26's comparison and of the reference model: ISIC
# 2017 Part 3 plus all of HAM10000, every HAM10000 lesion whole in one split.
#
#   scripts/isic_ham_manifest.sh OUT_DIR
#
# Writes, once (an existing OUT_DIR/isic_ham.csv is kept):
#   ham7.csv, ham7.json   all of HAM10000 (ham10000-full-200), its 7 classes, split
#                         by lesion: train 0.85 / val 0.15 (seed 1)
#   ham/                  HAM10000's metadata cut by that split (scripts/ham10000_by_split.py)
#   isic_ham.csv, .json   ISIC 2017's train/val/test + HAM10000's mel/bkl/nv in the
#                         SAME lesion split, leaks dropped: val = ISIC 2017 val +
#                         HAM10000's val lesions (about 1500 images); test = ISIC 2017 test
# Environment (defaults): DERM_DATA_DIR (../shared/data), DERM_BIN (build/apps).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
DATA=${DERM_DATA_DIR:-$ROOT/../shared/data}
BIN=${DERM_BIN:-$ROOT/build/apps}
HAM=$DATA/ham10000-full-200
[[ -f $OUT/isic_ham.csv ]] && exit 0
for dir in "$DATA/isic2017" "$HAM"; do
  [[ -d $dir ]] || { echo "$0: $dir: no such folder (set DERM_DATA_DIR)" >&2; exit 1; }
done

"$BIN/derm-prep/derm-prep" --task ham7 --source "ham10000:$HAM/HAM10000_metadata.csv:$HAM/images" \
  --split train=0.85,val=0.15 --seed 1 --absolute-paths --out "$OUT/ham7.csv" --summary "$OUT/ham7.json" --quiet
/usr/bin/python3 "$ROOT/scripts/ham10000_by_split.py" "$OUT/ham7.csv" "$HAM/HAM10000_metadata.csv" "$OUT/ham" >&2
"$BIN/derm-prep/derm-prep" --task isic2017 --isic2017-dir "$DATA/isic2017" \
  --source "ham10000:$OUT/ham/HAM10000_metadata.train.csv:$HAM/images:train" \
  --source "ham10000:$OUT/ham/HAM10000_metadata.val.csv:$HAM/images:val" \
  --drop-leaks --absolute-paths --out "$OUT/isic_ham.csv" --summary "$OUT/isic_ham.json" --quiet
