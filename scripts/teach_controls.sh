#!/usr/bin/env bash
# Teaches sequence models key and ending control: each starts from its checkpoint in FROM_DIR (--init; made by
# scripts/train_models.sh, or the shipped ones: FROM_DIR=musewidgets/data/models) and trains with the key and the
# bars left to the end, the new tables learning ten times faster than the rest; the RNN and the LSTM on short
# windows (128 tokens, so that many windows begin where the key matters most and many end where their piece ends).
#   scripts/teach_controls.sh FROM_DIR [OUT_DIR] [MINUTES]
# The shipped rnn, lstm and transformer were made by these commands (with the shipped checkpoints of before as
# FROM_DIR, named `rnn`, `lstm`, `transformer`) on the 2-core CPU, side by side with other work (steps and
# seconds: see each model card, which also names the checkpoint it started from and how that was made).
# Then: `python -m musewidgets cards OUT_DIR`.
set -euo pipefail
from=$1
out=${2:-runs/controls}
minutes=${3:-25}
mkdir -p "$out"
python -m musewidgets train --model rnn --init "$from/rnn.pt" --lr 1e-3 --minutes "$minutes" --max-steps 3000 \
  --batch-size 64 --seq-len 128 --eval-every 200 --out "$out" --no-cards -q &
python -m musewidgets train --model lstm --init "$from/lstm.pt" --lr 1e-3 --minutes "$((minutes + 5))" \
  --max-steps 3000 --batch-size 64 --seq-len 128 --eval-every 200 --out "$out" --no-cards -q &
wait
# the transformer keeps its 512-token windows: on 128 it lost its long memory (Irish valid NLL 0.61 -> 0.73 in 200
# steps)
python -m musewidgets train --model transformer --init "$from/transformer.pt" --lr 3e-4 --minutes "$minutes" \
  --max-steps 3000 --batch-size 8 --seq-len 512 --eval-every 200 --out "$out" --no-cards -q
rm -f "$out"/*.last.pt
