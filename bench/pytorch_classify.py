#!/usr/bin/python3
"""Baseline of classify_cpu_bench.sh: derm-classify's work in PyTorch eager.

    /usr/bin/python3 bench/pytorch_classify.py MODEL.safetensors IMAGE [--threads N]

Reads a derm model file (derm_reference.py), builds
torchvision's inception_v3 plus a module identical to derm's learned-resizer
stem, loads the weights strictly, decodes the image (PIL, RGB), normalises it
with the model's mean/std, runs an eval-mode forward under inference_mode and
prints {"classes": [...], "probabilities": [...]} as JSON on stdout.

Only images whose size is already the model's input size are accepted (the
benchmark uses one), so no resize policy is involved. Needs Debian's
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

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("image")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: library default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    tensors, metadata = read_safetensors(args.model)
    meta = json.loads(metadata["derm"])
    architecture, preprocessing = meta["architecture"], meta["preprocessing"]
    net = build_network(architecture)
    net.load_state_dict(tensors, strict=True)
    net.eval()

    image = Image.open(args.image).convert("RGB")
    size = preprocessing["input_size"]
    if image.size != (size, size):
        sys.exit(f"pytorch_classify.py: {args.image} is {image.size[0]}x{image.size[1]}, "
                 f"the model needs {size}x{size} (resize policies are not implemented here)")
    with torch.inference_mode():
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0)
        mean = torch.tensor(preprocessing["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(preprocessing["std"], dtype=torch.float32).view(1, 3, 1, 1)
        x = (x.to(torch.float32).div_(255.0) - mean) / std
        probabilities = torch.softmax(forward(net, x).to(torch.float32), 1)[0]
    print(json.dumps({"classes": meta["classes"], "probabilities": [float(p) for p in probabilities]}))


if __name__ == "__main__":
    main()
