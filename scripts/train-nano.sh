#!/usr/bin/env bash
# Reproduces the nano Qwen2-VL from scratch, seeded: the untrained checkpoint (`vlagent nano-model`, its
# vocabulary trained on the apps' prompts), then one `vlagent train` run on the five synthetic apps'
# oracle episodes and widget grounding at the phone size and a compact 800x600 desktop window, one
# screenshot per prompt, at a 160,000-pixel budget (~190 visual tokens, ~470 tokens a sample), with the
# pointer supervision on (model/training/pointer_aux.py). It checkpoints every 100 steps and resumes when
# run again (Ctrl+C is safe), so it can run in the background:
#   nohup bash scripts/train-nano.sh > runs/nano.log 2>&1 &
# Training seeds are all below 10000; `bench/eval_nano.py` evaluates on 10000 and up.
#
# Knobs: NANO_OUT (runs/nano), NANO_STEPS (1500), NANO_EPISODES (600 oracle episodes, ~7,200 samples),
# NANO_THREADS (all cores), NANO_DEVICE (cpu; cuda trains the same recipe much faster).
# Time here: 2.1 s a step of 8 samples on an idle 2-core machine (3.8 samples/s), so the default 1500 steps
# take about 55 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${NANO_OUT:-runs/nano}
STEPS=${NANO_STEPS:-1500}
EPISODES=${NANO_EPISODES:-600}
THREADS=${NANO_THREADS:-$(nproc)}
DEVICE=${NANO_DEVICE:-cpu}
SIZES=phone,800x600
V=.venv/bin/vlagent

[ -f "$OUT/init/config.json" ] || $V nano-model "$OUT/init" --seed 0 --sizes "$SIZES"
t0=$SECONDS
$V train --model "$OUT/init" --out "$OUT/run" --synthetic "$EPISODES" --synthetic-sizes "$SIZES" \
  --kinds episode,grounding --points-only --history-images 1 --max-pixels 160000 --min-pixels 3136 \
  --batch-size 8 --lr 2e-3 --warmup 100 --schedule cosine --steps "$STEPS" --pointer-aux 1.0 \
  --threads "$THREADS" --checkpoint-every 100 --keep-checkpoints 2 --cache-mb 6000 --seed 0 \
  --device "$DEVICE" --no-progress
echo "trained in $((SECONDS - t0)) s: $OUT/run/model"
echo "evaluate: .venv/bin/python bench/eval_nano.py $OUT/run/model --sizes $SIZES --episodes 10"
