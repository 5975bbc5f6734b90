#!/usr/bin/env bash
# Turns a trained member into models/reference: float16 weights, its one
# evaluation on the ISIC 2017 test split, and the figures of its card.
#
#   scripts/make_reference_model.sh MEMBER.safetensors [OUT_DIR]
#
# OUT_DIR (models/reference) receives member-1.safetensors (float16),
# ensemble.json and card.json: the test split's figures (thresholds chosen by
# Youden's J on ISIC 2017 val), rounded to 4 decimals, with the two commands
# that reproduce them. tests/apps/reference_model_test.cpp runs those commands
# in CI and fails when a figure moves. The evaluation's full report stays in
# OUT_DIR.eval/ (not kept in git). Nothing is replaced until all of it is made.
# Environment (defaults): DERM_DATA_DIR (../shared/data), DERM_BIN (build/apps).
set -euo pipefail

[[ $# -eq 1 || $# -eq 2 ]] || { echo "usage: $0 MEMBER.safetensors [OUT_DIR]" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MEMBER=$1
OUT=${2:-$ROOT/models/reference}
DATA=${DERM_DATA_DIR:-$ROOT/../shared/data}
BIN=${DERM_BIN:-$ROOT/build/apps}
[[ -f $MEMBER ]] || { echo "$0: $MEMBER: no such file" >&2; exit 1; }
[[ -d $DATA/isic2017 ]] || { echo "$0: $DATA/isic2017: no such folder (set DERM_DATA_DIR)" >&2; exit 1; }

staging=$OUT.tmp
work=$(mktemp -d)
trap 'rm -rf "$work" "$staging"' EXIT
rm -rf "$staging"
mkdir -p "$staging"
"$BIN/derm-model/derm-model" convert "$MEMBER" "$staging/member-1.safetensors" --dtype float16
"$BIN/derm-model/derm-model" info "$staging/member-1.safetensors" >"$work/info.json"
printf '{\n  "classes": %s,\n  "decision": "majority_vote",\n  "members": ["member-1.safetensors"]\n}\n' \
  "$(/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["classes"]))' "$work/info.json")" \
  >"$staging/ensemble.json"

# The card's commands, as models/README.md documents them.
eval_args=(--split test --threshold-policy youden --val-split val --device cpu --quiet)
"$BIN/derm-prep/derm-prep" --task isic2017 --isic2017-dir "$DATA/isic2017" --absolute-paths --out "$work/isic2017.csv" \
  --quiet
"$BIN/derm-eval/derm-eval" --model "$staging" --manifest "$work/isic2017.csv" "${eval_args[@]}" --out "$work/eval"
prep_command='derm-prep --task isic2017 --isic2017-dir "$DERM_DATA_DIR/isic2017" --absolute-paths --out work/isic2017.csv --quiet'
eval_command="derm-eval --model models/reference --manifest work/isic2017.csv ${eval_args[*]} --out work/reference-eval"

/usr/bin/python3 - "$work/eval/report.json" "$work/info.json" "$prep_command" "$eval_command" >"$staging/card.json" <<'PY'
import json, sys
report, info = (json.load(open(p)) for p in sys.argv[1:3])

def rounded(x):
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return round(x, 4) if isinstance(x, float) else x

per_class = ("auc", "auc_ci", "threshold", "accuracy", "accuracy_ci", "sensitivity", "sensitivity_ci",
             "specificity", "specificity_ci", "tp", "fp", "tn", "fn")
decisions = {}
for name, d in report["decisions"].items():
    decisions[name] = {"accuracy": d["accuracy"], "mean_auc": d["mean_auc"],
                       "one_vs_rest": {c: {k: r[k] for k in per_class} for c, r in d["one_vs_rest"].items()}}
card = {
    "model": "models/reference",
    "architecture": info["architecture"],
    "preprocessing": info["preprocessing"],
    "provenance": info["provenance"],
    "commands": [sys.argv[3], sys.argv[4]],
    "figures": rounded({"images": report["images"], "class_counts": report["class_counts"],
                        "bootstrap": report["bootstrap"], "decisions": decisions}),
}
json.dump(card, sys.stdout, indent=2)
print()
PY

rm -rf "$OUT.eval" "$OUT.old"
cp -r "$work/eval" "$OUT.eval"
[[ -e $OUT ]] && mv "$OUT" "$OUT.old"
mv "$staging" "$OUT"
rm -rf "$OUT.old"
echo "$0: wrote $OUT ($(du -sh "$OUT" | cut -f1)); the test split's full report is in $OUT.eval" >&2
