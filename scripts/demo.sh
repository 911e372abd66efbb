#!/usr/bin/env bash
# The main job on one laptop: CAPTCHAs from the real generator, then a small hyperparameter search
# (Optuna TPE + ASHA under an embedded local Ray), ending with the trial results table.
# Everything lands in demo/ (git-ignored). `make demo` runs this inside the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_DIR:-demo}
mkdir -p "$OUT"

echo "== 1/3 data: 20,000 CAPTCHAs, 5 characters of 36 (digits + upper case), 150x40"
if [ ! -f "$OUT/data/manifest.json" ]; then
  crnn data synth --out "$OUT/data" --count 20000 --charset alnum-upper --seed 0
fi
crnn data check "$OUT/data"

echo "== 2/3 search: 4 trials of the cpu-fast model, at most 4 epochs of 18,000 images each, ASHA early stopping"
rm -rf "$OUT/experiments/demo"
crnn tune --data "$OUT/data" --name demo --preset quick --experiments "$OUT/experiments"

echo "== 3/3 the trial results table, read back from the experiment's files"
crnn results demo --experiments "$OUT/experiments"
echo "(plots: $OUT/experiments/demo/plots/*.png; Optuna study: optuna-dashboard sqlite:///$OUT/experiments/demo/optuna.db)"
