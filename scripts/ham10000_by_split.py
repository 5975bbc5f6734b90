#!/usr/bin/env python3
"""Split HAM10000's metadata CSV by the splits of a derm-prep manifest.

    ham10000_by_split.py MANIFEST HAM10000_metadata.csv OUT_DIR

Writes OUT_DIR/HAM10000_metadata.<split>.csv for every split of MANIFEST, each
with the metadata's header and its rows whose image_id the manifest puts in that
split, so that other derm-prep runs (another task, other sources beside it)
keep exactly this lesion-grouped split: pass each as
--source ham10000:OUT_DIR/HAM10000_metadata.<split>.csv:IMAGES:<split>.
Standard library only.
"""
import csv
import sys
from pathlib import Path


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: ham10000_by_split.py MANIFEST HAM10000_metadata.csv OUT_DIR")
    manifest, metadata, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    with manifest.open(newline="") as f:
        split_of = {row["id"]: row["split"] for row in csv.DictReader(f)}
    with metadata.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header[:3] != ["lesion_id", "image_id", "dx"]:
            sys.exit(f"{metadata}: not a HAM10000 metadata CSV (header {','.join(header)})")
        rows = list(reader)
    out.mkdir(parents=True, exist_ok=True)
    for split in sorted(set(split_of.values())):
        path = out / f"HAM10000_metadata.{split}.csv"
        with path.open("w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(row for row in rows if split_of.get(row[1]) == split)
        print(f"{path}: {sum(1 for row in rows if split_of.get(row[1]) == split)} images")


if __name__ == "__main__":
    main()
