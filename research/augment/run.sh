#!/usr/bin/env bash
# The augmentation table of results/README.md: the cpu-fast recipe on a 3,000-image dataset (2,400
# train / 300 val / 300 test) of 5-character, 36-class captcha images, one run per train.augment_ops
# choice, a fixed budget of 25 epochs each (no early stopping), one CPU thread per run.
#   bash research/augment/run.sh DATA_DIR RUNS_DIR
set -euo pipefail
data=${1:-data/upper3k}
runs=${2:-runs/augment}
crnn=${CRNN:-crnn}
declare -A variants=(
  [none]=""
  [affine]="affine"
  [rotate]="rotate"
  [perspective]="perspective"
  [elastic]="elastic"
  [lines]="lines"
  [contrast+noise]="contrast,noise"
  [all]="affine,rotate,perspective,elastic,lines,contrast,noise"
)
for name in none affine rotate perspective elastic lines contrast+noise all; do
  ops=${variants[$name]}
  if [ -f "$runs/$name/test.json" ]; then continue; fi
  aug=(--set train.augment=false)
  [ -n "$ops" ] && aug=(--set train.augment=true --set "train.augment_ops=[$ops]")
  resume=()
  [ -f "$runs/$name/checkpoints/last.pt" ] && resume=(--resume)
  OMP_NUM_THREADS=1 $crnn train --data "$data" --out "$runs/$name" --preset cpu-fast "${aug[@]}" "${resume[@]}" \
    --set train.epochs=25 --set train.early_stop_patience=0 --set train.eval.samples=0
  $crnn eval --model "$runs/$name" --data "$data" --split test --json > "$runs/$name/.test.json" && mv "$runs/$name/.test.json" "$runs/$name/test.json"
done
