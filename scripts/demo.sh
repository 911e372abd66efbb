#!/usr/bin/env bash
# The main job on one laptop: make CAPTCHAs with the real generator, train, evaluate, predict.
# Everything lands in demo/ (git-ignored). `make demo` runs this inside the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_DIR:-demo}
MINUTES=${DEMO_MINUTES:-3}
mkdir -p "$OUT"

echo "== 1/4 data: 20,000 CAPTCHAs, 5 characters of 36 (digits + upper case), 150x40"
if [ ! -f "$OUT/data/manifest.json" ]; then
  crnn data synth --out "$OUT/data" --count 20000 --charset alnum-upper --seed 0
fi
crnn data check "$OUT/data"

echo "== 2/4 train: the cpu-fast preset for about $MINUTES minutes"
rm -rf "$OUT/run"
crnn train --data "$OUT/data" --out "$OUT/run" --preset cpu-fast --max-minutes "$MINUTES"

echo "== 3/4 evaluate on the test split (never seen in training)"
crnn eval --model "$OUT/run" --data "$OUT/data" --split test --beam-width 5

echo "== 4/4 predict: three test images written as PNG files"
python - "$OUT" <<'PY'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

out = Path(sys.argv[1])
images = np.load(out / "data/test.npy")[:3]
labels = (out / "data/test.txt").read_text().split()[:3]
for image, label in zip(images, labels):
    Image.fromarray(image).save(out / f"sample_{label}.png")
PY
crnn predict --model "$OUT/run" --beam-width 5 "$OUT"/sample_*.png
echo "(the file names are the true labels; learning curves: $OUT/run/curves.png)"
