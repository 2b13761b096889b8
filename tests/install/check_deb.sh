#!/usr/bin/env bash
# The Debian package, tried as a user would: cpack builds it from the Release build, apt installs
# it (pulling its dependencies from Debian's archive), and the installed programs run from /usr
# with nothing of the source tree: `plad --version`, the demo (small budgets) on the demo data
# installed beside the program, the workbench's --version and its desktop entry. The package is
# removed afterwards unless it was installed before. Needs root (or sudo) for apt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build/release}" && pwd)" # absolute: apt takes a path only when it has a slash before the name

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
fail() {
  echo "check_deb: FAILED: $*" >&2
  exit 1
}

echo "== packaging ($build)"
(cd "$build" && cpack -G DEB >/dev/null)
deb="$(ls -t "$build"/plad-workbench_*.deb | head -1)"
[ -f "$deb" ] || fail "cpack made no package in $build"
echo "   $(basename "$deb"): $(du -h "$deb" | cut -f1)"

was_installed=0
dpkg-query -W -f='${Status}' plad-workbench 2>/dev/null | grep -q "install ok installed" && was_installed=1

echo "== apt install ./$(basename "$deb")"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >/dev/null

scratch="$(mktemp -d)"
cleanup() {
  cd /
  rm -rf "$scratch"
  if [ "$was_installed" = 0 ]; then as_root apt-get remove -y -q plad-workbench >/dev/null || true; fi
}
trap cleanup EXIT
cd "$scratch"
unset PLAD_DEMO_DIR

[ "$(command -v plad)" = /usr/bin/plad ] || fail "plad is not /usr/bin/plad but $(command -v plad)"
/usr/bin/plad --version | tee "$scratch/version.txt"
grep -q "BLAS: OpenBLAS" "$scratch/version.txt" || fail "the installed plad does not run with OpenBLAS"
readelf -d /usr/bin/plad | grep -q "NEEDED.*libQt6" && fail "the installed plad links Qt"
[ -f /usr/share/plad-workbench/demo/student/model.safetensors ] || fail "the demo's student is not installed"
[ -f /usr/share/applications/plad-workbench.desktop ] || fail "no desktop entry"
[ -f /usr/share/icons/hicolor/scalable/apps/plad-workbench.svg ] || fail "no icon"
QT_QPA_PLATFORM=offscreen /usr/bin/plad-workbench --version | grep -q "PLaD Workbench" || fail "plad-workbench --version"

echo "== the demo, from the installed program and its installed data"
/usr/bin/plad demo --workspace "$scratch/demo" --prompts 48 --steps 8 --test-prompts 16 --eval-prompts 8 --per-prompt 2 \
  >"$scratch/demo.log" 2>&1 || { tail -20 "$scratch/demo.log"; fail "plad demo"; }
grep -q "^PLaD (consensus)" "$scratch/demo.log" || fail "the demo printed no result"
grep -q "/usr/share/plad-workbench/demo" "$scratch/demo/configs/plad-consensus.json" || fail "the demo did not use the installed demo data"
[ -f "$scratch/demo/runs/r0001-plad/report.html" ] || fail "the demo wrote no report"
tail -3 "$scratch/demo.log"
echo "check_deb: the package installs and runs the demo"
