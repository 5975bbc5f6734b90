"""derm's network in PyTorch eager: the baselines in bench/ and scripts/export_onnx.py.

read_safetensors() reads a derm model file (8-byte little-endian header length,
JSON header, raw little-endian data) with torch alone; LearnedResizer is derm's
high-resolution stem (src/model/learned_resizer.cpp) with the same parameter names
and numerics; build_network() makes torchvision's inception_v3 plus that stem
from a model file's "architecture" metadata; forward() runs them in derm's
order. Runs on PyTorch 1.13 (Debian) and 2.x.
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}


def read_safetensors(path):
    """(tensors, metadata) of a safetensors file; little-endian hosts only (x86, ARM)."""
    if sys.byteorder != "little":
        raise SystemExit("derm_reference.py: big-endian hosts are not supported")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(bytes(data[8:8 + length]))
    metadata = header.pop("__metadata__", {})
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        itemsize = torch.empty((), dtype=dtype).element_size()
        count = (end - begin) // itemsize
        flat = torch.frombuffer(data, dtype=dtype, count=count, offset=base + begin) if count else \
            torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"])  # shares `data`: no copy of the weights
    return tensors, metadata


class LearnedResizer(nn.Module):
    """derm's stem (src/model/learned_resizer.cpp, LearnedResizerImpl): same parameter names and numerics."""

    def __init__(self, output_size, channels=16):
        super().__init__()
        self.output_size = output_size
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 1)
        self.conv_out = nn.Conv2d(channels, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

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
    if architecture["input_size"] != architecture.get("backbone_size", 299):
        net.stem = LearnedResizer(architecture.get("backbone_size", 299), architecture.get("stem_channels", 16))
    return net


def forward(net, x):
    """derm's order: transform_input, the stem, then the backbone (eval: logits only)."""
    x = net._transform_input(x)
    if hasattr(net, "stem"):
        x = net.stem(x)
    logits, _ = net._forward(x)
    return logits
