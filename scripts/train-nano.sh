#!/usr/bin/env bash
# Reproduces the nano Qwen2-VL from scratch, seeded: the untrained checkpoint (`vlagent nano-model`, its
# vocabulary trained on the apps' prompts), then four `vlagent train` stages on the five synthetic apps'
# oracle episodes and widget grounding at the phone size and a compact 800x600 desktop window, one
# screenshot per prompt, at a 160,000-pixel budget (~190 visual tokens, ~470 tokens a sample), with the
# grounding supervision on (model/training/pointer_aux.py):
#   1. $OUT/run     1800 steps: the pointer head looks at the 3x3 cells around the reply's point;
#   2. $OUT/stage2  1300 steps from stage 1: it must look at the widget's own cells (--pointer-target
#                   widget), since the 3x3 target is met beside a button without reading it;
#   3. $OUT/stage3  1000 steps from stage 2: what that head writes must name the point's first digit
#                   (--readout-aux), and another head must look up in the task what the reply types
#                   (--copy-aux);
#   4. $OUT/stage4   700 steps from stage 3, same terms, on episodes with mistakes in them: a quarter of
#                   the steps go wrong on purpose (--perturb 0.25: a cut-off reply, a stray click, a
#                   shuffled text) and the oracle's next step recovers from what they left.
# Stage 4 is the shipped model. NANO_COPY=1 goes on with the copying experiment (README: Copying), which
# does not beat stage 4 yet:
#   5. $OUT/stage5   800 steps from stage 4 on nothing but typing steps of sign-ins with made-up
#                   credentials (--kinds typing), with a first-layer head taught to attend to each task
#                   token's predecessor (--prev-token-aux) and the copy head's readout (--copy-readout-aux):
#                   the induction lookup that copies a string never seen (stage 4 typed 2 of 97 tokens
#                   of made-up credentials right, stage 5 85 of 97); its probes start afresh;
#   6. $OUT/stage6   600 steps from stage 5, every term, on the whole mix again (episodes with mistakes,
#                   grounding, made-up sign-ins), since stage 5 alone forgets everything but typing;
#   7. $OUT/stage7   600 more steps of the same from stage 6 (seed 7).
# Each stage starts from the previous one's exported model and (but stage 5) its probes
# (--pointer-aux-from), and is skipped once its model is exported. A stage checkpoints every 100 steps and
# resumes when the script is run again (Ctrl+C is safe), so it can run in the background:
#   nohup bash scripts/train-nano.sh > runs/nano.log 2>&1 &
# Training seeds are all below 10000; `bench/eval_nano.py` evaluates on 10000 and up.
#
# Knobs: NANO_OUT (runs/nano), NANO_STEPS (1800, stage 1), NANO_EPISODES (1500 oracle episodes, ~18,100
# samples), NANO_COPY=1 (stages 5-7 after stage 4), NANO_THREADS (all cores), NANO_DEVICE (cpu; cuda
# trains the same recipe much faster), NANO_SHIP=1 (copy the result over the shipped model/weights/vlagent-nano, with its card).
# Time here: 5-8 minutes of samples per stage, then 2.2-3.5 s a step of 8 on a 2-core machine (~10 GB of
# memory): about 75, 50, 45 and 40 minutes for the four stages, 30, 32 and 32 for stages 5-7.
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
SAMPLES=(--synthetic "$EPISODES" --synthetic-sizes "$SIZES" --points-only
         --history-images "$HIST" --max-pixels "$MAX_PX" --min-pixels "$MIN_PX")
DATA=("${SAMPLES[@]}" --kinds episode,grounding)
COPY=(--copy-aux 1.0 --copy-readout-aux 1.0 --prev-token-aux 1.0)
RUN=(--batch-size 8 --schedule cosine --pointer-aux 1.0 --threads "$THREADS" --checkpoint-every 100
     --keep-checkpoints 2 --cache-mb 2000 --device "$DEVICE" --no-progress)

newest_checkpoint() { ls -d "$1"/checkpoints/step-* | tail -1; }

[ -f "$OUT/init/config.json" ] || $V nano-model "$OUT/init" --seed 0 --sizes "$SIZES"
t0=$SECONDS
[ -f "$OUT/run/model/config.json" ] || $V train --model "$OUT/init" --out "$OUT/run" "${DATA[@]}" "${RUN[@]}" \
  --lr 2e-3 --warmup 100 --steps "$STEPS" --seed 0
[ -f "$OUT/stage2/model/config.json" ] || $V train --model "$OUT/run/model" --out "$OUT/stage2" "${DATA[@]}" "${RUN[@]}" \
  --pointer-aux-from "$(newest_checkpoint "$OUT/run")" --pointer-target widget --lr 1e-3 --warmup 50 --steps 1300 --seed 1
[ -f "$OUT/stage3/model/config.json" ] || $V train --model "$OUT/stage2/model" --out "$OUT/stage3" "${DATA[@]}" "${RUN[@]}" \
  --pointer-aux-from "$(newest_checkpoint "$OUT/stage2")" --pointer-target widget --readout-aux 1.0 --copy-aux 1.0 \
  --lr 1e-3 --warmup 50 --steps 1000 --seed 2
[ -f "$OUT/stage4/model/config.json" ] || $V train --model "$OUT/stage3/model" --out "$OUT/stage4" "${DATA[@]}" "${RUN[@]}" \
  --pointer-aux-from "$(newest_checkpoint "$OUT/stage3")" --pointer-target widget --readout-aux 1.0 --copy-aux 1.0 \
  --perturb 0.25 --lr 5e-4 --warmup 30 --steps 700 --seed 4
echo "trained in $((SECONDS - t0)) s: $OUT/stage4/model"
if [ "${NANO_COPY:-0}" = 1 ]; then
[ -f "$OUT/stage5/model/config.json" ] || $V train --model "$OUT/stage4/model" --out "$OUT/stage5" "${SAMPLES[@]}" \
  --kinds typing "${RUN[@]}" --pointer-target widget --readout-aux 1.0 "${COPY[@]}" \
  --lr 1e-3 --warmup 30 --steps 800 --seed 5
[ -f "$OUT/stage6/model/config.json" ] || $V train --model "$OUT/stage5/model" --out "$OUT/stage6" "${SAMPLES[@]}" \
  --kinds episode,grounding,typing "${RUN[@]}" --pointer-aux-from "$(newest_checkpoint "$OUT/stage5")" \
  --pointer-target widget --readout-aux 1.0 "${COPY[@]}" --perturb 0.25 --lr 5e-4 --warmup 30 --steps 600 --seed 6
[ -f "$OUT/stage7/model/config.json" ] || $V train --model "$OUT/stage6/model" --out "$OUT/stage7" "${SAMPLES[@]}" \
  --kinds episode,grounding,typing "${RUN[@]}" --pointer-aux-from "$(newest_checkpoint "$OUT/stage6")" \
  --pointer-target widget --readout-aux 1.0 "${COPY[@]}" --perturb 0.25 --lr 5e-4 --warmup 30 --steps 600 --seed 7
echo "copying stages: $OUT/stage7/model"
fi
if [ "${NANO_SHIP:-0}" = 1 ]; then  # replace the shipped checkpoint (--model vlagent-nano) with this one
  $PY -c 'import sys; from vlagent.model.nano import ship_nano; print("shipped:", ship_nano(sys.argv[1], "model/weights/vlagent-nano"))' "$OUT/stage4/model"
fi
echo "evaluate: .venv/bin/python bench/eval_nano.py $OUT/stage4/model --sizes $SIZES --episodes 10"
