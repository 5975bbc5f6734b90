#!/usr/bin/env python3
"""derm's CPU inference against ONNX Runtime and PyTorch eager on the same
network and threads (issue 24's targets), every side in one invocation.

    /usr/bin/python3 bench/cpu_inference_bench.py [--build DIR] [--threads 2] [--rounds 3]
        [--iterations 20] [--out bench/results/cpu_inference.json]

1. derm_bench_make_model writes the 700x700 model (learned-resizer stem to
   299, 3 classes, calibrated BatchNorm) and a 299x299 one (no stem), and
   scripts/export_onnx.py exports the 700 one (the stem's resize in matrix form).
2. ONNX Runtime (npm onnxruntime-node, CPU provider, graph optimisation "all",
   --threads intra-op threads) is installed into a temporary folder; derm
   never depends on it.
3. --rounds interleaved rounds of: derm_bench_forward_latency (batch 1 warm,
   batch 8 warm, batch 1 first call in a fresh process; the model loaded as
   derm-classify loads it, its CPU plan made at load), ONNX Runtime (the same
   three, and the session's load), PyTorch 1.13 eager (batch 1 warm), and derm
   at 299 without the stem, run right after the 700 one (the stem's share of
   derm's forward is 1 - t299 / t700 in each round, its median over the
   rounds). Medians over the rounds' medians.
4. Once: derm's plain LibTorch path (--no-cpu-plan) on the same input; the
   planned path's probabilities must equal its within 1e-4. The 700 model's
   logits are large (its softmax is all but one-hot), so the same is checked
   on the trained reference model (models/reference, 224x224, no stem), whose
   probabilities are not.
Prints a table with the ratios against each target and writes --out.
"""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ORT_SCRIPT = r"""
const ort = require(process.argv[2]);
const [model, size, threads, iterations] = process.argv.slice(3).map((v, i) => i ? Number(v) : v);
function input(batch) {
  const data = new Float32Array(batch * 3 * size * size);
  for (let i = 0; i < data.length; ++i) data[i] = ((i * 2654435761) % 1000) / 1000;
  return {image: new ort.Tensor('float32', data, [batch, 3, size, size])};
}
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
(async () => {
  let t = process.hrtime.bigint();
  const options = {graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
                   executionProviders: ['cpu']};
  const session = await ort.InferenceSession.create(model, options);
  const load_ms = Number(process.hrtime.bigint() - t) / 1e6;
  const result = {load_ms};
  for (const batch of [1, 8]) {
    const feeds = input(batch);
    t = process.hrtime.bigint();
    await session.run(feeds);
    const first = Number(process.hrtime.bigint() - t) / 1e6;
    const times = [];
    for (let k = 0; k < (batch === 1 ? iterations : Math.max(3, iterations / 4)); ++k) {
      t = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    result['batch' + batch] = {first_ms: first, median_ms: median(times)};
  }
  console.log(JSON.stringify(result));
})().catch((e) => { console.error(e.message); process.exit(1); });
"""


def softmax(logits):
    top = max(logits)
    e = [math.exp(v - top) for v in logits]
    return [v / sum(e) for v in e]


