#!/usr/bin/env python3
"""scripts/export_onnx.py against derm-classify.

    onnx_export_parity.py DERM_MODEL DERM_CLASSIFY EXPORT_SCRIPT ORT_MODULES

A 150 px model with the learned-resizer stem to 75 and Shades of Gray colour
constancy in its metadata (derm-model create, then its BatchNorm statistics
calibrated on a random batch so that activations are of order 1) is exported;
the graph must pass the ONNX checker (full check, shapes inferred), and ONNX
Runtime (npm onnxruntime-node in ORT_MODULES, installed by
scripts/setup-debian.sh) must give derm-classify's logits and probabilities
on three lesion-like images under different lights: logits within 1e-4 of the
largest logit's magnitude (float32 sums in another order, through ~100
layers), probabilities within 1e-4. Exit 77 (skipped) when PyTorch, the onnx
package, node or onnxruntime-node is missing.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77
CLASSES = ["melanoma", "seborrheic_keratosis", "nevus"]
SIZE = 150

RUN_ORT = r"""
const ort = require(process.argv[2]);
const fs = require('fs');
(async () => {
  const [model, input, n, size] = process.argv.slice(3);
  const bytes = fs.readFileSync(input);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({image: new ort.Tensor('float32', data, [Number(n), 3, Number(size), Number(size)])});
  console.log(JSON.stringify({logits: Array.from(out.logits.data), probabilities: Array.from(out.probabilities.data)}));
})().catch((e) => { console.error(e.message); process.exit(1); });
"""


def write_safetensors(path, tensors, metadata):
    import torch
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    names = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16"}
    for name, tensor in tensors.items():
        data = tensor.contiguous().numpy().tobytes()
        header[name] = {"dtype": names[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    derm_model, classify, export, ort_modules = sys.argv[1:]
    try:
        import numpy as np
        import onnx
        import torch
        from PIL import Image
    except ImportError as e:
        print(f"SKIP: {e}; install python3-torch python3-torchvision python3-onnx python3-pil", file=sys.stderr)
        return SKIP
    sys.path.insert(0, str(Path(export).resolve().parent))
    from derm_reference import build_network, forward, read_safetensors

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([derm_model, "create", "--input-size", str(SIZE), "--backbone-size", "75", "--seed", "1",
                        "--classes", *CLASSES, str(tmp / "base.safetensors")], check=True, capture_output=True)
        tensors, metadata = read_safetensors(tmp / "base.safetensors")
        meta = json.loads(metadata["derm"])
        net = build_network(meta["architecture"])
        net.load_state_dict(tensors, strict=True)
        torch.manual_seed(2)
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None  # cumulative average: one batch sets the statistics
        net.train()
        with torch.no_grad():
            forward(net, torch.randn(6, 3, SIZE, SIZE))
        with torch.no_grad():
            net.fc.weight.mul_(0.01)  # logits of order 10, so that the probabilities are not all 0 or 1
        meta["preprocessing"]["color_constancy"] = "shades_of_gray"
        meta["preprocessing"]["color_constancy_p"] = 6.0
        metadata["derm"] = json.dumps(meta)
        write_safetensors(tmp / "model.safetensors", {k: v.detach() for k, v in net.state_dict().items()}, metadata)

        run = subprocess.run([sys.executable, export, str(tmp / "model.safetensors"), str(tmp / "model.onnx")],
                             check=True, capture_output=True, text=True)
        print("export:", run.stdout.strip())
        graph = onnx.load(str(tmp / "model.onnx"))
        onnx.checker.check_model(graph, full_check=True)
        props = {p.key: p.value for p in graph.metadata_props}
        if json.loads(props.get("classes", "[]")) != CLASSES:
            print(f"FAIL: the graph's classes are {props.get('classes')}")
            return 1
        print(f"checker: ok ({len(graph.graph.node)} nodes, opset {graph.opset_import[0].version})")

        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        pngs, pixels = [], []
        for k, light in enumerate([(1.0, 1.0, 1.0), (1.0, 0.8, 0.6), (0.7, 0.85, 1.0)]):
            blob = np.exp(-(((xx - 60 - 10 * k) / 30.0) ** 2 + ((yy - 80) / 22.0) ** 2))
            image = np.stack([215 - 120 * blob, 170 - 110 * blob, 150 - 100 * blob], axis=-1) * np.array(light)
            image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
            png = tmp / f"lesion{k}.png"
            Image.fromarray(image).save(png)
            pngs.append(str(png))
            pixels.append(np.asarray(Image.open(png).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0)
        run = subprocess.run([classify, "--model", str(tmp / "model.safetensors"), "--json", "--logits", "--device",
                              "cpu", "--quiet", *pngs], check=True, capture_output=True, text=True)
        images = json.loads(run.stdout)["images"]
        derm_logits = np.array([i["members"][0]["logits"] for i in images], dtype=np.float64)
        derm_probabilities = np.array([[i["mean_probability"]["probabilities"][c] for c in CLASSES] for i in images])

        node = subprocess.run(["sh", "-c", "command -v node"], capture_output=True, text=True).stdout.strip()
        module = (Path(ort_modules) / "onnxruntime-node").resolve()
        if not node or not module.is_dir():
            print(f"SKIP: the graph checks, but ONNX Runtime is not here to run it ({module}; "
                  f"scripts/setup-debian.sh installs it with npm)", file=sys.stderr)
            return SKIP
        (tmp / "input.f32").write_bytes(np.stack(pixels).astype("<f4").tobytes())
        (tmp / "run_ort.js").write_text(RUN_ORT)
        run = subprocess.run([node, str(tmp / "run_ort.js"), str(module), str(tmp / "model.onnx"),
                              str(tmp / "input.f32"), str(len(pngs)), str(SIZE)],
                             check=True, capture_output=True, text=True)
        ort = json.loads(run.stdout)
        ort_logits = np.array(ort["logits"], dtype=np.float64).reshape(derm_logits.shape)
        ort_probabilities = np.array(ort["probabilities"], dtype=np.float64).reshape(derm_probabilities.shape)
        scale = float(np.abs(derm_logits).max())
        logit_gap = float(np.abs(ort_logits - derm_logits).max())
        probability_gap = float(np.abs(ort_probabilities - derm_probabilities).max())
        spread = float(np.abs(derm_logits[1:] - derm_logits[0]).max())
        print(f"logits: largest |logit| {scale:.3g}, max |ORT - derm| {logit_gap:.3g} "
              f"(bound {1e-4 * max(1.0, scale):.3g}); probabilities: max gap {probability_gap:.3g} (bound 1e-4); "
              f"logits across the three lights differ by up to {spread:.3g}")
        if logit_gap > 1e-4 * max(1.0, scale) or probability_gap > 1e-4:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
