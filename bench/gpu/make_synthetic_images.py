#!/usr/bin/env python3
"""Synthetic training images for the throughput benchmark: DIR/melanoma/*.png and DIR/nevus/*.png.

    python3 bench/gpu/make_synthetic_images.py DIR [--count 128] [--side 768] [--seed 1]

Writes --count RGB PNGs of --side x --side pixels of seeded random noise, half
in each class folder, with unique file stems, for `derm-prep --source
folders:DIR`. Python standard library only (zlib + struct), so it runs on any
python3. Noise keeps the images apart for derm-prep's duplicate checks; the
content does not matter for throughput.
"""
import argparse
import os
import random
import struct
import zlib


def write_png(path, side, rgb_rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rgb_rows)  # filter type 0 on every row
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(png)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--count", type=int, default=128)
    parser.add_argument("--side", type=int, default=768)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.count < 4 or args.side < 32:
        parser.error("--count must be >= 4 and --side >= 32")
    rng = random.Random(args.seed)
    row_bytes = 3 * args.side
    for k in range(args.count):
        label, prefix = ("melanoma", "mel") if k % 2 == 0 else ("nevus", "nv")
        folder = os.path.join(args.dir, label)
        os.makedirs(folder, exist_ok=True)
        # Seeded noise: one random row block per image, rows rotated so no two rows repeat exactly.
        block = rng.randbytes(row_bytes * 8) if hasattr(rng, "randbytes") else \
            bytes(rng.getrandbits(8) for _ in range(row_bytes * 8))
        base = rng.getrandbits(32)
        rows = []
        for y in range(args.side):
            r = block[(y % 8) * row_bytes:(y % 8 + 1) * row_bytes]
            shift = (base + 7 * y) % row_bytes
            rows.append(r[shift:] + r[:shift])
        write_png(os.path.join(folder, f"{prefix}_{k:05d}.png"), args.side, rows)
    print(f"make_synthetic_images.py: wrote {args.count} {args.side}x{args.side} PNGs under {args.dir}")


if __name__ == "__main__":
    main()
