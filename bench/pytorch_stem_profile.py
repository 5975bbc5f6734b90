#!/usr/bin/env python3
"""The learned-resizer stem on a device, its resize done two ways.

    python3 bench/pytorch_stem_profile.py [--device cuda] [--size 700] [--backbone-size 299]
        [--batch 64] [--iterations 20] [--warmup 5] [--fp32] [--no-channels-last] [--threads N]
        [--profile-steps K]

derm's stem (derm_reference.LearnedResizer) as PyTorch runs it (F.interpolate,
antialias) and with derm's other forms of the resize, which derm takes on CUDA
where they time faster: two matrix products with PyTorch's own weights, in
NCHW or in channels-last memory (src/model/antialiased_resize.cpp; here
the matrices are read off F.interpolate applied to an identity, and the
products run in the input's precision whatever autocast says, as there).
All stems hold the same weights (conv_out random, so both paths count).
"matrices_channels_last_wide" is derm's fourth form: the heights as in
channels-last, then the widths as one wide GEMM after a transposing copy.
What-if forms, not derm's, each over the channels-last matrices and each the
same function (up to rounding), to tell the next change to derm's stem:
  normalised_after_resize  BatchNorm's statistics taken at full resolution and
                           its affine applied after the resize, at the
                           backbone's size (the resize is linear and each of
                           its rows sums to 1);
  padded_input_4, _8       conv1 reads the input padded with zero channels to 4
                           or 8 (its weights with zeros): cuDNN has first-layer
                           kernels for 4 channels, tensor cores want 8; the
                           pad's own pass is counted;
  pointwise_as_matmul      conv2 (1x1) as one matrix product over the
                           channels-last pixels (F.linear) instead of cuDNN;
  all_what_ifs             BatchNorm after, input padded to 4, 1x1 as matmul.

Medians of --iterations device-synchronised runs after --warmup:
  train_ms  forward + backward of the stem at --batch (bf16 autocast and
            channels_last on CUDA unless turned off), as in derm-train
  infer_ms  forward at batch 1, fp32, eval, inference_mode: derm-classify's
and the largest relative differences of the stems' outputs from interpolate's
(fp32; in eval mode, and in training mode with batch statistics). With
--profile-steps K, K more training passes of each form run under torch.profiler
and "top_ops" lists the operators with the most device time per pass.
Prints one JSON object. Runs on PyTorch 1.13 (Debian, CPU: use --fp32) and 2.x.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

import torch_profile
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))  # derm_reference
from derm_reference import LearnedResizer


def resize_matrix(in_size, out_size):
    """out x in: row o holds the weights interpolate(antialias) gives output o along one axis."""
    eye = torch.eye(in_size, dtype=torch.float32).view(1, 1, in_size, in_size)
    widths = F.interpolate(eye, size=(in_size, out_size), mode="bilinear", align_corners=False, antialias=True)
    return widths[0, 0].t().contiguous()


class MatrixStem(LearnedResizer):
    """The stem with the resize as matrix products (derm's resize_by_matrices)."""

    def __init__(self, input_size, output_size, device):
        super().__init__(output_size)
        self.register_buffer("cols", resize_matrix(input_size, output_size).to(device), persistent=False)
        self.register_buffer("rows", resize_matrix(input_size, output_size).to(device), persistent=False)

    def resize(self, x):
        with torch.autocast(device_type=x.device.type, enabled=False):
            widths_done = torch.matmul(x.contiguous(), self.cols.to(x.dtype).t())
            return torch.matmul(widths_done.transpose(2, 3), self.rows.to(x.dtype).t()).transpose(2, 3).contiguous()


class ChannelsLastMatrixStem(MatrixStem):
    """The same in channels-last memory (derm's resize_by_matrices_channels_last)."""

    def heights(self, x):
        """N x out_h x (W C): the heights done, one GEMM per image over all its columns and channels."""
        n, c, h, w = x.shape
        nhwc = x.permute(0, 2, 3, 1).contiguous()
        return torch.matmul(self.rows.to(x.dtype), nhwc.view(n, h, w * c))

    def resize(self, x):
        n, c, h, w = x.shape
        out_h, out_w = self.rows.shape[0], self.cols.shape[0]
        with torch.autocast(device_type=x.device.type, enabled=False):
            both_done = torch.matmul(self.cols.to(x.dtype), self.heights(x).view(n * out_h, w, c))
            return both_done.view(n, out_h, out_w, c).permute(0, 3, 1, 2)


class WideChannelsLastMatrixStem(ChannelsLastMatrixStem):
    """The widths as one wide GEMM (derm's resize_by_matrices_channels_last_wide)."""

    def resize(self, x):
        n, c, h, w = x.shape
        out_h, out_w = self.rows.shape[0], self.cols.shape[0]
        with torch.autocast(device_type=x.device.type, enabled=False):
            widths_first = self.heights(x).view(n * out_h, w, c).transpose(0, 1).contiguous()
            both_done = torch.mm(self.cols.to(x.dtype), widths_first.view(w, n * out_h * c))
            return both_done.view(out_w, n, out_h, c).permute(1, 3, 2, 0).contiguous(memory_format=torch.channels_last)


class WhatIfStem(ChannelsLastMatrixStem):
    """The channels-last stem with some of the what-ifs of the module's docstring."""

    def __init__(self, input_size, output_size, device, padded_input=0, pointwise_as_matmul=False,
                 normalised_after_resize=False):
        super().__init__(input_size, output_size, device)
        self.padded_input = padded_input
        self.pointwise_as_matmul = pointwise_as_matmul
        self.normalised_after_resize = normalised_after_resize

    def first_convolution(self, x):
        if not self.padded_input:
            return self.conv1(x)
        pad = self.padded_input - x.shape[1]
        padded = F.pad(x, (0, 0, 0, 0, 0, pad)).contiguous(memory_format=torch.channels_last)
        weight = torch.cat([self.conv1.weight, self.conv1.weight.new_zeros(self.conv1.out_channels, pad, 3, 3)], 1)
        return F.conv2d(padded, weight, self.conv1.bias, padding=1)

    def pointwise_convolution(self, x):
        if not self.pointwise_as_matmul:
            return self.conv2(x)
        weight = self.conv2.weight.view(self.conv2.out_channels, self.conv2.in_channels)
        return F.linear(x.permute(0, 2, 3, 1), weight, self.conv2.bias).permute(0, 3, 1, 2)

    def forward(self, x):
        features = F.leaky_relu(self.pointwise_convolution(F.leaky_relu(self.first_convolution(x), 0.2)), 0.2)
        if not self.normalised_after_resize:
            return self.resize(x) + self.conv_out(self.resize(self.bn(features)))
        if self.training:
            var, mean = torch.var_mean(features, dim=(0, 2, 3), unbiased=False)
            with torch.no_grad():
                count = features.numel() // features.shape[1]
                self.bn.running_mean.lerp_(mean.float(), self.bn.momentum)
                self.bn.running_var.lerp_(var.float() * count / (count - 1), self.bn.momentum)
        else:
            mean, var = self.bn.running_mean, self.bn.running_var
        scale = self.bn.weight / torch.sqrt(var.float() + self.bn.eps)
        shift = self.bn.bias - mean.float() * scale
        resized = self.resize(features)
        normalised = resized * scale.view(1, -1, 1, 1).to(resized.dtype) + shift.view(1, -1, 1, 1).to(resized.dtype)
        return self.resize(x) + self.conv_out(normalised)


def median_ms(run, iterations, warmup, sync):
    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=700, help="input side")
    parser.add_argument("--backbone-size", type=int, default=299, help="side the stem resizes to")
    parser.add_argument("--batch", type=int, default=64, help="training batch")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast in the training pass")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: library default)")
    parser.add_argument("--profile-steps", type=int, default=0, help="training passes profiled per form")
    parser.add_argument("--top", type=int, default=12, help="operators listed per form with --profile-steps")
    args = parser.parse_args()
    if args.batch < 2 or args.iterations < 1 or args.warmup < 0 or args.profile_steps < 0 \
            or args.size == args.backbone_size:
        parser.error("--batch must be >= 2, --iterations >= 1, --warmup and --profile-steps >= 0, "
                     "--size != --backbone-size")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = True  # as derm-train
    memory_format = torch.contiguous_format if args.no_channels_last else torch.channels_last

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    reference = LearnedResizer(args.backbone_size)
    torch.nn.init.normal_(reference.conv_out.weight, std=0.1)
    stems = {"interpolate": reference, "matrices": MatrixStem(args.size, args.backbone_size, "cpu"),
             "matrices_channels_last": ChannelsLastMatrixStem(args.size, args.backbone_size, "cpu"),
             "matrices_channels_last_wide": WideChannelsLastMatrixStem(args.size, args.backbone_size, "cpu")}
    what_ifs = {"normalised_after_resize": {"normalised_after_resize": True}, "padded_input_4": {"padded_input": 4},
                "padded_input_8": {"padded_input": 8},
                "pointwise_as_matmul": {"pointwise_as_matmul": True},
                "all_what_ifs": {"normalised_after_resize": True, "padded_input": 4, "pointwise_as_matmul": True}}
    for name, flags in what_ifs.items():
        stems[name] = WhatIfStem(args.size, args.backbone_size, "cpu", **flags)
    others = [name for name in stems if name != "interpolate"]
    for name in others:
        stems[name].load_state_dict(reference.state_dict())
    for stem in stems.values():
        stem.to(device=device, memory_format=memory_format)

    def max_rel_diffs(x, training):
        with torch.no_grad():
            outputs = {name: stem.train(training)(x) for name, stem in stems.items()}
        scale = outputs["interpolate"].abs().max().item() or 1.0
        return {name: (outputs[name] - outputs["interpolate"]).abs().max().item() / scale for name in others}

    x1 = torch.rand(1, 3, args.size, args.size, device=device)
    eval_diffs = max_rel_diffs(x1, training=False)
    train_diffs = max_rel_diffs(torch.rand(2, 3, args.size, args.size, device=device), training=True)
    for stem in stems.values():  # the training-mode check moved the running statistics
        stem.bn.reset_running_stats()

    batch = torch.rand(args.batch, 3, args.size, args.size, device=device).contiguous(memory_format=memory_format)
    results = {}
    for name, stem in stems.items():
        def train_pass(stem=stem):
            stem.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=not args.fp32):
                out = stem(batch)
            out.float().mean().backward()

        def infer_pass(stem=stem):
            with torch.inference_mode():
                stem(x1)

        stem.train()
        train_ms = median_ms(train_pass, args.iterations, args.warmup, sync)
        results[name] = {"train_ms": train_ms}
        if args.profile_steps:
            results[name]["top_ops"] = torch_profile.top_ops(lambda k, run=train_pass: run(), range(args.profile_steps),
                                                             sync, cuda, args.top)
        stem.eval()
        results[name]["infer_ms"] = median_ms(infer_pass, args.iterations, args.warmup, sync)

    print(json.dumps({
        "tool": "pytorch_stem_profile.py",
        "torch_version": torch.__version__,
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "device": str(device),
        "size": args.size,
        "backbone_size": args.backbone_size,
        "batch": args.batch,
        "train_dtype": "fp32" if args.fp32 else "bf16-autocast",
        "channels_last": not args.no_channels_last,
        "iterations": args.iterations,
        "warmup": args.warmup,
        "stems": results,
        "speedups": {name: {key: results["interpolate"][key] / results[name][key] for key in ("train_ms", "infer_ms")}
                     for name in others},
        "max_rel_diff_fp32": max(eval_diffs[name] for name in others if name not in what_ifs),
        "what_ifs": list(what_ifs),
        "max_rel_diff_fp32_eval": eval_diffs,
        "max_rel_diff_fp32_train": train_diffs,
        "profile_steps": args.profile_steps,
        "threads": 0 if cuda else torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
