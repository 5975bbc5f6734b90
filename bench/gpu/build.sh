# Sourced (from the project root) by run_all.sh and device_session.sh:
#   derm_gpu_build BUILD_DIR
# unpacks .devkit.tar.xz when needed and sources its env.sh (the built tools
# need its LD_LIBRARY_PATH at run time too, hence sourced, not run), then builds
# the tools and benchmark that the GPU scripts run into BUILD_DIR (Release, no
# tests), logging to BUILD_DIR/build.log. On failure it prints the first errors
# and returns 1.
derm_gpu_build() {
  local build=$1
  mkdir -p "$build"
  if [[ -f .devkit.tar.xz && ! -f .devkit/env.sh ]]; then
    tar xJf .devkit.tar.xz || { echo "build.sh: cannot unpack .devkit.tar.xz" >&2; return 1; }
  fi
  if [[ -f .devkit/env.sh ]]; then
    # shellcheck disable=SC1091
    source .devkit/env.sh
  else
    echo "build.sh: no .devkit/env.sh: building against whatever find_package finds" >&2
  fi
  if ! { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDERM_BUILD_TESTS=OFF -DDERM_BUILD_BENCH=ON &&
         cmake --build "$build" -j "$(nproc)" --target derm-prep derm-train derm-model derm-eval derm-classify \
           derm_bench_forward_latency; } >"$build/build.log" 2>&1; then
    grep -m 20 -B 2 -A 8 'error' "$build/build.log" >&2 || tail -n 60 "$build/build.log" >&2
    echo "build.sh: the build failed (log: $build/build.log)" >&2
    return 1
  fi
}
