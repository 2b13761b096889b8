#!/usr/bin/env bash
# Reproduces the demo teacher and student shipped in resources/demo/: SFT of both from scratch
# on the demo task, then the test-split evaluation, the training-curve chart and the copies into
# resources/demo/{teacher,student}. Needs a Release build (bash tools/bootstrap.sh build).
# Takes about 1.5 hours on 2 cores (the teacher about 75 minutes, the student about 10).
#   bash tools/train-demo-models.sh [train|ship]   (default: both)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
plad=build/release/app/plad
threads="${PLAD_THREADS:-$(nproc)}"
step="${1:-all}"
demo=resources/demo

if [ "$step" = all ] || [ "$step" = train ]; then
  for model in teacher student; do
    echo "== SFT: $model"
    "$plad" --threads "$threads" sft --config "$demo/configs/$model-sft.json"
  done
fi

if [ "$step" = all ] || [ "$step" = ship ]; then
  for model in teacher student; do
    run="runs/demo-$model-sft"
    mkdir -p "$demo/$model" "$demo/training"
    for f in config.json model.safetensors tokenizer.json tokenizer_config.json prompt_template.json; do
      cp "$run/model/$f" "$demo/$model/$f"
    done
    cp "$run/metrics.jsonl" "$demo/training/$model-metrics.jsonl"
  done
  python3 tools/plot_training_curves.py --out "$demo/training/curves.svg" \
    teacher="$demo/training/teacher-metrics.jsonl" student="$demo/training/student-metrics.jsonl"
  echo "== greedy decoding on the test split: teacher against student"
  mkdir -p "$demo/evaluation"
  "$plad" --threads "$threads" eval "$demo/teacher" --against "$demo/student" \
    --data "$demo/data/test.jsonl.lz4" --response-field reference --id-field id \
    --out "$demo/evaluation/test-greedy.json" --outputs "$demo/evaluation/test-greedy-outputs.jsonl"
fi
