#!/usr/bin/env bash
# Issue 26's comparison: what each start buys, on the CPU, with the same budget
# of training images per arm, scored on one fixed validation set (never on
# the ISIC 2017 test split).
#
#   scripts/compare_starts.sh OUT_DIR
#
# Data (written once, reused by every arm):
#   ham7.csv       all of HAM10000 (ham10000-full-200), 7 classes, split by lesion
#                  (train 0.85 / val 0.15, seed 1): the pretraining data
#   isic_ham.csv   ISIC 2017 (its train/val/test) + HAM10000's mel/bkl/nv in the
#                  SAME lesion split (scripts/ham10000_by_split.py), leaks dropped;
#                  val = ISIC 2017 val + HAM10000's val lesions (about 1500 images)
# Arms (each IMAGES training images in all, SIZE px, per seed in SEEDS):
#   a  from scratch on isic_ham's train split
#   b  pretrained from scratch on ham7's train split (half the budget), then
#      --init with new heads (one heads-only epoch, then all) on isic_ham (the other half)
#   c  b with Shades of Gray colour constancy (--color-constancy shades_of_gray) in both stages
# Each arm's best epoch (by validation mean AUC) is scored by derm-eval on
# isic_ham's val split; OUT_DIR/summary.json and summary.md hold the table.
#
# Environment (defaults): DERM_DATA_DIR (../shared/data), DERM_BIN (build/apps),
# SEEDS ("1 2"), ARMS ("a b c"), SIZE (128), EPOCHS (8: the arm's epochs; b and c
# spend half on each stage), STEPS (94 steps of BATCH 32 an epoch: IMAGES = EPOCHS x
# STEPS x BATCH = 24064), THREADS (2).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
DATA=${DERM_DATA_DIR:-$ROOT/../shared/data}
BIN=${DERM_BIN:-$ROOT/build/apps}
SEEDS=${SEEDS:-1 2}
ARMS=${ARMS:-a b c}
SIZE=${SIZE:-128}
EPOCHS=${EPOCHS:-8}
STEPS=${STEPS:-94}
BATCH=${BATCH:-32}
THREADS=${THREADS:-2}
HAM=$DATA/ham10000-full-200
((EPOCHS % 2 == 0)) || { echo "$0: EPOCHS must be even (b and c spend half on each stage)" >&2; exit 2; }
log() { printf '[compare_starts %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$OUT/logs"

if [[ ! -f $OUT/isic_ham.csv ]]; then
  log "data: ham7.csv and isic_ham.csv"
  "$BIN/derm-prep/derm-prep" --task ham7 --source "ham10000:$HAM/HAM10000_metadata.csv:$HAM/images" \
    --split train=0.85,val=0.15 --seed 1 --absolute-paths --out "$OUT/ham7.csv" --summary "$OUT/ham7.json" --quiet
  /usr/bin/python3 "$ROOT/scripts/ham10000_by_split.py" "$OUT/ham7.csv" "$HAM/HAM10000_metadata.csv" "$OUT/ham" >&2
  "$BIN/derm-prep/derm-prep" --task isic2017 --isic2017-dir "$DATA/isic2017" \
    --source "ham10000:$OUT/ham/HAM10000_metadata.train.csv:$HAM/images:train" \
    --source "ham10000:$OUT/ham/HAM10000_metadata.val.csv:$HAM/images:val" \
    --drop-leaks --absolute-paths --out "$OUT/isic_ham.csv" --summary "$OUT/isic_ham.json" --quiet
fi

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

/usr/bin/python3 - "$OUT" "$EPOCHS" "$STEPS" "$BATCH" "$SIZE" <<'PY'
import csv, json, sys
from pathlib import Path
import numpy as np
out, epochs, steps, batch, size = Path(sys.argv[1]), *map(int, sys.argv[2:])

def auc(scores, positive):
    # Mann-Whitney with mid-ranks, as derm's auc_roc.
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)

with open(out / "isic_ham.csv", newline="") as f:
    label_of = {r["id"]: int(r["label_index"]) for r in csv.DictReader(f) if r["split"] == "val"}

def mean_auc_ci(run):
    # The mean of the melanoma and keratosis AUCs (mean probability), bootstrapped over images (1000, seed 2017).
    with open(run / "eval" / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    labels = np.array([label_of[r["image_id"]] for r in rows])
    scores = [np.array([float(r[c]) for r in rows]) for c in ("melanoma", "seborrheic_keratosis")]
    rng = np.random.default_rng(2017)
    means = []
    for _ in range(1000):
        k = rng.integers(0, len(labels), len(labels))
        l = labels[k]
        if any((l == c).all() or not (l == c).any() for c in (0, 1)):
            continue
        means.append(np.mean([auc(scores[c][k], l == c) for c in (0, 1)]))
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]

rows = []
for run in sorted(p for p in out.iterdir() if p.is_dir() and "-seed" in p.name and not p.name.endswith("-pretrain")):
    report = json.loads((run / "eval" / "report.json").read_text())
    d = report["decisions"]["mean_probability"]
    mel = d["one_vs_rest"]["melanoma"]
    rows.append({"arm": run.name.split("-seed")[0], "seed": int(run.name.split("-seed")[1]),
                 "val_images": report["images"], "melanoma_auc": mel["auc"], "melanoma_auc_ci": mel["auc_ci"],
                 "mean_auc": d["mean_auc"], "mean_auc_ci": mean_auc_ci(run), "images_seen": epochs * steps * batch,
                 "minutes": float((run / "minutes").read_text())})
(out / "summary.json").write_text(json.dumps({"size": size, "rows": rows}, indent=2) + "\n")
lines = ["| arm | seed | val images | melanoma AUC [95% CI] | mean AUC [95% CI] | images seen | minutes |",
         "| --- | --- | --- | --- | --- | --- | --- |"]
for r in rows:
    ci = r["melanoma_auc_ci"] or [float("nan")] * 2
    mci = r["mean_auc_ci"]
    lines.append(f"| {r['arm']} | {r['seed']} | {r['val_images']} | {r['melanoma_auc']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] "
                 f"| {r['mean_auc']:.3f} [{mci[0]:.3f}, {mci[1]:.3f}] | {r['images_seen']} | {r['minutes']:.1f} |")
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
