#!/usr/bin/env bash
# Installs what derm needs to build, test and run on Debian 12 (as root or with sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config ca-certificates \
  libtorch-dev libdnnl-dev libgloo-dev libopencv-dev libjpeg-dev \
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libgtest-dev libcpp-httplib-dev \
  python3 python3-torch python3-torchvision python3-numpy python3-pil python3-onnx \
  chromium curl >/dev/null
# The browser test's driver (playwright-core) and the ONNX export test's runtime
# (onnxruntime-node, CPU only: its CUDA download script is skipped), pinned in
# tests/*/package-lock.json, when npm is here.
if command -v npm >/dev/null; then
  npm ci --prefix "$(dirname "$0")/../tests/browser" --no-audit --no-fund >/dev/null
  npm ci --prefix "$(dirname "$0")/../tests/onnx" --ignore-scripts --no-audit --no-fund >/dev/null
fi
