#!/usr/bin/env python3
"""The table of scripts/compare_starts.sh: every arm and seed scored on the
validation split of isic_ham.csv, as a whole and on its ISIC 2017 part alone.

    compare_starts_summary.py OUT_DIR ISIC2017_VAL_GROUND_TRUTH.csv EPOCHS STEPS BATCH SIZE

Reads OUT_DIR/<arm>-seed<k>/eval/predictions.csv and minutes; writes
OUT_DIR/summary.json and summary.md (one row per run, then each arm's mean over
its seeds) and prints the table. The whole split's melanoma AUC and its CI are
derm-eval's (report.json); the other CIs are bootstraps over images (1000
resamples, seed 2017) of the mean of the melanoma and keratosis AUCs, or of the
melanoma AUC on the ISIC 2017 part. That part (150 images of ISIC 2017 val, less
any dropped as leaks) is the one closest to the ISIC 2017 test split; the rest
(HAM10000's validation lesions) dominates the whole split. NumPy only.
"""
import csv
import json
import sys
from pathlib import Path

import numpy as np

MELANOMA, KERATOSIS = 0, 1


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


def mean_auc(scores, labels):
    return np.mean([auc(scores[c], labels == c) for c in (MELANOMA, KERATOSIS)])


def melanoma_auc(scores, labels):
    return auc(scores[MELANOMA], labels == MELANOMA)


def bootstrap_ci(statistic, scores, labels):
    rng = np.random.default_rng(2017)
    values = []
    for _ in range(1000):
        k = rng.integers(0, len(labels), len(labels))
        resampled = labels[k]
        if any((resampled == c).all() or not (resampled == c).any() for c in (MELANOMA, KERATOSIS)):
            continue
        values.append(statistic([s[k] for s in scores], resampled))
    return [float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))]


def main():
    if len(sys.argv) != 7:
        sys.exit("usage: compare_starts_summary.py OUT_DIR ISIC2017_VAL_GROUND_TRUTH.csv EPOCHS STEPS BATCH SIZE")
    out, isic_val = Path(sys.argv[1]), Path(sys.argv[2])
    epochs, steps, batch, size = map(int, sys.argv[3:])
    with open(out / "isic_ham.csv", newline="") as f:
        label_of = {r["id"]: int(r["label_index"]) for r in csv.DictReader(f) if r["split"] == "val"}
    with open(isic_val, newline="") as f:
        isic_ids = {r["image_id"] for r in csv.DictReader(f)}

    rows = []
    for run in sorted(p for p in out.iterdir() if p.is_dir() and "-seed" in p.name and not p.name.endswith("-pretrain")):
        if not (run / "eval" / "report.json").exists():
            continue
        report = json.loads((run / "eval" / "report.json").read_text())
        melanoma = report["decisions"]["mean_probability"]["one_vs_rest"]["melanoma"]
        with open(run / "eval" / "predictions.csv", newline="") as f:
            predictions = list(csv.DictReader(f))
        labels = np.array([label_of[r["image_id"]] for r in predictions])
        scores = [np.array([float(r[c]) for r in predictions]) for c in ("melanoma", "seborrheic_keratosis")]
        isic = np.array([r["image_id"] in isic_ids for r in predictions])
        isic_scores = [s[isic] for s in scores]
        rows.append({
            "arm": run.name.split("-seed")[0], "seed": int(run.name.split("-seed")[1]),
            "val_images": report["images"], "melanoma_auc": melanoma["auc"], "melanoma_auc_ci": melanoma["auc_ci"],
            "mean_auc": float(mean_auc(scores, labels)), "mean_auc_ci": bootstrap_ci(mean_auc, scores, labels),
            "isic_val_images": int(isic.sum()),
            "isic_val_melanoma_auc": float(melanoma_auc(isic_scores, labels[isic])),
            "isic_val_melanoma_auc_ci": bootstrap_ci(melanoma_auc, isic_scores, labels[isic]),
            "isic_val_mean_auc": float(mean_auc(isic_scores, labels[isic])),
            "images_seen": epochs * steps * batch, "minutes": float((run / "minutes").read_text()),
        })
    arms = {}
    for r in rows:
        arms.setdefault(r["arm"], []).append(r)
    means = [{"arm": arm, "seeds": [r["seed"] for r in runs],
              **{k: float(np.mean([r[k] for r in runs]))
                 for k in ("melanoma_auc", "mean_auc", "isic_val_melanoma_auc", "isic_val_mean_auc", "minutes")}}
             for arm, runs in arms.items()]
    (out / "summary.json").write_text(json.dumps({"size": size, "rows": rows, "arm_means": means}, indent=2) + "\n")

    def ci(values):
        return f"[{values[0]:.3f}, {values[1]:.3f}]"
    lines = ["| arm | seed | melanoma AUC [95% CI] | mean AUC [95% CI] | ISIC 2017 val part: melanoma AUC [95% CI] "
             "| its mean AUC | images seen | minutes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['arm']} | {r['seed']} | {r['melanoma_auc']:.3f} {ci(r['melanoma_auc_ci'])} "
                     f"| {r['mean_auc']:.3f} {ci(r['mean_auc_ci'])} "
                     f"| {r['isic_val_melanoma_auc']:.3f} {ci(r['isic_val_melanoma_auc_ci'])} "
                     f"| {r['isic_val_mean_auc']:.3f} | {r['images_seen']} | {r['minutes']:.1f} |")
    for m in means:
        lines.append(f"| **{m['arm']}** | mean of {len(m['seeds'])} | {m['melanoma_auc']:.3f} | {m['mean_auc']:.3f} "
                     f"| {m['isic_val_melanoma_auc']:.3f} | {m['isic_val_mean_auc']:.3f} | | {m['minutes']:.1f} |")
    if rows:
        lines.append(f"\nValidation: {rows[0]['val_images']} images, of which {rows[0]['isic_val_images']} "
                     f"from ISIC 2017 val; {size} px.")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