def run_json(command, env=None):
    out = subprocess.run([str(c) for c in command], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--ort-modules", default="", help="a node_modules folder holding onnxruntime-node "
                        "(default: installed with npm into a temporary folder)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cpu_inference.json"))
    args = parser.parse_args()
    bench = Path(args.build) / "bench"
    work = Path(tempfile.mkdtemp(prefix="derm-cpu-bench-"))
    t = str(args.threads)

    subprocess.run([bench / "derm_bench_make_model", work / "m700.safetensors", "--input-size", "700"], check=True)
    subprocess.run([bench / "derm_bench_make_model", work / "m299.safetensors", "--input-size", "299",
                    "--backbone-size", "299"], check=True)
    subprocess.run([sys.executable, ROOT / "scripts" / "export_onnx.py", work / "m700.safetensors",
                    work / "m700.onnx"], check=True, capture_output=True)
    modules = Path(args.ort_modules) if args.ort_modules else work / "ort" / "node_modules"
    if not args.ort_modules:
        (work / "ort").mkdir()
        subprocess.run(["npm", "install", "--prefix", work / "ort", "--ignore-scripts", "--no-audit", "--no-fund",
                        "onnxruntime-node@1.31.1"], check=True, capture_output=True)
    (work / "ort.js").write_text(ORT_SCRIPT)
    ort_module = (modules / "onnxruntime-node").resolve()

    derm = lambda model, *extra: run_json([bench / "derm_bench_forward_latency", model, "--device", "cpu",
                                           "--threads", t, *extra])
    plain = derm(work / "m700.safetensors", "--warmup", "0", "--iterations", "1", "--no-cpu-plan")
    reference = sorted((ROOT / "models" / "reference").glob("*.safetensors"))[0]
    reference_paths = {"planned": derm(reference, "--warmup", "0", "--iterations", "1"),
                       "libtorch": derm(reference, "--warmup", "0", "--iterations", "1", "--no-cpu-plan")}
    rounds = []
    for r in range(args.rounds):
        first = derm(work / "m700.safetensors", "--warmup", "0", "--iterations", "1")
        b1 = derm(work / "m700.safetensors", "--warmup", "3", "--iterations", str(args.iterations))
        b299 = derm(work / "m299.safetensors", "--warmup", "3", "--iterations", str(args.iterations))
        b8 = derm(work / "m700.safetensors", "--warmup", "1", "--iterations", str(max(3, args.iterations // 4)),
                  "--batch", "8")
        ort = run_json(["node", work / "ort.js", ort_module, work / "m700.onnx", "700", t, str(args.iterations)])
        torch_b1 = run_json([sys.executable, ROOT / "bench" / "pytorch_latency_baseline.py", work / "m700.safetensors",
                             "--device", "cpu", "--threads", t, "--warmup", "3", "--iterations",
                             str(args.iterations)])
        rounds.append({"derm_load_ms": first["load_ms"], "derm_first_ms": first["median_ms"], "derm_b1_ms": b1["median_ms"],
                       "derm_b8_ms": b8["median_ms"], "derm_299_ms": b299["median_ms"],
                       "ort_load_ms": ort["load_ms"], "ort_first_ms": ort["batch1"]["first_ms"],
                       "ort_b1_ms": ort["batch1"]["median_ms"], "ort_b8_ms": ort["batch8"]["median_ms"],
                       "pytorch_b1_ms": torch_b1["median_ms"],
                       "max_logit_gap_vs_pytorch": max(abs(a - b) for a, b in zip(b1["logits"], torch_b1["logits"]))})
        print(f"round {r + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in rounds[-1].items()), file=sys.stderr)
    m = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    planned_logits = b1["logits"]
    probability_gap = max(abs(a - b) for a, b in zip(softmax(planned_logits), softmax(plain["logits"])))
    logit_gap = max(abs(a - b) for a, b in zip(planned_logits, plain["logits"])) / max(map(abs, plain["logits"]))
    reference_probabilities = {k: softmax(v["logits"]) for k, v in reference_paths.items()}
    reference_gap = max(abs(a - b) for a, b in zip(*reference_probabilities.values()))
    targets = {
        "warm_batch1_vs_ort": {"value": m["ort_b1_ms"] / m["derm_b1_ms"], "target": ">= 1.25"},
        "first_call_vs_warm": {"value": m["derm_first_ms"] / m["derm_b1_ms"], "target": "<= 1.2"},
        "batch8_throughput_vs_ort": {"value": m["ort_b8_ms"] / m["derm_b8_ms"], "target": ">= 1.25"},
        # Paired within each round (the 299 run right after the 700 one), so that the
        # machine's drift between rounds cancels; the median over the rounds.
        "stem_share": {"value": statistics.median(max(0.0, 1 - r["derm_299_ms"] / r["derm_b1_ms"]) for r in rounds),
                       "target": "<= 0.15"},
        "probabilities_vs_libtorch": {"value": max(probability_gap, reference_gap), "target": "<= 0.0001"},
    }
    for name, t_ in targets.items():
        bound = float(t_["target"].split()[1])
        t_["met"] = t_["value"] >= bound if t_["target"].startswith(">=") else t_["value"] <= bound
        t_["value"] = round(t_["value"], 3) if t_["value"] >= 1e-3 else t_["value"]
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "platform": platform.platform()},
              "command": "bench/cpu_inference_bench.py " + " ".join(sys.argv[1:]),
              "threads": args.threads, "rounds": rounds, "medians_ms": {k: round(v, 2) for k, v in m.items()},
              "libtorch_path": {"logits": plain["logits"], "planned_logits": planned_logits,
                                "max_logit_gap_relative": logit_gap, "max_probability_gap": probability_gap,
                                "reference_model": str(reference.relative_to(ROOT)),
                                "reference_probabilities": reference_probabilities,
                                "reference_max_probability_gap": reference_gap},
              "targets": targets}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'':<30}{'derm':>10}{'ORT':>10}{'PyTorch':>10}   (ms, {args.threads} threads, medians of {args.rounds})")
    print(f"{'warm forward, batch 1':<30}{m['derm_b1_ms']:>10.1f}{m['ort_b1_ms']:>10.1f}{m['pytorch_b1_ms']:>10.1f}")
    print(f"{'first call, batch 1':<30}{m['derm_first_ms']:>10.1f}{m['ort_first_ms']:>10.1f}")
    print(f"{'warm forward, batch 8':<30}{m['derm_b8_ms']:>10.1f}{m['ort_b8_ms']:>10.1f}")
    print(f"{'load (derm: with its plan)':<30}{m['derm_load_ms']:>10.1f}{m['ort_load_ms']:>10.1f}")
    for name, t_ in targets.items():
        print(f"{name}: {t_['value']} (target {t_['target']}: {'met' if t_['met'] else 'NOT met'})")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
