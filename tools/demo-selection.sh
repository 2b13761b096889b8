#!/usr/bin/env bash
# Reproduces how the demo's settings were chosen (docs/demo-study.md): each candidate runs the
# whole study (annotation-free PLaD, PLaD with teacher-preferred pairs, SeqKD) evaluated on the
# demo's validation split, never on its test split, and prints one line per method. The demo's
# defaults (core/plad/democonfig.cpp) are the candidate whose annotation-free PLaD won most.
# Needs a Release build (bash tools/bootstrap.sh build). About 7 minutes per candidate on 2 cores.
#   bash tools/demo-selection.sh [OUT_DIR]   (default: runs/demo-selection)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
plad=build/release/app/plad
out="${1:-runs/demo-selection}"
threads="${PLAD_THREADS:-$(nproc)}"
mkdir -p "$out"

# name | extra arguments to plad demo
candidates=(
  "sampled-student|--set pairs.student.greedy=false --set pairs.student.temperature=0.8"
  "greedy-student|"
  "sampled-student-own-pairs|--set pairs.student.greedy=false --set pairs.student.temperature=0.8 --set labeling.student_pairs=true"
)
for entry in "${candidates[@]}"; do
  name="${entry%%|*}"
  args="${entry#*|}"
  if [ ! -s "$out/$name.json" ]; then
    rm -rf "$out/$name"
    # shellcheck disable=SC2086
    PLAD_HEADLESS=1 "$plad" --threads "$threads" demo --workspace "$out/$name" --evaluate-on validation --json $args \
      > "$out/$name.json.part" 2> "$out/$name.log"
    mv "$out/$name.json.part" "$out/$name.json"
  fi
  python3 - "$name" "$out/$name.json" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
for m in doc["methods"]:
    print(f"{name:16} {m['name']:26} win {100*m['win_rate']:5.1f}% [{100*m['ci'][0]:.1f}, {100*m['ci'][1]:.1f}]"
          f"  ROUGE-L {m['rouge_l']:.4f} (initial {m['initial_rouge_l']:.4f})"
          f"  seq ECE {m['sequence_ece'][0]:.3f} -> {m['sequence_ece'][1]:.3f}"
          f"  rerank {100*m['rerank_win_rate'][0]:.1f}% -> {100*m['rerank_win_rate'][1]:.1f}%"
          f" (change CI {100*m['rerank_win_rate_change']['ci'][0]:+.1f}, {100*m['rerank_win_rate_change']['ci'][1]:+.1f})"
          f"  seq ECE change CI [{m['sequence_ece_change']['ci'][0]:+.3f}, {m['sequence_ece_change']['ci'][1]:+.3f}]  {m['seconds']:.0f} s")
q = doc.get("pair_quality", {})
for p in q.get("policies", []):
    print(f"{name:16}   pair quality {p.get('policy', '?'):26} {p}")
PY
done
