#!/usr/bin/env python3
"""Baseline of derm-train's training step: the same network and step in PyTorch eager.

    python3 bench/pytorch_train_baseline.py [--device cuda] [--size 700] [--backbone-size 299]
        [--batch 64] [--warmup 30] [--steps 30] [--classes 2] [--pool 128] [--no-aux]
        [--fp32] [--no-channels-last] [--threads N] [--profile-steps K]

torchvision's inception_v3 (weights=None, init_weights=False, transform_input
off as derm-train from scratch) plus a module identical to derm's
learned-resizer stem when --size != --backbone-size; the auxiliary classifier as
derm-train uses it (on when the backbone is >= 299, unless --no-aux). The step
is derm-train's: inputs normalised with ImageNet mean/std, channels_last and
bf16 autocast (CUDA; --fp32 and --no-channels-last turn them off), cross-entropy
with label smoothing 0.1 (+ 0.4 x the auxiliary loss), AdamW (lr 1e-3, weight
decay 0.01, PyTorch's defaults otherwise) with derm's warm-up + cosine learning
rate set every step, cuDNN benchmark on. The images come from a pool of random
uint8 images already on the device (index_select of a random batch, as
derm-train's --data-on device path starts), so the baseline is not input-bound;
unlike derm-train it does no augmentation and never reads the loss back inside
the timed loop (only after it), which can only favour the baseline.

--warmup untimed steps, then --steps timed steps between two device
synchronisations. Prints one JSON object with images_per_second. With
--profile-steps K, K more steps then run under torch.profiler and "top_ops" lists
the operators that took the most device time (CPU time on a CPU) per step: where
the step's time goes, for both implementations (derm-train calls the same ATen
operators). Runs on PyTorch 1.13 (Debian, CPU: use --fp32) and 2.x (CUDA).
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))  # derm_reference
from derm_reference import LearnedResizer
import torch_profile

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class Network(nn.Module):
    """The stem (when any), then torchvision's inception_v3; (logits, aux_logits or None)."""

    def __init__(self, size, backbone_size, num_classes, aux_logits, dropout=0.5):
        super().__init__()
        self.stem = LearnedResizer(backbone_size) if size != backbone_size else None
        self.net = torchvision.models.inception_v3(weights=None, aux_logits=aux_logits, transform_input=False,
                                                   init_weights=False, num_classes=num_classes, dropout=dropout)
        # derm-train from scratch: He initialisation for the backbone's convolutions, small heads.
        for name, module in self.net.named_modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        heads = [self.net.fc] + ([self.net.AuxLogits.fc] if aux_logits else [])
        for head in heads:
            nn.init.normal_(head.weight, 0.0, 0.01)
            nn.init.zeros_(head.bias)

    def forward(self, x):
        if self.stem is not None:
            x = self.stem(x)
        x, aux = self.net._forward(x)  # training mode: aux logits when the head exists
        return x, aux


def learning_rate(peak, step, warmup_steps, total_steps):
    """derm-train's schedule: linear warm-up, then cosine decay to zero."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(1.0, progress)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=700, help="input side")
    parser.add_argument("--backbone-size", type=int, default=299, help="side the stem resizes to")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=30, help="untimed steps first (cuDNN autotuning)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--pool", type=int, default=128, help="random uint8 images held on the device")
    parser.add_argument("--no-aux", action="store_true", help="no auxiliary classifier")
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--aux-weight", type=float, default=0.4)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: library default)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile-steps", type=int, default=0, help="steps profiled after the timed ones")
    parser.add_argument("--top", type=int, default=25, help="operators listed with --profile-steps")
    args = parser.parse_args()
    if args.batch < 2 or args.steps < 1 or args.warmup < 0 or args.pool < 1 or args.profile_steps < 0:
        parser.error("--batch must be >= 2, --steps and --pool >= 1, --warmup and --profile-steps >= 0")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    # derm-train's CUDA settings: cuDNN benchmark; bf16 autocast and channels_last unless turned off.
    torch.backends.cudnn.benchmark = True
    bf16 = not args.fp32
    channels_last = not args.no_channels_last
    aux = not args.no_aux and args.backbone_size >= 299

    model = Network(args.size, args.backbone_size, args.classes, aux).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)

    generator = torch.Generator(device="cpu").manual_seed(args.seed)
    pool = torch.randint(0, 256, (args.pool, 3, args.size, args.size), dtype=torch.uint8, generator=generator)
    pool = pool.to(device)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    total = args.warmup + args.steps + args.profile_steps
    # Batch indices and labels drawn up front (derm-train draws its order on the host, too).
    indices = torch.randint(0, args.pool, (total, args.batch), generator=generator).to(device)
    labels = torch.randint(0, args.classes, (total, args.batch), generator=generator).to(device)

    def step(k):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(args.lr, k, args.steps, total)
        x = pool.index_select(0, indices[k]).float().div_(255.0).sub_(mean).div_(std)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = labels[k]
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            logits, aux_logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=args.label_smoothing)
            if aux_logits is not None and args.aux_weight > 0:
                loss = loss + args.aux_weight * F.cross_entropy(aux_logits.float(), y,
                                                                label_smoothing=args.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    for k in range(args.warmup):
        step(k)
    sync()
    losses = []
    start = time.perf_counter()
    for k in range(args.warmup, args.warmup + args.steps):
        losses.append(step(k))
    sync()
    seconds = time.perf_counter() - start
    top_ops = torch_profile.top_ops(step, range(args.warmup + args.steps, total), sync, cuda, args.top) \
        if args.profile_steps else None
    loss_values = torch.stack(losses).float().cpu().tolist()
    if not all(math.isfinite(v) for v in loss_values):
        raise SystemExit(f"pytorch_train_baseline.py: non-finite loss {loss_values}")
    print(json.dumps({
        "tool": "pytorch_train_baseline.py",
        "implementation": "PyTorch eager + torchvision inception_v3",
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "device": str(device),
        "dtype": "bf16-autocast" if bf16 else "fp32",
        "channels_last": channels_last,
        "size": args.size,
        "backbone_size": args.backbone_size,
        "stem": args.size != args.backbone_size,
        "aux_logits": aux,
        "batch": args.batch,
        "warmup_steps": args.warmup,
        "steps": args.steps,
        "seconds": seconds,
        "images_per_second": args.steps * args.batch / seconds,
        "mean_loss": sum(loss_values) / len(loss_values),
        "max_memory_allocated_mib": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
        "threads": 0 if cuda else torch.get_num_threads(),
        "profile_steps": args.profile_steps,
        "top_ops": top_ops,
    }))


if __name__ == "__main__":
    main()
