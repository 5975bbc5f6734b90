#!/usr/bin/env python3
"""Parity of derm-classify with torchvision's inception_v3 (the reference).

A seeded, randomly initialised torchvision inception_v3 is saved as a
state_dict, converted by scripts/convert_torchvision_weights.py and run by
derm-classify --json --logits on a 299x299 PNG; its 1000 logits must equal
torchvision's on the same image with the standard ImageNet normalisation up to
float32 rounding: max abs difference below 1e-5 of the largest |logit|. derm
runs every convolution of an image on oneDNN, where PyTorch on one thread
takes its native kernels for 1x1 convolutions of fewer than 16 images; the
sums' order differs, and about 95 layers of float32 rounding measured 6e-7 of
the largest logit. Fresh BatchNorm statistics let activations grow to ~1e11,
so the check is repeated with BatchNorm statistics calibrated on a random
batch (logits of order 1e3). Exit 77 (skipped) when torchvision is missing.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77


def main():
    if len(sys.argv) != 3:
        print("usage: torchvision_parity.py DERM_CLASSIFY CONVERT_SCRIPT", file=sys.stderr)
        return 2
    classify, convert = sys.argv[1], sys.argv[2]
    try:
        import numpy as np
        import torch
        import torchvision
        from PIL import Image
        from torchvision.transforms import functional as TF
    except ImportError as e:
        print(f"SKIP: reference implementation unavailable ({e}); install python3-torchvision", file=sys.stderr)
        return SKIP

    torch.manual_seed(0)
    model = torchvision.models.inception_v3(weights=None, init_weights=True, aux_logits=True,
                                            transform_input=True).eval()
    failures = compare(model, "as initialised", classify, convert, np, torch, Image, TF)

    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average: one batch sets the statistics
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 299, 299))
    model.eval()
    failures += compare(model, "BatchNorm calibrated", classify, convert, np, torch, Image, TF)
    return 1 if failures else 0


def compare(model, label, classify, convert, np, torch, Image, TF):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.save(model.state_dict(), tmp / "inception_v3.pth")

        # A smooth lesion-like image: skin background, dark blob, some texture.
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:299, 0:299]
        blob = np.exp(-(((xx - 160) / 70.0) ** 2 + ((yy - 140) / 55.0) ** 2))
        image = np.stack([215 - 120 * blob, 170 - 110 * blob, 150 - 100 * blob], axis=-1)
        image += rng.normal(0, 6, image.shape)
        image = np.clip(image, 0, 255).astype(np.uint8)
        png = tmp / "lesion.png"
        Image.fromarray(image).save(png)

        x = TF.normalize(TF.to_tensor(Image.open(png).convert("RGB")),
                         mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]).unsqueeze(0)
        with torch.no_grad():
            reference = model(x)[0].numpy().astype(np.float64)

        subprocess.run([sys.executable, convert, str(tmp / "inception_v3.pth"), str(tmp / "model.safetensors"),
                        "--untrained", "--source", "parity test"], check=True)
        run = subprocess.run([classify, "--model", str(tmp / "model.safetensors"), "--json", "--logits",
                              "--device", "cpu", "--quiet", str(png)], check=True, capture_output=True, text=True)
        result = json.loads(run.stdout)
        ours = np.array(result["images"][0]["members"][0]["logits"], dtype=np.float64)

    if ours.shape != reference.shape:
        print(f"FAIL ({label}): derm-classify gave {ours.shape[0]} logits, torchvision {reference.shape[0]}")
        return 1
    difference = float(np.abs(ours - reference).max())
    same_top5 = list(np.argsort(-ours)[:5]) == list(np.argsort(-reference)[:5])
    print(f"{label}: max abs logit difference {difference:.3g} over {ours.size} logits "
          f"(logit range {reference.min():.3g}..{reference.max():.3g}); same top-5: {same_top5}")
    if not result["untrained"]:
        print(f"FAIL ({label}): derm-classify did not flag the random weights as untrained")
        return 1
    return 0 if difference < 1e-5 * float(np.abs(reference).max()) and same_top5 else 1


if __name__ == "__main__":
    sys.exit(main())
