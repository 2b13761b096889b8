#!/bin/sh
# cli_needs_no_qt: configures the project with Qt hidden from CMake and only the CLI and core
# (what a headless server or cluster node builds), then checks that the plad built by the
# normal build needs no Qt library itself. (Debian's libtorch pulls OpenCV's highgui, which links
# Qt 5; that comes with the Torch package, not from this project.)
set -eu
source_dir="$1"
scratch="$2"
plad="$3"
rm -rf "$scratch"
if ! cmake -S "$source_dir" -B "$scratch" -G Ninja -DCMAKE_DISABLE_FIND_PACKAGE_Qt6=ON -DPLAD_BUILD_GUI=OFF -DPLAD_BUILD_TESTS=OFF \
  >"$scratch.log" 2>&1; then
  cat "$scratch.log"
  echo "cli_needs_no_qt: the project does not configure without Qt" >&2
  exit 1
fi
grep -q "^build app/plad:" "$scratch/build.ninja" || { echo "cli_needs_no_qt: no plad target without Qt" >&2; exit 1; }
if grep -q "Qt6" "$scratch/build.ninja"; then
  echo "cli_needs_no_qt: the headless build still refers to Qt6" >&2
  exit 1
fi
if readelf -d "$plad" | grep -E "NEEDED.*libQt[56]"; then
  echo "cli_needs_no_qt: $plad links Qt itself" >&2
  exit 1
fi
rm -rf "$scratch" "$scratch.log"
echo "cli_needs_no_qt: configures without Qt; $plad needs no Qt library"
