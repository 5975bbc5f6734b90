#!/usr/bin/env python3
"""derm-serve on the CPU against one derm-classify process per image.

    bench/serve_bench.py [--build DIR] [--threads 2] [--concurrency 1,4,16]
                         [--image SRC] [--out bench/results/serve_cpu.json]

1. derm_bench_make_model writes a 700x700 model (learned-resizer stem to 299,
   3 classes, BatchNorm-calibrated random weights) and a 700x700 PNG of a real
   lesion ($DERM_DATA_DIR/isic-fullres-sample, else a synthetic one).
2. derm-serve loads it once; at each concurrency C, C clients send the image
   (HTTP keep-alive) until REQUESTS(C) answers came; requests/s and the p50/p99
   latency of a request are measured, then again with ?heatmap=predicted (the
   Grad-CAM overlay's extra cost).
3. The baseline: C derm-classify processes at a time, one per image (process
   start, model load and classification), until BASELINE(C) images were
   classified; images/s and the p50/p99 time of one.
Prints a table with the ratios (server / baseline requests per second) and writes
--out with the machine and versions. Standard library only.
"""
import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(latencies, wall, statuses):
    return {"requests": len(latencies), "seconds": round(wall, 3), "per_second": round(len(latencies) / wall, 3),
            "p50_ms": round(1000 * percentile(latencies, 0.5), 1), "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
            "statuses": statuses}


def load(port, body, concurrency, total, path):
    latencies, statuses, lock = [], {}, threading.Lock()
    counter = iter(range(total))

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            start = time.perf_counter()
            connection.request("POST", path, body, {"Content-Type": "image/png"})
            response = connection.getresponse()
            response.read()
            with lock:
                latencies.append(time.perf_counter() - start)
                statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary(latencies, time.perf_counter() - start, statuses)


def baseline(classify, model, image, concurrency, total, threads):
    latencies, lock = [], threading.Lock()
    counter = iter(range(total))
    command = [str(classify), "--model", str(model), "--device", "cpu", "--threads", str(threads), "--quiet",
               "--json", str(image)]

    def worker():
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            with lock:
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(concurrency)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return summary(latencies, time.perf_counter() - start, {"0": len(latencies)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--threads", type=int, default=2, help="network threads of the server and of each process")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--image", default="")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "serve_cpu.json"))
    args = parser.parse_args()
    build = Path(args.build)
    serve, classify = build / "apps/derm-serve/derm-serve", build / "apps/derm-classify/derm-classify"
    make_model = build / "bench/derm_bench_make_model"
    for exe in (serve, classify, make_model):
        if not exe.exists():
            sys.exit(f"serve_bench.py: {exe} missing; build derm-serve, derm-classify and derm_bench_make_model")
    data = Path(os.environ.get("DERM_DATA_DIR", ROOT.parent / "shared" / "data"))
    source = args.image or next(iter(sorted((data / "isic-fullres-sample" / "images").glob("*.jpg"))), "")
    levels = [int(c) for c in args.concurrency.split(",")]
    load_at_start = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, image = tmp / "model.safetensors", tmp / "lesion.png"
        subprocess.run([str(make_model), str(model), "--input-size", "700", "--backbone-size", "299",
                        "--image", str(source), "--image-out", str(image)], check=True, capture_output=True)
        body = image.read_bytes()
        server = subprocess.Popen([str(serve), "--model", str(model), "--port", "0", "--device", "cpu", "--threads",
                                   str(args.threads), "--max-batch", "8", "--max-wait-ms", "10", "--quiet"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = json.loads(server.stdout.readline())["port"]
            while True:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    connection.request("GET", "/readyz")
                    if connection.getresponse().status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            results = []
            for c in levels:
                requests = max(12, 4 * c)
                print(f"== concurrency {c}: derm-serve, {requests} requests", file=sys.stderr)
                served = load(port, body, c, requests, "/v1/classify")
                heatmaps = load(port, body, c, requests, "/v1/classify?heatmap=predicted")
                count = max(4, c)
                print(f"== concurrency {c}: derm-classify, {count} processes", file=sys.stderr)
                processes = baseline(classify, model, image, c, count, args.threads)
                results.append({"concurrency": c, "derm_serve": served, "derm_serve_heatmap": heatmaps,
                                "derm_classify_per_image": processes,
                                "ratio": round(served["per_second"] / processes["per_second"], 2),
                                "heatmap_extra_p50_ms": round(heatmaps["p50_ms"] - served["p50_ms"], 1)})
        finally:
            server.terminate()
            server.wait(timeout=120)

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    report = {"benchmark": "derm-serve against one derm-classify process per image, 700x700 PNG, CPU",
              "machine": {"cpu": cpu, "cores": os.cpu_count(), "threads": args.threads, "system": platform.platform()},
              "load_average_at_start": load_at_start, "model": "700->299 stem, 3 classes, random calibrated weights",
              "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(json.dumps(report, indent=2) + "\n")
    temporary.replace(out)
    print(f"{'C':>3} {'serve req/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'classify img/s':>15} {'p50 ms':>8} "
          f"{'ratio':>6} {'heatmap +ms':>12}")
    for r in results:
        s, b = r["derm_serve"], r["derm_classify_per_image"]
        print(f"{r['concurrency']:>3} {s['per_second']:>12} {s['p50_ms']:>8} {s['p99_ms']:>8} {b['per_second']:>15} "
              f"{b['p50_ms']:>8} {r['ratio']:>6} {r['heatmap_extra_p50_ms']:>12}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
