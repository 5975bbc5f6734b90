#!/usr/bin/python3
"""Baseline of classify_cpu_bench.sh and classify_folder_cpu_bench.py:
derm-classify's work in PyTorch eager.

    /usr/bin/python3 bench/pytorch_classify.py MODEL.safetensors IMAGE|FOLDER... [--threads N] [--batch-size 1]

Reads a derm model file (derm_reference.py), builds
torchvision's inception_v3 plus a module identical to derm's learned-resizer
stem, loads the weights strictly, then for each batch of --batch-size images
(folders: their .jpg/.jpeg/.png files, sorted) decodes them (PIL, RGB),
normalises them with the model's mean/std, runs an eval-mode forward under
inference_mode, and prints {"classes": [...], "images": [...],
"probabilities": [[...], ...], "logits": [[...], ...]} (one row per image)
as JSON on stdout.

Only images whose size is already the model's input size are accepted (the
benchmarks use such), so no resize policy is involved. Needs Debian's
python3-torch and python3-torchvision (1.13 / 0.14), numpy and PIL.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))  # derm_reference
from derm_reference import build_network, forward, read_safetensors

def image_paths(names):
    paths = []
    for name in names:
        if os.path.isdir(name):
            paths += sorted(os.path.join(root, f) for root, _, files in os.walk(name) for f in files
                            if f.lower().endswith((".jpg", ".jpeg", ".png")))
        else:
            paths.append(name)
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: library default)")
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    tensors, metadata = read_safetensors(args.model)
    meta = json.loads(metadata["derm"])
    architecture, preprocessing = meta["architecture"], meta["preprocessing"]
    net = build_network(architecture)
    net.load_state_dict(tensors, strict=True)
    net.eval()

    size = preprocessing["input_size"]
    mean = torch.tensor(preprocessing["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(preprocessing["std"], dtype=torch.float32).view(1, 3, 1, 1)
    paths = image_paths(args.images)
    rows, logit_rows = [], []
    for start in range(0, len(paths), args.batch_size):
        pixels = []
        for path in paths[start:start + args.batch_size]:
            image = Image.open(path).convert("RGB")
            if image.size != (size, size):
                sys.exit(f"pytorch_classify.py: {path} is {image.size[0]}x{image.size[1]}, "
                         f"the model needs {size}x{size} (resize policies are not implemented here)")
            pixels.append(torch.from_numpy(np.array(image)).permute(2, 0, 1))
        with torch.inference_mode():
            x = (torch.stack(pixels).to(torch.float32).div_(255.0) - mean) / std
            logits = forward(net, x).to(torch.float32)
        rows += [[float(p) for p in row] for row in torch.softmax(logits, 1)]
        logit_rows += [[float(v) for v in row] for row in logits]
    print(json.dumps({"classes": meta["classes"], "images": paths, "probabilities": rows, "logits": logit_rows}))


if __name__ == "__main__":
    main()
