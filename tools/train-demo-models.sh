#!/usr/bin/env bash
# Reproduces the demo teacher and student shipped in resources/demo/: the teacher is pre-trained
# from scratch on the whole text of the training examples (objective all_tokens), fine-tuned on
# the synopses, and fine-tuned again from there (teacher-sft-more); the student is fine-tuned
# from scratch. Then the test-split evaluation, the training-curve chart and the copies into
# resources/demo/{teacher,student}. Needs a Release build (bash tools/bootstrap.sh build).
# About 4.5 hours on 2 cores: teacher pre-training ~70 minutes, fine-tuning ~60, the second
# fine-tune ~75, student ~10.
#   bash tools/train-demo-models.sh [train|ship|v1]   (default: train and ship)
#
# `v1` trains the first demo teacher instead (5.8M parameters, SFT only; resources/demo/README.md
# compares it) and evaluates it against the student into runs/demo-teacher-v1-eval/.
# Every stage checkpoints every 50 to 500 steps; running the script again resumes the stage that
# stopped (a finished stage is skipped).
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

if [ "$step" = v1 ]; then
  train_stage teacher-v1-sft
  mkdir -p runs/demo-teacher-v1-eval
  echo "== greedy decoding on the test split: first teacher against student"
  "$plad" --threads "$threads" eval runs/demo-teacher-v1-sft/model --against "$demo/student" \
    --data "$demo/data/test.jsonl.lz4" --response-field reference --id-field id \
    --out runs/demo-teacher-v1-eval/test-greedy.json --outputs runs/demo-teacher-v1-eval/test-greedy-outputs.jsonl
  exit 0
fi

if [ "$step" = all ] || [ "$step" = train ]; then
  train_stage teacher-pretrain
  train_stage teacher-sft
  train_stage teacher-sft-more
  train_stage student-sft
fi

if [ "$step" = all ] || [ "$step" = ship ]; then
  for model in teacher student; do
    run="runs/demo-$model-sft"
    [ "$model" = teacher ] && run=runs/demo-teacher-sft-more
    mkdir -p "$demo/$model" "$demo/training"
    for f in config.json model.safetensors tokenizer.json tokenizer_config.json prompt_template.json; do
      cp "$run/model/$f" "$demo/$model/$f"
    done
  done
  cp runs/demo-student-sft/metrics.jsonl "$demo/training/student-metrics.jsonl"
  cp runs/demo-teacher-pretrain/metrics.jsonl "$demo/training/teacher-pretrain-metrics.jsonl"
  cp runs/demo-teacher-sft/metrics.jsonl "$demo/training/teacher-metrics.jsonl"
  cp runs/demo-teacher-sft-more/metrics.jsonl "$demo/training/teacher-more-metrics.jsonl"
  python3 tools/plot_training_curves.py --out "$demo/training/curves.svg" \
    "teacher pre-training"="$demo/training/teacher-pretrain-metrics.jsonl" \
    "teacher fine-tuning"="$demo/training/teacher-metrics.jsonl" \
    "teacher, continued"="$demo/training/teacher-more-metrics.jsonl@1500" student="$demo/training/student-metrics.jsonl"
  echo "== greedy decoding on the test split: teacher against student"
  mkdir -p "$demo/evaluation"
  "$plad" --threads "$threads" eval "$demo/teacher" --against "$demo/student" \
    --data "$demo/data/test.jsonl.lz4" --response-field reference --id-field id \
    --out "$demo/evaluation/test-greedy.json" --outputs "$demo/evaluation/test-greedy-outputs.jsonl"
fi
