#!/usr/bin/env bash
# Trains the shipped checkpoints, all four families side by side, then evaluates them and writes their model cards.
#   scripts/train_models.sh [OUT_DIR] [MINUTES] [BATCH_SIZE] [--no-cards]
# (--no-cards: train only, e.g. on a GPU machine; then run `musewidgets cards OUT_DIR` where the corpus is.)
# The shipped files in musewidgets/data/models were made by this script (where and how long: see each model card).
set -euo pipefail
out=${1:-musewidgets/data/models}
minutes=${2:-10}
batch=${3:-64}
mkdir -p "$out"
threads=$(( $(nproc) / 4 > 0 ? $(nproc) / 4 : 1 ))
for model in rnn lstm transformer gan; do
  OMP_NUM_THREADS=$threads python -m musewidgets train --model "$model" --minutes "$minutes" --batch-size "$batch" \
    --eval-every 250 --out "$out" --no-cards -q > "$out/$model.log" 2>&1 &
done
wait
tail -n 3 "$out"/*.log
rm -f "$out"/*.last.pt
if [ "${4:-}" != "--no-cards" ]; then
  rm -f "$out"/*.log
  python -m musewidgets cards "$out"
fi
