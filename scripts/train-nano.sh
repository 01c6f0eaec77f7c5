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
# Knobs: NANO_OUT (runs/nano), NANO_STEPS (1800), NANO_EPISODES (1500 oracle episodes, ~18,100 samples),
# NANO_THREADS (all cores), NANO_DEVICE (cpu; cuda trains the same recipe much faster), NANO_SHIP=1 (copy
# the result over the shipped model/weights/vlagent-nano, with its card).
# Time here: 5 minutes of samples, then 2.2-2.4 s a step of 8 on a 2-core machine (~10 GB of memory), so
# the defaults take about 75 minutes (the shipped checkpoint: 4391 s of training).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${NANO_OUT:-runs/nano}
STEPS=${NANO_STEPS:-1800}
EPISODES=${NANO_EPISODES:-1500}
THREADS=${NANO_THREADS:-$(nproc)}
DEVICE=${NANO_DEVICE:-cpu}
PY=.venv/bin/python
V=.venv/bin/vlagent
# The sizes, pixel budget and screenshots per prompt are the nano model's card (model/nano.py), defined once.
read -r SIZES MIN_PX MAX_PX HIST < <($PY -c 'from vlagent.model import nano as n; print(",".join(n.NANO_SIZES), n.NANO_MIN_PIXELS, n.NANO_MAX_PIXELS, n.NANO_HISTORY_IMAGES)')

[ -f "$OUT/init/config.json" ] || $V nano-model "$OUT/init" --seed 0 --sizes "$SIZES"
t0=$SECONDS
$V train --model "$OUT/init" --out "$OUT/run" --synthetic "$EPISODES" --synthetic-sizes "$SIZES" \
  --kinds episode,grounding --points-only --history-images "$HIST" --max-pixels "$MAX_PX" --min-pixels "$MIN_PX" \
  --batch-size 8 --lr 2e-3 --warmup 100 --schedule cosine --steps "$STEPS" --pointer-aux 1.0 \
  --threads "$THREADS" --checkpoint-every 100 --keep-checkpoints 2 --cache-mb 2000 --seed 0 \
  --device "$DEVICE" --no-progress
echo "trained in $((SECONDS - t0)) s: $OUT/run/model"
if [ "${NANO_SHIP:-0}" = 1 ]; then  # replace the shipped checkpoint (--model vlagent-nano) with this one
  $PY -c 'import sys; from vlagent.model.nano import ship_nano; print("shipped:", ship_nano(sys.argv[1], "model/weights/vlagent-nano"))' "$OUT/run/model"
fi
echo "evaluate: .venv/bin/python bench/eval_nano.py $OUT/run/model --sizes $SIZES --episodes 10"
