#!/usr/bin/env python3
"""Exports a derm model file to ONNX, for deployment with ONNX Runtime,
TensorRT or OpenVINO.

    /usr/bin/python3 scripts/export_onnx.py MODEL.safetensors OUT.onnx [--opset 13] [--batch 1]

The graph takes what derm's network takes after decoding and resizing:

    input  "image"          float32 N x 3 x S x S, RGB, values in [0, 1], S = the
                            model's input size (resize the image to S x S by the
                            model's resize_policy first: squash, center_crop or pad)
    output "logits"         float32 N x classes
           "probabilities"  float32 N x classes (softmax of the logits)

and does in the graph what derm does after that: the colour constancy of the
model's metadata (Shades of Gray), the normalisation by its mean and std,
Inception v3's transform_input, the learned-resizer stem (its antialiased
bilinear resize written in its exact matrix form, R_h x R_w^T, two MatMuls per
resize, which every runtime has), the backbone and the classifier. The batch
dimension is dynamic. The class names and the derm metadata are stored in the
graph's metadata_props ("classes", "derm").

Needs PyTorch and torchvision (Debian: python3-torch python3-torchvision).
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from derm_reference import build_network, read_safetensors  # noqa: E402


def resize_matrix(size_in, size_out):
    """R (size_out x size_in) with R @ v = F.interpolate(v, bilinear, antialias) along one axis."""
    eye = torch.eye(size_in, dtype=torch.float64).view(1, 1, size_in, size_in)
    # Resizing only the width of the identity gives I @ R^T; at the same height the resize is the identity.
    rt = F.interpolate(eye, size=(size_in, size_out), mode="bilinear", align_corners=False, antialias=True)
    return rt[0, 0].t().contiguous().to(torch.float32)


class MatrixResize(nn.Module):
    """A square antialiased bilinear resize as y = R x R^T (x: N x C x S x S)."""

    def __init__(self, size_in, size_out):
        super().__init__()
        self.register_buffer("rows", resize_matrix(size_in, size_out))

    def forward(self, x):
        return torch.matmul(torch.matmul(self.rows, x), self.rows.t())


class Exported(nn.Module):
    """derm's preprocessing after the resize, then the network; returns (logits, probabilities)."""

    def __init__(self, net, architecture, preprocessing):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(preprocessing["mean"], dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(preprocessing["std"], dtype=torch.float32).view(1, 3, 1, 1))
        self.color_constancy = preprocessing.get("color_constancy", "none")
        self.p = float(preprocessing.get("color_constancy_p", 6.0))
        if self.color_constancy not in ("none", "shades_of_gray"):
            raise SystemExit(f"export_onnx.py: unknown colour constancy '{self.color_constancy}'")
        if hasattr(net, "stem"):
            self.stem_resize = MatrixResize(architecture["input_size"], net.stem.output_size)

    def shades_of_gray(self, x):
        # derm::shades_of_gray (src/model/tensor_image.cpp)
        illuminant = x.pow(self.p).mean(dim=(2, 3)).pow(1.0 / self.p).clamp_min(1e-6)
        unit = illuminant / illuminant.norm(p=2, dim=1, keepdim=True)
        gain = 1.0 / (unit * 3.0 ** 0.5)
        return (x * gain.view(-1, 3, 1, 1)).clamp(0.0, 1.0)

    def forward(self, image):
        x = image
        if self.color_constancy == "shades_of_gray":
            x = self.shades_of_gray(x)
        x = (x - self.mean) / self.std
        x = self.net._transform_input(x)
        if hasattr(self.net, "stem"):
            stem = self.net.stem
            features = F.leaky_relu(stem.conv1(x), 0.2)
            features = stem.bn(F.leaky_relu(stem.conv2(features), 0.2))
            x = self.stem_resize(x) + stem.conv_out(self.stem_resize(features))
        logits, _ = self.net._forward(x)
        return logits, torch.softmax(logits, dim=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a derm model file (.safetensors)")
    parser.add_argument("out", help="the ONNX file to write")
    parser.add_argument("--opset", type=int, default=13)
    parser.add_argument("--batch", type=int, default=1, help="batch size of the example input (the axis is dynamic)")
    args = parser.parse_args()
    if not os.path.isfile(args.model):
        sys.exit(f"export_onnx.py: {args.model}: no such model file")
    try:
        tensors, metadata = read_safetensors(args.model)
        meta = json.loads(metadata["derm"])
        architecture, preprocessing = meta["architecture"], meta["preprocessing"]
    except (KeyError, ValueError, OSError) as e:
        sys.exit(f"export_onnx.py: {args.model}: not a derm model file ({e})")
    if architecture.get("name", "inception_v3") != "inception_v3":
        sys.exit(f"export_onnx.py: {args.model}: architecture {architecture['name']} is not exported")
    net = build_network(architecture)
    net.load_state_dict({k: v.to(torch.float32) if v.is_floating_point() else v for k, v in tensors.items()},
                        strict=True)
    net.eval()
    model = Exported(net, architecture, preprocessing).eval()
    size = architecture["input_size"]
    example = torch.rand(args.batch, 3, size, size)
    tmp = args.out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, (example,), tmp, input_names=["image"], output_names=["logits", "probabilities"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}, "probabilities": {0: "batch"}},
                          opset_version=args.opset, do_constant_folding=True)
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        graph = onnx.load(tmp)
        for key, value in (("classes", json.dumps(meta["classes"])), ("derm", metadata["derm"])):
            prop = graph.metadata_props.add()
            prop.key, prop.value = key, value
        onnx.save(graph, tmp)
    os.replace(tmp, args.out)
    print(json.dumps({"onnx": args.out, "input": [args.batch, 3, size, size], "classes": meta["classes"],
                      "opset": args.opset, "metadata": onnx is not None}))


if __name__ == "__main__":
    main()
