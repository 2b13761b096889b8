#!/usr/bin/env bash
# Pictures of every workbench area in the light and the dark theme, for docs/screenshots/.
# Usage: tools/take_screenshots.sh WORKSPACE [BUILD_DIR]
# WORKSPACE holds the demo's runs (plad demo --workspace WORKSPACE). Each theme is one session
# of the real application under a virtual X server: the demo loaded in Setup, the first run
# open (its pairs, curves and report), three runs compared in Runs, an evaluation of the first
# run against its initial student in Evaluate, and the Playground answering a prompt.
set -euo pipefail
ws=${1:?usage: tools/take_screenshots.sh WORKSPACE [BUILD_DIR]}
build=${2:-build/release}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ws=$(realpath "$ws")
# Sessions of their own: the pictures neither read nor change the user's settings (theme, recent workspaces).
export XDG_CONFIG_HOME
XDG_CONFIG_HOME=$(mktemp -d)
runs=$("$build/app/plad" runs list --workspace "$ws" | grep -o '"id":"[^"]*"' | cut -d'"' -f4 | paste -sd, || true)
[ -n "$runs" ] || { echo "no runs in $ws: run plad demo --workspace $ws first" >&2; exit 1; }
first=$(echo "$runs" | tr ',' '\n' | sort | head -1)
compare=$(echo "$runs" | tr ',' '\n' | sort | tail -3 | paste -sd,)
settings=$(mktemp --suffix=.json)
trap 'rm -rf "$settings" "$XDG_CONFIG_HOME"' EXIT
printf '{"models": ["%s", "initial"], "data": "%s", "reference_field": "reference", "id_field": "id", "limit": 24, "max_new_tokens": 32, "max_prompt_tokens": 224}\n' \
  "$first" "$PWD/resources/demo/data/test.jsonl.lz4" > "$settings"
for theme in light dark; do
  out=docs/screenshots/$theme
  mkdir -p "$out"
  xvfb-run -a -s "-screen 0 1400x900x24" "$build/app/plad-workbench" --theme "$theme" --workspace "$ws" --load-demo \
    --open-run "$first" --compare "$compare" --evaluate "$settings" --screenshots "$out" --screenshot-delay 40
  # The Playground with an answer (the demo's teacher beside its student).
  shots=$(mktemp -d)
  xvfb-run -a -s "-screen 0 1400x900x24" "$build/app/plad-workbench" --theme "$theme" --workspace "$ws" \
    --playground "This package provides a library for reading and writing PNG image files, the format used by most graphics programs on the web." \
    --screenshots "$shots" --screenshot-delay 12
  cp "$shots"/7-playground.png "$out"/
  rm -rf "$shots"
  # The first screen of an empty workspace.
  shots=$(mktemp -d)
  xvfb-run -a -s "-screen 0 1400x900x24" "$build/app/plad-workbench" --theme "$theme" --workspace "$shots/empty-workspace" \
    --screenshots "$shots" --screenshot-delay 3
  cp "$shots"/1-setup.png "$out"/0-start.png
  rm -rf "$shots"
done
echo "screenshots in docs/screenshots/light and docs/screenshots/dark"
