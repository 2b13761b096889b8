#!/usr/bin/env bash
# Reproduces the demo teacher and student shipped in resources/demo/: the teacher is pre-trained
# from scratch on the whole text of the demo task's training examples (objective all_tokens:
# description, template and synopsis) and then fine-tuned on the synopses; the student is
# fine-tuned from scratch. Then the test-split evaluation, the training-curve chart and the
# copies into resources/demo/{teacher,student}. Needs a Release build (bash tools/bootstrap.sh build).
# Every stage checkpoints every 50 steps; running the script again resumes where it stopped
# (a finished stage is skipped). On 2 cores the teacher's pre-training takes about an hour,
# its fine-tuning about 15 minutes, the student about 10.
#   bash tools/train-demo-models.sh [train|ship]   (default: both)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
plad=build/release/app/plad
threads="${PLAD_THREADS:-$(nproc)}"
step="${1:-all}"
demo=resources/demo

if [ "$step" = all ] || [ "$step" = train ]; then
  for stage in teacher-pretrain teacher-sft student-sft; do
    run="runs/demo-$stage"
    if [ -f "$run/model/model.safetensors" ]; then
      echo "== $stage: done ($run/model)"
      continue
    fi
    resume=()
    [ -d "$run/checkpoint" ] && resume=(--resume)
    echo "== $stage ${resume[*]}"
    "$plad" --threads "$threads" sft --config "$demo/configs/$stage.json" "${resume[@]}"
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
  cp runs/demo-teacher-pretrain/metrics.jsonl "$demo/training/teacher-pretrain-metrics.jsonl"
  python3 tools/plot_training_curves.py --out "$demo/training/curves.svg" \
    teacher-pretrain="$demo/training/teacher-pretrain-metrics.jsonl" \
    teacher="$demo/training/teacher-metrics.jsonl" student="$demo/training/student-metrics.jsonl"
  echo "== greedy decoding on the test split: teacher against student"
  mkdir -p "$demo/evaluation"
  "$plad" --threads "$threads" eval "$demo/teacher" --against "$demo/student" \
    --data "$demo/data/test.jsonl.lz4" --response-field reference --id-field id \
    --out "$demo/evaluation/test-greedy.json" --outputs "$demo/evaluation/test-greedy-outputs.jsonl"
fi
