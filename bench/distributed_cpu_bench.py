#!/usr/bin/env python3
"""derm-train on the CPU: 2 ranks x 1 thread (c10d Gloo on loopback) against
1 rank x 2 threads, the same global batch and steps.

    bench/distributed_cpu_bench.py [--build DIR] [--size 128] [--batch 16]
                                   [--steps 12] [--out bench/results/distributed_cpu.json]

Training images: ISIC 2017's train split ($DERM_DATA_DIR/isic2017, through
derm-prep). Each run trains 2 epochs of --steps steps without validation; the
second epoch's images/s (from train-log.jsonl) is the figure, the first being
warm-up. Runs:
  single   1 process, --threads 2
  ranks    2 processes, --threads 1 each, launched as torchrun would
  compute  2 independent processes at once, --threads 1, each with half the
           batch: a rank's computation under the same load, without communication
The share of communication is 1 - (step time of compute) / (step time of ranks).
Prints a table and writes --out with the machine and versions. Standard library only.
"""
import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def second_epoch(out_dir):
    lines = (Path(out_dir) / "train-log.jsonl").read_text().splitlines()
    return json.loads(lines[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "distributed_cpu.json"))
    args = parser.parse_args()
    tools = Path(args.build) / "apps"
    data = Path(os.environ.get("DERM_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not (data / "isic2017").is_dir():
        sys.exit(f"distributed_cpu_bench: no ISIC 2017 data at {data}/isic2017 (set DERM_DATA_DIR)")

    work = Path(tempfile.mkdtemp(prefix="derm-dist-bench-"))
    manifest = work / "isic2017.csv"
    subprocess.run([tools / "derm-prep" / "derm-prep", "--task", "isic2017", "--isic2017-dir", data / "isic2017",
                    "--absolute-paths", "--out", manifest, "--quiet"], check=True)

    def command(out, threads, batch):
        return [str(tools / "derm-train" / "derm-train"), "--manifest", str(manifest), "--out", str(out),
                "--input-size", str(args.size), "--backbone-size", str(args.size), "--batch-size", str(batch),
                "--steps-per-epoch", str(args.steps), "--epochs", "2", "--ensemble", "1", "--val-split", "",
                "--device", "cpu", "--threads", str(threads), "-j", "1", "--quiet"]

    def run_all(commands, envs):
        processes = [subprocess.Popen(c, env={**os.environ, **e}) for c, e in zip(commands, envs)]
        codes = [p.wait() for p in processes]
        if any(codes):
            sys.exit(f"distributed_cpu_bench: a run failed: {codes}")

    run_all([command(work / "single", 2, args.batch)], [{}])
    port = str(free_port())
    run_all([command(work / "ranks", 1, args.batch)] * 2,
            [{"RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
              "MASTER_PORT": port} for r in range(2)])
    run_all([command(work / f"compute{r}", 1, args.batch // 2) for r in range(2)], [{}, {}])

    single, ranks = second_epoch(work / "single"), second_epoch(work / "ranks")
    compute = [second_epoch(work / f"compute{r}") for r in range(2)]
    step = lambda epoch: epoch["seconds"] / args.steps
    compute_step = max(step(c) for c in compute)
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "platform": platform.platform()},
        "command": "bench/distributed_cpu_bench.py " + " ".join(sys.argv[1:]),
        "setup": {"image_size": args.size, "global_batch": args.batch, "steps": args.steps,
                  "data": "ISIC 2017 train, augmented on the host"},
        "single_1x2_threads": {"images_per_second": round(single["images_per_second"], 2),
                               "step_seconds": round(step(single), 3)},
        "ranks_2x1_thread": {"images_per_second": round(ranks["images_per_second"], 2),
                             "step_seconds": round(step(ranks), 3)},
        "rank_compute_alone": {"step_seconds": round(compute_step, 3)},
        "ranks_vs_single": round(ranks["images_per_second"] / single["images_per_second"], 3),
        "communication_share": round(max(0.0, 1 - compute_step / step(ranks)), 3),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'run':<28}{'images/s':>10}{'s/step':>10}")
    print(f"{'1 rank x 2 threads':<28}{single['images_per_second']:>10.2f}{step(single):>10.3f}")
    print(f"{'2 ranks x 1 thread (Gloo)':<28}{ranks['images_per_second']:>10.2f}{step(ranks):>10.3f}")
    print(f"{'a rank computing alone':<28}{'':>10}{compute_step:>10.3f}")
    print(f"ranks / single: {result['ranks_vs_single']:.2f}x; communication: {100 * result['communication_share']:.0f}% "
          f"of a rank's step; written to {args.out}")


if __name__ == "__main__":
    main()
