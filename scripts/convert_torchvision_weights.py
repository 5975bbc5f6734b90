#!/usr/bin/env python3
"""Convert a torchvision inception_v3 state_dict into a derm model file.

    convert_torchvision_weights.py IN.pth OUT.safetensors [--classes FILE]
        [--transform-input | --no-transform-input] [--source TEXT]

IN.pth is what torch.save(model.state_dict(), path) writes, for instance the
IMAGENET1K_V1 weights that a machine with internet gets with

    python3 -c "import torch, torchvision; m = torchvision.models.inception_v3(
        weights='IMAGENET1K_V1'); torch.save(m.state_dict(), 'inception_v3_imagenet.pth')"

The output is a safetensors file (the format derm reads) whose metadata says
what derm needs: architecture, class names, preprocessing and provenance. Those
weights expect transform_input=True (torchvision sets it for them), the default
here. The file is written to a temporary name and renamed into place.

Needs only torch (and numpy) in the Python that runs it.
"""
import argparse
import datetime
import hashlib
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch

FORMAT_VERSION = 1
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
          torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}


def fail(message):
    print(f"convert_torchvision_weights: error: {message}", file=sys.stderr)
    sys.exit(1)


def load_state_dict(path):
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line error
        fail(f"{path}: cannot read a PyTorch file ({e.__class__.__name__}: {e})")
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    if not isinstance(obj, dict) or "Conv2d_1a_3x3.conv.weight" not in obj:
        fail(f"{path}: not an inception_v3 state_dict (no Conv2d_1a_3x3.conv.weight)")
    return obj


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        if tensor.dtype not in DTYPES:
            fail(f"tensor {name} has unsupported type {tensor.dtype}")
        if tensor.dtype == torch.bfloat16:
            data = tensor.view(torch.int16).numpy().tobytes()
        else:
            data = tensor.numpy().astype(tensor.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(struct.pack("<Q", len(text)))
            out.write(text)
            for data in blobs:
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="torchvision inception_v3 state_dict (.pth)")
    parser.add_argument("output", help="derm model file to write (.safetensors)")
    parser.add_argument("--classes", help="text file, one class name a line (default class_0 ... class_N-1)")
    parser.add_argument("--transform-input", dest="transform_input", action="store_true", default=True,
                        help="the weights expect torchvision's transform_input (default; true for IMAGENET1K_V1)")
    parser.add_argument("--no-transform-input", dest="transform_input", action="store_false")
    parser.add_argument("--untrained", action="store_true",
                        help="mark the weights as untrained (e.g. a randomly initialised network)")
    parser.add_argument("--source", default="", help="free text recorded in the provenance, e.g. IMAGENET1K_V1")
    args = parser.parse_args()

    state = load_state_dict(args.input)
    if "fc.weight" not in state:
        fail(f"{args.input}: no fc.weight in the state_dict")
    num_classes = int(state["fc.weight"].shape[0])
    if args.classes:
        with open(args.classes, encoding="utf-8") as f:
            classes = [line.strip() for line in f if line.strip()]
        if len(classes) != num_classes:
            fail(f"{args.classes}: {len(classes)} names for {num_classes} outputs")
    else:
        classes = [f"class_{i}" for i in range(num_classes)]

    with open(args.input, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    metadata = {
        "format": "derm-model",
        "format_version": FORMAT_VERSION,
        "architecture": {"name": "inception_v3", "num_classes": num_classes,
                         "aux_logits": "AuxLogits.fc.weight" in state,
                         "transform_input": args.transform_input, "dropout": 0.5,
                         "input_size": 299, "backbone_size": 299, "stem_channels": 16},
        "classes": classes,
        "preprocessing": {"input_size": 299, "resize_policy": "squash", "color_order": "RGB",
                          "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "provenance": {"tool": "scripts/convert_torchvision_weights.py",
                       "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "converted_from": os.path.basename(args.input), "sha256": digest,
                       "source": args.source, "trained": not args.untrained,
                       "note": "weights from torchvision; trained on whatever the source says"},
    }
    write_safetensors(args.output, state, {"derm": json.dumps(metadata)})
    print(f"wrote {args.output}: {len(state)} tensors, {num_classes} classes", file=sys.stderr)


if __name__ == "__main__":
    main()
