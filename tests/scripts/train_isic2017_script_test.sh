#!/usr/bin/env bash
# scripts/train_isic2017.sh end to end on a slice of the real data: 8 images
# per class and split of ISIC 2017, 6 per class of HAM10000's mel/bkl/nv (and 2
# of each other diagnosis, which the lesion split needs), two members
# fine-tuned from a derm model file (INIT) as two parallel processes at 75x75
# for two epochs with a weight average (EMA), both evaluations.
# Checks the files the protocol promises and the test split's size; then the
# same members trained in two runs (MEMBER_IDS), a member trained again without
# CUDA graphs when its process fails with them, member 2's weights returned in
# float16 parts, and scripts/combine_isic2017_members.sh. Skips (exit 77)
# without the data.
#   train_isic2017_script_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
bin=$2/apps
data=${DERM_DATA_DIR:-$src/../shared/data}
if [[ ! -d $data/isic2017 || ! -d $data/ham10000-full-200 ]]; then
  echo "SKIPPED: no ISIC data at $data (set DERM_DATA_DIR)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

ham=ham10000-full-200
mkdir -p "$work/data/isic2017/images" "$work/data/$ham/images"
for csv in "$data"/isic2017/*.csv; do
  awk -F, 'NR == 1 || n[$2 $3]++ < 8' "$csv" >"$work/data/isic2017/$(basename "$csv")"
  tail -n +2 "$work/data/isic2017/$(basename "$csv")" | cut -d, -f1 |
    while read -r id; do ln -s "$data/isic2017/images/$id.jpg" "$work/data/isic2017/images/"; done
done
awk -F, 'NR == 1 || n[$3]++ < (($3 == "mel" || $3 == "bkl" || $3 == "nv") ? 6 : 2)' \
  "$data/$ham/HAM10000_metadata.csv" >"$work/data/$ham/HAM10000_metadata.csv"
tail -n +2 "$work/data/$ham/HAM10000_metadata.csv" | cut -d, -f2 |
  while read -r id; do ln -s "$data/$ham/images/$id.jpg" "$work/data/$ham/images/"; done

"$bin/derm-model/derm-model" create "$work/init.safetensors" --input-size 75 --backbone-size 75 \
  --classes a,b >/dev/null 2>&1 || fail "derm-model create failed"
DERM_DATA_DIR=$work/data DERM_BIN=$bin INIT=$work/init.safetensors MEMBERS=2 PARALLEL=2 EPOCHS=2 SIZE=75 BATCH=4 EMA=0.9 \
  DEVICE=cpu WORKERS=1 bash "$src/scripts/train_isic2017.sh" "$work/out" >"$work/log" 2>&1 || { cat "$work/log" >&2; fail "the script failed"; }

for f in manifest.csv prep.json ensemble/ensemble.json ensemble/member-1.safetensors ensemble/member-2.safetensors \
         eval-fixed/report.json eval-youden/report.json eval-youden/predictions.csv; do
  [[ -s $work/out/$f ]] || fail "$f missing"
done
grep -q '"member-2.safetensors"' "$work/out/ensemble/ensemble.json" || fail "ensemble.json does not list member 2"
grep -q "init.safetensors" "$work/out/ensemble/member-2.safetensors" || fail "member 2 does not record its INIT start"
grep -q '"ema_decay": 0.9' "$work/out/ensemble/member-1.json" || fail "member 1 was not trained with EMA's --ema-decay"
# The 18 mel/bkl/nv HAM10000 images in train and val, each lesion in one split, none in test.
[[ $(grep -c ',\(train\|val\),[0-9a-f]*,[0-9]*,[0-9]*,ham10000$' "$work/out/manifest.csv") == 18 ]] ||
  fail "the 18 HAM10000 images are not all in train and val: $(grep ham10000 "$work/out/manifest.csv")"
[[ $(awk -F, '$11 == "ham10000" { print $5 "," $7 }' "$work/out/manifest.csv" | sort -u | cut -d, -f1 | uniq -d) == "" ]] ||
  fail "a HAM10000 lesion is in two splits"
# 8 per class in each official split: 24 test images, scored by both policies.
[[ $(($(wc -l <"$work/out/eval-youden/predictions.csv") - 1)) -eq 24 ]] || fail "predictions of 24 test images expected"
grep -q '"policy": "youden on validation' "$work/out/eval-youden/report.json" || fail "youden thresholds not chosen on val"
echo "train_isic2017.sh: all outputs present"

# The same two members trained apart (MEMBER_IDS, as in one GPU session each),
# member 2's weights returned as device_session.sh returns them (float16 parts),
# then combined: the ensemble's test predictions are those of the run above.
for k in 1 2; do
  DERM_DATA_DIR=$work/data DERM_BIN=$bin INIT=$work/init.safetensors MEMBERS=2 MEMBER_IDS=$k EPOCHS=2 SIZE=75 BATCH=4 \
    EMA=0.9 DEVICE=cpu WORKERS=1 bash "$src/scripts/train_isic2017.sh" "$work/apart-$k" >"$work/log" 2>&1 ||
    { cat "$work/log" >&2; fail "the run of member $k failed"; }
  for split in val test; do
    [[ -s $work/apart-$k/eval-member-$k-$split/predictions.csv ]] || fail "member $k's $split predictions missing"
  done
  [[ ! -e $work/apart-$k/ensemble/ensemble.json && ! -e $work/apart-$k/eval-fixed ]] ||
    fail "a run of one member of two evaluated an ensemble"
done
DERM_DATA_DIR=$work/data DERM_BIN=$bin MEMBERS=2 MEMBER_IDS="1 1" bash "$src/scripts/train_isic2017.sh" "$work/twice" \
  2>"$work/log" && fail "MEMBER_IDS naming a member twice was accepted"
grep -q "member 1 is named twice" "$work/log" || fail "no clear error for a member named twice: $(cat "$work/log")"

# CUDA_GRAPHS=1 with a derm-train that fails whenever --cuda-graphs is given,
# as it would on a step that cannot be recorded: the member is trained without.
mkdir -p "$work/bin/derm-train"
for tool in derm-prep derm-eval derm-model; do ln -s "$bin/$tool" "$work/bin/$tool"; done
cat >"$work/bin/derm-train/derm-train" <<EOF
#!/usr/bin/env bash
for arg in "\$@"; do [[ \$arg == --cuda-graphs ]] && { echo "derm-train: error: cannot record" >&2; exit 1; }; done
exec "$bin/derm-train/derm-train" "\$@"
EOF
chmod +x "$work/bin/derm-train/derm-train"
DERM_DATA_DIR=$work/data DERM_BIN=$work/bin INIT=$work/init.safetensors MEMBERS=2 MEMBER_IDS=1 EPOCHS=2 SIZE=75 \
  BATCH=4 EMA=0.9 DEVICE=cpu WORKERS=1 CUDA_GRAPHS=1 TIME_LIMIT=20 bash "$src/scripts/train_isic2017.sh" "$work/fallback" \
  >"$work/log" 2>&1 || { cat "$work/log" >&2; fail "the run whose --cuda-graphs fail failed"; }
grep -q "member 1 failed with --cuda-graphs (derm-train: error: cannot record); again without them" "$work/log" ||
  fail "no second try without CUDA graphs: $(cat "$work/log")"
cmp -s "$work/fallback/eval-member-1-test/predictions.csv" "$work/apart-1/eval-member-1-test/predictions.csv" ||
  fail "member 1 trained on the second try differs from member 1 trained without CUDA graphs"
echo "a member failing with CUDA graphs: trained again without them"

mkdir -p "$work/apart-2/weights" "$work/returned"
"$bin/derm-model/derm-model" convert "$work/apart-2/ensemble/member-2.safetensors" \
  "$work/apart-2/weights/member-2.f16.safetensors" 2>/dev/null || fail "derm-model convert failed"
(cd "$work/apart-2/weights" && sha256sum member-2.f16.safetensors >member-2.f16.safetensors.sha256)
OUT=$work/returned bash "$src/bench/gpu/return_member_weights.sh" "$work/apart-2" 2 2>/dev/null ||
  fail "return_member_weights.sh failed"
[[ $(find "$work/returned" -name 'member-2.f16.safetensors.part-*' | wc -l) -ge 2 ]] || fail "no parts returned"
rm "$work/apart-2/weights/member-2.f16.safetensors" "$work/apart-2/ensemble/member-2.safetensors"
mv "$work/returned"/member-2.f16.safetensors.part-* "$work/apart-2/weights/"

DERM_BIN=$bin bash "$src/scripts/combine_isic2017_members.sh" "$work/combined" "$work/apart-1" "$work/apart-2" \
  >"$work/log" 2>&1 || { cat "$work/log" >&2; fail "combine_isic2017_members.sh failed"; }
[[ -s $work/combined/ensemble/member-1.safetensors && -s $work/combined/ensemble/member-2.safetensors ]] ||
  fail "the combined ensemble's member files are missing"
"$bin/derm-model/derm-model" info "$work/combined/ensemble/member-2.safetensors" |
  grep -q '"weights_stored_as": "float16"' || fail "member 2 is not the joined float16 file"
grep -q '"members": 2' "$work/combined/eval-youden/report.json" || fail "the combined report is not of 2 members"
# Training is deterministic on the CPU: members trained apart are those trained
# together, so the combined AUCs are the full run's.
auc_lines() { grep '"auc":' "$1"; }
[[ $(auc_lines "$work/out/eval-fixed/report.json" | wc -l) -eq 8 ]] || fail "expected 8 AUCs in the full run's report"
[[ $(auc_lines "$work/combined/eval-fixed/report.json") == $(auc_lines "$work/out/eval-fixed/report.json") ]] ||
  fail "combined AUCs differ from those of the ensemble trained in one run"
"$bin/derm-classify/derm-classify" --model "$work/combined/ensemble" --device cpu --quiet \
  "$work/data/isic2017/images/$(tail -1 "$work/data/isic2017/ISIC-2017_Test_v2_Part3_GroundTruth.csv" | cut -d, -f1).jpg" \
  >/dev/null 2>&1 || fail "derm-classify cannot run the combined ensemble"

# Refusals: the same member from two runs; runs of other images.
DERM_BIN=$bin bash "$src/scripts/combine_isic2017_members.sh" "$work/bad" "$work/apart-1" "$work/apart-1" 2>"$work/log" &&
  fail "a member taken twice was accepted"
grep -q "member 1 is in both" "$work/log" || fail "no clear error for a member in two runs: $(cat "$work/log")"
mkdir -p "$work/other"
cp -r "$work/apart-2/eval-member-2-val" "$work/apart-2/eval-member-2-test" "$work/other/"
head -n -1 "$work/apart-2/manifest.csv" >"$work/other/manifest.csv"
DERM_BIN=$bin bash "$src/scripts/combine_isic2017_members.sh" "$work/bad" "$work/apart-1" "$work/other" 2>"$work/log" &&
  fail "runs of other images were accepted"
grep -q "other/manifest.csv: its images, labels or splits differ" "$work/log" ||
  fail "no clear error for runs of other images: $(cat "$work/log")"
echo "members trained apart: combined"
