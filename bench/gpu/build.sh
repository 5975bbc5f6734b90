# Sourced (from the project root) by run_all.sh and device_session.sh:
#   derm_gpu_build BUILD_DIR
# unpacks .devkit.tar.xz when needed and sources its env.sh (the built tools
# need its LD_LIBRARY_PATH at run time too, hence sourced, not run), then builds
# into BUILD_DIR (Release), logging to BUILD_DIR/build.log:
#   - the tools and benchmarks the GPU scripts run (required). Should the
#     configuration with tests or the CUDA graph code fail there, they are built
#     again without the tests, then with -DDERM_CUDA_GRAPHS=OFF, so that the
#     session still runs;
#   - model_tests and train_tests, whose CUDA tests the session runs (optional: a failure is logged).
# On failure of the required part it prints the first errors and returns 1.
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
  # FindJPEG does not look into the kit: name its libjpeg (headers added by
  # bench/gpu/add_jpeg_headers_to_kit.sh).
  local jpeg=()
  if [[ -f .devkit/env.sh ]]; then
    if [[ ! -f .devkit/include/jpeglib.h ]]; then
      echo "build.sh: the kit has no libjpeg headers: run bench/gpu/add_jpeg_headers_to_kit.sh before the call" >&2
      return 1
    fi
    jpeg=(-DJPEG_INCLUDE_DIR="$PWD/.devkit/include" -DJPEG_LIBRARY="$PWD/.devkit/lib/libjpeg.so.62")
  fi
  local tools=(derm-prep derm-train derm-model derm-eval derm-classify derm_bench_forward_latency
               derm_bench_tensor_augment)
  # attempt TESTS GRAPHS: 0 built, 1 the configuration failed, 2 the build failed.
  attempt() {
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDERM_BUILD_TESTS="$1" -DDERM_BUILD_BENCH=ON \
      -DDERM_CUDA_GRAPHS="$2" "${jpeg[@]}" >>"$build/build.log" 2>&1 || return 1
    cmake --build "$build" -j "$(nproc)" --target "${tools[@]}" >>"$build/build.log" 2>&1 || return 2
  }
  # With tests and CUDA graphs; should the tests' configuration fail there,
  # without the tests; should the build fail, without the graphs.
  local tests=ON graphs=ON rc
  while true; do
    attempt "$tests" "$graphs"
    rc=$?
    ((rc == 0)) && break
    echo "build.sh: the build with tests $tests, CUDA graphs $graphs failed; first errors:" >&2
    grep -m 20 -B 2 -A 8 'error' "$build/build.log" >&2 || tail -n 60 "$build/build.log" >&2
    if ((rc == 1)) && [[ $tests == ON ]]; then
      tests=OFF
    elif [[ $graphs == ON ]]; then
      graphs=OFF
    else
      echo "build.sh: the build failed (log: $build/build.log)" >&2
      return 1
    fi
  done
  [[ $graphs == OFF ]] && echo "build.sh: WARNING: built WITHOUT CUDA graphs (see $build/build.log)" >&2
  if [[ $tests == OFF ]]; then
    echo "build.sh: WARNING: built without the tests (see $build/build.log)" >&2
  elif ! cmake --build "$build" -j "$(nproc)" --target model_tests train_tests >>"$build/build.log" 2>&1; then
    echo "build.sh: model_tests or train_tests failed to build (see $build/build.log); the tools are built" >&2
  fi
  return 0
}
