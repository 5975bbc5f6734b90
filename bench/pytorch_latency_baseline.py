#!/usr/bin/env python3
"""Baseline of derm_bench_forward_latency: the same derm model in PyTorch eager.

    python3 bench/pytorch_latency_baseline.py MODEL.safetensors [--device cuda] [--size 700]
        [--iterations 100] [--warmup 20] [--batch 1] [--bf16] [--channels-last]
        [--cudnn-benchmark] [--threads N]

Reads a derm model file (safetensors: 8-byte little-endian header length, JSON
header, raw data; parsed here with torch.frombuffer, no numpy), builds
torchvision's inception_v3 plus a module identical to derm's learned-resizer
stem, loads the weights strictly, and times --iterations batch-1 eval-mode
forward passes under torch.inference_mode after --warmup untimed ones, each
bracketed by torch.cuda.synchronize() on CUDA. The input is the fixed pattern
derm_bench_forward_latency uses, so the logits printed can be compared.
Defaults match derm-classify (fp32, NCHW, cuDNN benchmark off). Prints one JSON
object: median_ms, p90_ms, mean_ms, min_ms, images_per_second, device, dtype,
logits. Runs on PyTorch 1.13 (Debian, CPU) and 2.x (CUDA).
"""
import argparse
import json
import math
import time

import torch
import torchvision

import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))  # derm_reference
from derm_reference import build_network, forward, read_safetensors

def fixed_input(batch, size):
    """The pattern of derm_bench_forward_latency: values in [-1, 1)."""
    x = torch.arange(3 * size * size, dtype=torch.float32).remainder(251.0).div(125.0).sub(1.0)
    return x.reshape(1, 3, size, size).expand(batch, 3, size, size).contiguous()


def percentile(sorted_values, p):
    """Nearest rank, as the C++ side."""
    rank = math.ceil(p / 100.0 * len(sorted_values))
    return sorted_values[min(len(sorted_values) - 1, max(rank, 1) - 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=0, help="input side (0: the model's input size)")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (default fp32)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--cudnn-benchmark", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: library default)")
    args = parser.parse_args()
    if args.iterations < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--iterations and --batch must be >= 1, --warmup >= 0")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = args.cudnn_benchmark

    tensors, metadata = read_safetensors(args.model)
    meta = json.loads(metadata["derm"])
    net = build_network(meta["architecture"])
    net.load_state_dict(tensors, strict=True)
    net.eval().to(device)
    size = args.size or meta["preprocessing"]["input_size"]
    x = fixed_input(args.batch, size).to(device)
    if args.channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    times = []
    with torch.inference_mode(), torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.bf16):
        for _ in range(args.warmup):
            logits = forward(net, x)
        sync()
        for _ in range(args.iterations):
            sync()
            start = time.perf_counter()
            logits = forward(net, x)
            sync()
            times.append((time.perf_counter() - start) * 1000.0)
        first = logits[0].float().cpu().tolist()
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    print(json.dumps({
        "tool": "pytorch_latency_baseline.py",
        "implementation": "PyTorch eager + torchvision inception_v3",
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "model": args.model,
        "device": str(device),
        "dtype": "bf16-autocast" if args.bf16 else "fp32",
        "channels_last": args.channels_last,
        "cudnn_benchmark": cuda and args.cudnn_benchmark,
        "threads": 0 if cuda else torch.get_num_threads(),
        "size": size,
        "batch": args.batch,
        "warmup": args.warmup,
        "iterations": args.iterations,
        "median_ms": median,
        "p90_ms": percentile(times, 90),
        "mean_ms": sum(times) / n,
        "min_ms": times[0],
        "max_ms": times[-1],
        "images_per_second": 1000.0 * args.batch / median,
        "logits": first,
    }))


if __name__ == "__main__":
    main()
