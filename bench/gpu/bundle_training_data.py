#!/usr/bin/env python3
"""Packs the training and test data of scripts/train_isic2017.sh into one folder
small enough to travel to the GPU machine (the device tool carries at most
64 MiB with the working tree and the build kit).

    /usr/bin/python3 bench/gpu/bundle_training_data.py DATA_DIR OUT_DIR [--ham-nevi 1500] [--quality 85]

- isic2017/: the three ground-truth CSVs and the 2750 images, byte for byte.
- ham10000-full-200/: every image of DATA_DIR/ham10000-full-200 that is not a
  nevus (nv), and the nevi of a seeded sample of nevus lesions, whole lesions,
  until at least --ham-nevi images, re-encoded as JPEG at --quality (about half
  the bytes), with their rows of HAM10000_metadata.csv. All seven diagnoses
  stay: scripts/isic_ham_manifest.sh splits them by lesion before it keeps
  mel/bkl/nv for the ISIC 2017 task.
Needs Pillow (Debian's python3-pil).
"""
import argparse
import csv
import os
import random
import shutil
import sys

from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--ham-nevi", type=int, default=1500)
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()

    isic = os.path.join(args.data_dir, "isic2017")
    ham_name = "ham10000-full-200"
    ham = os.path.join(args.data_dir, ham_name)
    if not os.path.isdir(isic):
        sys.exit(f"bundle_training_data.py: {isic}: no such folder")
    if os.path.exists(args.out_dir):
        sys.exit(f"bundle_training_data.py: {args.out_dir} exists; remove it first")
    tmp = args.out_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)

    os.makedirs(os.path.join(tmp, "isic2017", "images"))
    for name in sorted(os.listdir(isic)):
        if name.endswith(".csv"):
            shutil.copy2(os.path.join(isic, name), os.path.join(tmp, "isic2017", name))
            with open(os.path.join(isic, name)) as f:
                for row in csv.DictReader(f):
                    image = row["image_id"] + ".jpg"
                    shutil.copy2(os.path.join(isic, "images", image), os.path.join(tmp, "isic2017", "images", image))

    if os.path.isdir(ham):
        with open(os.path.join(ham, "HAM10000_metadata.csv")) as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames
            rows = list(reader)
        nevus_lesions = {}
        for r in rows:
            if r["dx"] == "nv":
                nevus_lesions.setdefault(r["lesion_id"], []).append(r)
        lesions = sorted(nevus_lesions)
        random.Random(args.seed).shuffle(lesions)
        keep = [r for r in rows if r["dx"] != "nv"]
        nevi = 0
        for lesion in lesions:
            if nevi >= args.ham_nevi:
                break
            keep += nevus_lesions[lesion]
            nevi += len(nevus_lesions[lesion])
        keep.sort(key=lambda r: r["image_id"])
        os.makedirs(os.path.join(tmp, ham_name, "images"))
        for r in keep:
            with Image.open(os.path.join(ham, "images", r["image_id"] + ".jpg")) as image:
                image.convert("RGB").save(os.path.join(tmp, ham_name, "images", r["image_id"] + ".jpg"),
                                          "JPEG", quality=args.quality)
        with open(os.path.join(tmp, ham_name, "HAM10000_metadata.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(keep)

    os.replace(tmp, args.out_dir)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(args.out_dir) for f in files)
    print(f"{args.out_dir}: {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
