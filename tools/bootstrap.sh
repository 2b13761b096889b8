#!/usr/bin/env bash
# Sets up a Debian 12 machine for PLaD Workbench, builds it (Release), then runs one job:
#   bash tools/bootstrap.sh demo   install, build, run the demo
#   bash tools/bootstrap.sh test   install, build, run the whole test suite
#   bash tools/bootstrap.sh bench  install (with python3-torch), build, run the benchmarks
#   bash tools/bootstrap.sh build  install and build only
# Safe to run again: packages already present are not reinstalled and the build is incremental.
set -euo pipefail

mode="${1:-demo}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Wall time of each stage, printed as it ends and summed at the end.
started=$SECONDS
stage_started=$SECONDS
stage() {
  local now=$SECONDS
  if [ -n "${stage_name:-}" ]; then
    printf '== %s took %d min %02d s\n' "$stage_name" $(((now - stage_started) / 60)) $(((now - stage_started) % 60))
  fi
  stage_name="$1"
  stage_started=$now
  [ -n "$1" ] && echo "== $1"
  return 0
}
finish() {
  stage ""
  local total=$((SECONDS - started))
  printf '== bootstrap %s: %d min %02d s in all\n' "$mode" $((total / 60)) $((total % 60))
}

# Why each package is needed is written in README.md ("Dependencies").
packages=(
  g++ cmake ninja-build ccache pkg-config dpkg-dev
  qt6-base-dev libgl1-mesa-dev libqcustomplot-dev
  libtorch-dev libgloo-dev libopenblas0-openmp libblas-dev
  nlohmann-json3-dev libcli11-dev libsqlite3-dev libcpp-httplib-dev libpcre2-dev libicu-dev liblz4-dev
  libzstd-dev zlib1g-dev
  xvfb xauth curl
)
# The SFT and generation benchmarks run the same work in plain PyTorch (Debian's build of the same Torch version).
if [ "$mode" = bench ]; then packages+=(python3-torch); fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  stage "installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# BLAS: the machine's libblas.so.3 is chosen by Debian's alternatives, for every program on it.
# This script does not change that. PLaD's programs are built with a run path to Debian's OpenBLAS
# OpenMP build (libopenblas0-openmp, installed above), so they load it whatever the machine's
# setting is: reference BLAS is ~20x slower here, and OpenBLAS's pthread build fights Torch's
# OpenMP pool. `plad --version` says which BLAS a program runs with.
arch_dir="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
system_blas="$(readlink -f "$arch_dir/libblas.so.3" 2>/dev/null || echo none)"
if [ -e "$arch_dir/openblas-openmp/libblas.so.3" ]; then
  echo "== BLAS: the machine's libblas.so.3 is $system_blas (left as it is); PLaD's programs load $arch_dir/openblas-openmp/libblas.so.3"
else
  echo "== BLAS: $arch_dir/openblas-openmp is missing; PLaD's programs will use the machine's libblas.so.3 ($system_blas)"
fi

stage "building (Release)"
cmake --preset release >/dev/null
if [ "$mode" = demo ]; then
  cmake --build --preset release --target plad plad-workbench
elif [ "$mode" = bench ]; then
  cmake --build --preset release --target plad
else
  cmake --build --preset release
fi

case "$mode" in
  demo)
    plad=build/release/app/plad
    rm -rf build/demo-workspace
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${PLAD_HEADLESS:-}" ]; then
      # A display: the workbench opens with the demo loaded and its PLaD run going.
      echo "== the workbench, with the demo's PLaD run (PLAD_HEADLESS=1 runs the whole demo on the terminal instead)"
      build/release/app/plad-workbench --threads "$(nproc)" --workspace build/demo-workspace --demo
    else
      stage "the demo study: PLaD with consensus and with teacher-preferred pairs, and SeqKD, on the demo task (resources/demo), evaluated against the initial student"
      "$plad" --threads "$(nproc)" demo --workspace build/demo-workspace
    fi
    finish
    ;;
  test)
    stage "tests (Release)"
    release_status=0
    ctest --preset release || release_status=$?
    if [ "${PLAD_SKIP_SANITIZERS:-0}" != 1 ]; then
      stage "building the core unit tests with AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer"
      cmake --preset asan >/dev/null
      cmake --build --preset asan --target plad_fast_tests
      stage "core unit tests under the sanitizers"
      ctest --preset asan || release_status=$?
    fi
    finish
    exit "$release_status"
    ;;
  bench)
    plad=build/release/app/plad
    threads="$(nproc)"
    echo "== SFT step: plad beside plain PyTorch ($threads threads)"
    "$plad" --threads "$threads" bench sft
    echo "== generation: plad beside a plain PyTorch-eager generator (demo teacher, GPT-2 small)"
    "$plad" --threads "$threads" bench generate --case demo-teacher
    "$plad" --threads "$threads" bench generate --case demo-teacher --dtype bfloat16 --python none
    "$plad" --threads "$threads" bench generate --case gpt2-small
    echo "== pair generation end to end (the demo's PLaD run, 1,000 prompts)"
    "$plad" --threads "$threads" bench pairs --case demo
    echo "== the workbench's live monitor with 100,000 steps"
    cmake --build --preset release --target plad-monitor-bench >/dev/null
    QT_QPA_PLATFORM=offscreen build/release/tests/plad-monitor-bench 100000
    ;;
  build) ;;
  *)
    echo "usage: bash tools/bootstrap.sh demo|test|bench|build" >&2
    exit 2
    ;;
esac
