#!/usr/bin/env python3
"""Parity of derm's Grad-CAM with a PyTorch reference.

A seeded torchvision inception_v3 (3 classes, BatchNorm statistics calibrated
on a random batch so that activations are of order 1) is converted by
scripts/convert_torchvision_weights.py; derm-classify --heatmap --json gives
the Grad-CAM of Mixed_7c (8 x 8 at 299 px) for every class of a lesion-like
image. The reference computes it with hooks on the same network and image:
the activations A of Mixed_7c and the gradient G of the class's logit over
them, CAM = ReLU(sum_k mean(G_k) A_k), divided by its maximum. Every value
must agree within 1e-4. Exit 77 (skipped) when torchvision is missing.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77
CLASSES = ["melanoma", "seborrheic_keratosis", "nevus"]


def main():
    if len(sys.argv) != 3:
        print("usage: grad_cam_parity.py DERM_CLASSIFY CONVERT_SCRIPT", file=sys.stderr)
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

    torch.manual_seed(1)
    model = torchvision.models.inception_v3(weights=None, init_weights=True, aux_logits=False,
                                            transform_input=False, num_classes=len(CLASSES))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average: one batch sets the statistics
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 299, 299))
    model.eval()

    activations = {}
    model.Mixed_7c.register_forward_hook(lambda module, inputs, output: activations.update(a=output))

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.save(model.state_dict(), tmp / "inception_v3.pth")
        (tmp / "classes.txt").write_text("\n".join(CLASSES) + "\n")
        subprocess.run([sys.executable, convert, str(tmp / "inception_v3.pth"), str(tmp / "model.safetensors"),
                        "--classes", str(tmp / "classes.txt"), "--no-transform-input", "--untrained",
                        "--source", "Grad-CAM parity test"], check=True)

        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:299, 0:299]
        blob = np.exp(-(((xx - 120) / 60.0) ** 2 + ((yy - 170) / 45.0) ** 2))
        image = np.stack([215 - 120 * blob, 170 - 110 * blob, 150 - 100 * blob], axis=-1)
        image += rng.normal(0, 6, image.shape)
        png = tmp / "lesion.png"
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(png)
        x = TF.normalize(TF.to_tensor(Image.open(png).convert("RGB")),
                         mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]).unsqueeze(0)

        for c, name in enumerate(CLASSES):
            logits = model(x)
            a = activations["a"]
            (g,) = torch.autograd.grad(logits[0, c], a)
            cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1)[0]).detach()
            reference = (cam / cam.max() if cam.max() > 0 else cam).numpy().astype(np.float64)

            run = subprocess.run([classify, "--model", str(tmp / "model.safetensors"), "--json", "--device", "cpu",
                                  "--quiet", "--heatmap", str(tmp / "heatmaps"), "--heatmap-class", name, str(png)],
                                 check=True, capture_output=True, text=True)
            heatmap = json.loads(run.stdout)["images"][0]["heatmap"]
            ours = np.array(heatmap["cam"][0], dtype=np.float64)
            written = Path(heatmap["file"])
            if ours.shape != reference.shape or heatmap["layer"] != "Mixed_7c" or heatmap["class"] != name:
                print(f"FAIL {name}: derm gave a {ours.shape} map of {heatmap['layer']} for {heatmap['class']}, "
                      f"the reference {reference.shape} of Mixed_7c")
                failures += 1
                continue
            difference = float(np.abs(ours - reference).max())
            print(f"{name}: max abs difference {difference:.3g} over the {ours.size} values of Mixed_7c's map "
                  f"(reference maximum at {np.unravel_index(reference.argmax(), reference.shape)}, "
                  f"{int((reference > 0).sum())} non-zero); overlay {written.name}")
            overlay = Image.open(written)
            if difference >= 1e-4 or reference.max() != 1.0 or overlay.size != (299, 299):
                failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
