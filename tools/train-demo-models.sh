#!/usr/bin/env bash
# Reproduces the demo teacher and student shipped in resources/demo/: SFT of both from scratch on
# the demo task, then the test-split evaluation, the training-curve chart and the copies into
# resources/demo/{teacher,student}. Needs a Release build (bash tools/bootstrap.sh build).
# Takes about 1.5 hours on 2 cores (the teacher about 75 minutes, the student about 10).
#   bash tools/train-demo-models.sh [train|ship|large]   (default: train and ship)
#
# `large` runs the larger-teacher experiment of resources/demo/README.md instead (not shipped):
# a 12.2M-parameter teacher pre-trained on the whole text of the training examples
# (objective all_tokens: description, template and synopsis; 1,600 steps of 32, about an hour)
# and then fine-tuned on the synopses (300 steps, about 15 minutes), evaluated against the
# student on the test split into runs/demo-teacher-large-eval/.
# Every stage checkpoints every 50 (large) or 500 steps; running the script again resumes the
# stage that stopped (a finished stage is skipped).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
plad=build/release/app/plad
threads="${PLAD_THREADS:-$(nproc)}"
step="${1:-all}"
demo=resources/demo

# Trains the SFT config resources/demo/configs/STAGE.json into runs/demo-STAGE, resuming it.
train_stage() {
  local stage="$1" run="runs/demo-$1"
  if [ -f "$run/model/model.safetensors" ]; then
    echo "== $stage: done ($run/model)"
    return
  fi
  local resume=()
  [ -d "$run/checkpoint" ] && resume=(--resume)
  echo "== $stage ${resume[*]}"
  "$plad" --threads "$threads" sft --config "$demo/configs/$stage.json" "${resume[@]}"
}

if [ "$step" = large ]; then
  train_stage teacher-large-pretrain
  train_stage teacher-large-sft
  mkdir -p runs/demo-teacher-large-eval
  echo "== greedy decoding on the test split: large teacher against student"
  "$plad" --threads "$threads" eval runs/demo-teacher-large-sft/model --against "$demo/student" \
    --data "$demo/data/test.jsonl.lz4" --response-field reference --id-field id \
    --out runs/demo-teacher-large-eval/test-greedy.json --outputs runs/demo-teacher-large-eval/test-greedy-outputs.jsonl
  exit 0
fi

if [ "$step" = all ] || [ "$step" = train ]; then
  for model in teacher student; do
    train_stage "$model-sft"
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
