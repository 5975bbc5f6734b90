#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds and runs a consumer
# project (tests/package/consumer) that finds it with find_package(derm).
# Usage: find_package_test.sh BUILD_DIR SOURCE_DIR GENERATOR BUILD_TYPE
set -euo pipefail
build=$1 source=$2 generator=$3 build_type=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
for installed in include/derm/version.hpp include/derm/infer/classifier.hpp lib/cmake/derm/dermConfig.cmake \
                 lib/cmake/derm/dermConfigVersion.cmake lib/cmake/derm/dermTargets.cmake bin/derm-classify; do
  [[ -e $work/prefix/$installed ]] || { echo "not installed: $installed" >&2; exit 1; }
done
"$work/prefix/bin/derm-model" create "$work/model.safetensors" --input-size 96 --backbone-size 96 2>/dev/null
cmake -S "$source/tests/package/consumer" -B "$work/consumer" -G "$generator" -DCMAKE_BUILD_TYPE="$build_type" \
      -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" || { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$work/consumer" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
"$work/consumer/classify_synthetic" "$work/model.safetensors"
