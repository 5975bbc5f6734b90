#!/usr/bin/env python3
"""derm-classify on a folder of real 700x700 dermoscopy images against the
PyTorch eager script doing the same (issue 24's folder target), end to end.

    /usr/bin/python3 bench/classify_folder_cpu_bench.py [--build DIR] [--images 100] [--batch-size 8]
        [--threads 2] [--runs 3] [--out bench/results/classify_folder_cpu.json]

1. derm_bench_make_model writes the 700x700 model (random, BatchNorm
   calibrated, learned-resizer stem to 299, 3 classes).
2. --images JPEGs (quality 95) of 700x700 are cut from the full-resolution
   ISIC images in $DERM_DATA_DIR/isic-fullres-sample/images (default
   ../shared/data): from each source in turn its centre, left and right
   squares, resized with PIL's Lanczos filter, until there are enough.
3. Both classify the folder once; every image's probabilities must agree
   within 1e-4, and its logits within 1e-4 of the largest |logit| (a random
   model's probabilities saturate), or the script fails.
4. --runs alternating timed runs of each, process start to answer:
   derm-classify --batch-size B --threads T --json --quiet FOLDER, and
   bench/pytorch_classify.py MODEL FOLDER --batch-size B --threads T.
Medians, images/s and the ratio PyTorch / derm are printed and written to --out.
"""
import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-4
TARGET = 1.5


def make_images(sources, count, folder):
    folder.mkdir()
    k = 0
    while k < count:
        for source in sources:
            with Image.open(source) as image:
                image = image.convert("RGB")
                w, h = image.size
                side = min(w, h)
                spare = max(w, h) - side  # along the longer side: centre, start, end
                offset = (spare // 2, 0, spare)[(k // len(sources)) % 3]
                x, y = (offset, (h - side) // 2) if w >= h else ((w - side) // 2, offset)
                square = image.crop((x, y, x + side, y + side))
                square.resize((700, 700), Image.LANCZOS).save(folder / f"lesion{k:03d}.jpg", quality=95)
            k += 1
            if k == count:
                break


def timed(command):
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "classify_folder_cpu.json"))
    args = parser.parse_args()
    data = Path(os.environ.get("DERM_DATA_DIR", ROOT.parent / "shared" / "data"))
    sources = sorted(glob.glob(str(data / "isic-fullres-sample" / "images" / "*.jpg")))
    if not sources:
        sys.exit(f"classify_folder_cpu_bench.py: no images in {data}/isic-fullres-sample/images (set DERM_DATA_DIR)")
    build = Path(args.build)
    work = Path(tempfile.mkdtemp(prefix="derm-folder-bench-"))
    model, folder = work / "model.safetensors", work / "images"
    subprocess.run([build / "bench" / "derm_bench_make_model", model, "--input-size", "700", "--backbone-size", "299",
                    "--classes", "melanoma,seborrheic_keratosis,nevus", "--seed", "1"], check=True,
                   capture_output=True)
    make_images(sources, args.images, folder)
    t, b = str(args.threads), str(args.batch_size)
    derm = [build / "apps" / "derm-classify" / "derm-classify", "--model", model, "--device", "cpu", "--threads", t,
            "--batch-size", b, "--json", "--logits", "--quiet", folder]
    pytorch = [sys.executable, ROOT / "bench" / "pytorch_classify.py", model, folder, "--threads", t,
               "--batch-size", b]

    _, derm_out = timed(derm)
    _, pytorch_out = timed(pytorch)
    ours, theirs = json.loads(derm_out), json.loads(pytorch_out)
    members = {item["image"]: item["members"][0] for item in ours["images"]}
    assert len(members) == args.images == len(theirs["images"]), (len(members), len(theirs["images"]))
    gap = max(abs(members[image]["probabilities"][c] - p)
              for image, row in zip(theirs["images"], theirs["probabilities"]) for c, p in zip(theirs["classes"], row))
    # A random model's probabilities saturate: the logits tell more.
    logit_gap = max(abs(a - b) for image, row in zip(theirs["images"], theirs["logits"])
                    for a, b in zip(members[image]["logits"], row))
    largest_logit = max(abs(v) for row in theirs["logits"] for v in row)
    print(f"over {args.images} images: probabilities max |derm - PyTorch| {gap:.2e} (bound {TOLERANCE}); logits "
          f"{logit_gap:.2e} of a largest {largest_logit:.1f} (bound {TOLERANCE} of it)", file=sys.stderr)
    if gap > TOLERANCE or logit_gap > TOLERANCE * largest_logit:
        sys.exit(f"classify_folder_cpu_bench.py: FAIL: probabilities differ by {gap:.2e}, logits by {logit_gap:.2e}")

    seconds = {"derm": [], "pytorch": []}
    for r in range(args.runs):
        seconds["pytorch"].append(timed(pytorch)[0])
        seconds["derm"].append(timed(derm)[0])
        print(f"run {r + 1}/{args.runs}: PyTorch {seconds['pytorch'][-1]:.2f} s, derm {seconds['derm'][-1]:.2f} s",
              file=sys.stderr)
    median = {k: statistics.median(v) for k, v in seconds.items()}
    ratio = median["pytorch"] / median["derm"]
    result = {
        "benchmark": f"end-to-end CPU classification of a folder of {args.images} real 700x700 JPEGs, "
                     "process start to answer",
        "machine": {"cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                 if l.startswith("model name")), platform.machine()),
                    "cores": os.cpu_count(), "platform": platform.platform()},
        "command": "bench/classify_folder_cpu_bench.py " + " ".join(sys.argv[1:]),
        "threads": args.threads, "batch_size": args.batch_size, "images": args.images, "runs": args.runs,
        "model": "random, BatchNorm-calibrated inception_v3: 700x700 input, learned-resizer stem to 299, 3 classes",
        "max_abs_probability_difference": gap,
        "max_abs_logit_difference": logit_gap, "largest_abs_logit": largest_logit,
        "seconds": seconds,
        "median_seconds": median,
        "images_per_second": {k: args.images / v for k, v in median.items()},
        "target": {"ratio_pytorch_over_derm": round(ratio, 3), "target": f">= {TARGET}", "met": ratio >= TARGET},
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.images} images, batch {args.batch_size}, {args.threads} threads: derm {median['derm']:.2f} s "
          f"({args.images / median['derm']:.2f} img/s), PyTorch {median['pytorch']:.2f} s "
          f"({args.images / median['pytorch']:.2f} img/s): {ratio:.2f}x (target {TARGET}x: "
          f"{'met' if ratio >= TARGET else 'NOT met'}); written to {args.out}")


if __name__ == "__main__":
    main()
