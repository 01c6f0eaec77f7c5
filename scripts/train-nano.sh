#!/usr/bin/env bash
# Reproduces the nano Qwen2-VL from scratch, seeded: the untrained checkpoint (`vlagent nano-model`), then a
# four-stage curriculum, each stage one `vlagent train` run on the previous stage's exported model:
#   1-target       one large button on an empty page            ("Click the Save button" -> its point)
#   2-distractors  3-7 smaller buttons, the task names one      (+ stage 1 screens, against forgetting)
#   3-grounding    every widget of the synthetic apps' screens  (+ distractor screens)
#   4-episodes     the apps' multi-step tasks with history      (+ grounding), held-out eval every 2000 steps
# Every stage checkpoints every 200 steps and resumes when the script is run again (Ctrl+C is safe), so it
# can run in the background for hours: `nohup bash scripts/train-nano.sh > runs/nano.log 2>&1 &`.
# Training seeds are all below 10000; evaluation uses 10000 and up.
#
# Knobs: NANO_OUT (runs/nano), NANO_THREADS (all cores), NANO_SCALE (multiplies every stage's steps and
# sample counts: NANO_SCALE=0.002 runs the whole pipeline in about 5 minutes). Time: each stage prints its
# wall time; one idle CPU thread trains 2.1 samples/s at 512x384 (252 visual tokens, ~530 tokens a sample),
# so the full schedule (27,000 steps of 8 samples) takes about 29 hours on one thread, less with more
# threads (NANO_THREADS) or on a GPU (NANO_DEVICE=cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${NANO_OUT:-runs/nano}
THREADS=${NANO_THREADS:-$(nproc)}
SCALE=${NANO_SCALE:-1}
DEVICE=${NANO_DEVICE:-cpu}
V=.venv/bin/vlagent
COMMON=(--profile qwen2-vl --synthetic-sizes 512x384 --points-only --batch-size 8 --seed 0 --device "$DEVICE"
        --threads "$THREADS" --checkpoint-every 200 --keep-checkpoints 2 --cache-mb 2048 --no-progress)

scaled() { python3 -c "import sys; print(max(1, round($1 * float(sys.argv[1]))))" "$SCALE"; }

stage() {  # NAME BASE STEPS LR SAMPLES [train options...]
  local name=$1 base=$2 steps lr=$4 samples
  steps=$(scaled "$3")
  samples=$(scaled "$5")
  shift 5
  if [ -f "$OUT/$name/done" ]; then echo "stage $name: done"; return; fi
  echo "stage $name: $steps steps from $base"
  local t0=$SECONDS
  $V train --model "$base" --out "$OUT/$name" --steps "$steps" --lr "$lr" --synthetic "$samples" "${COMMON[@]}" "$@"
  echo "stage $name: $((SECONDS - t0)) s"
  touch "$OUT/$name/done"
}

[ -f "$OUT/init/config.json" ] || $V nano-model "$OUT/init" --seed 0
stage 1-target      "$OUT/init"                3000 1e-3 3000 --kinds target --warmup 200
stage 2-distractors "$OUT/1-target/model"      6000 1e-3 2000 --kinds target,distractors --schedule cosine
stage 3-grounding   "$OUT/2-distractors/model" 6000 5e-4  400 --kinds grounding,distractors --schedule cosine
stage 4-episodes    "$OUT/3-grounding/model"  12000 3e-4  600 --kinds episode,grounding --schedule cosine \
                    --eval-every "$(scaled 2000)" --eval-episodes "$(scaled 25)"
echo "nano checkpoint: $OUT/4-episodes/model"
echo "held-out success per eval: grep eval $OUT/4-episodes/train_log.jsonl"
