#!/usr/bin/python3
"""Baseline of classify_cpu_bench.sh: derm-classify's work in PyTorch eager.

    /usr/bin/python3 bench/pytorch_classify.py MODEL.safetensors IMAGE [--threads N]

Reads a derm model file (safetensors, parsed with json + numpy), builds
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
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = bytearray(f.read())  # writable, so torch.from_numpy shares it without a warning
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    metadata = header.pop("__metadata__", {})
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
        array = np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=base + begin)
        tensors[name] = torch.from_numpy(array.reshape(info["shape"]))
    return tensors, metadata


class LearnedResizer(nn.Module):
    """derm's stem (src/nn/inception_v3.cpp), same parameter names and numerics."""

    def __init__(self, output_size, channels):
        super().__init__()
        self.output_size = output_size
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 1)
        self.conv_out = nn.Conv2d(channels, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)

    def resize(self, x):
        return F.interpolate(x, size=(self.output_size, self.output_size), mode="bilinear",
                             align_corners=False, antialias=True)

    def forward(self, x):
        features = F.leaky_relu(self.conv1(x), 0.2)
        features = self.bn(F.leaky_relu(self.conv2(features), 0.2))
        return self.resize(x) + self.conv_out(self.resize(features))


def build_network(architecture):
    net = torchvision.models.inception_v3(weights=None, aux_logits=architecture["aux_logits"],
                                          transform_input=architecture["transform_input"], init_weights=False,
                                          num_classes=architecture["num_classes"],
                                          dropout=architecture.get("dropout", 0.5))
    input_size = architecture["input_size"]
    backbone_size = architecture.get("backbone_size", 299)
    if input_size != backbone_size:
        net.stem = LearnedResizer(backbone_size, architecture.get("stem_channels", 16))
    return net


def forward(net, x):
    # As derm: transform_input, then the stem, then the backbone.
    x = net._transform_input(x)
    if hasattr(net, "stem"):
        x = net.stem(x)
    logits, _ = net._forward(x)
    return logits


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
