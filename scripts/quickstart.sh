#!/usr/bin/env bash
# The main job (README quick start, first command): install what is missing, build, generate the
# bundled synthetic Criteo-shaped data set (200k rows, planted model), train DeepFM with a
# validation split and early stopping, print progress and validation AUC / logloss next to the
# planted model's, save the model, reload it and predict a few rows.
# Usage: scripts/quickstart.sh [--skip-deps] [ROWS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
skip_deps=0
if [ "${1:-}" = "--skip-deps" ]; then skip_deps=1; shift; fi
rows="${1:-200000}"
build="$here/build"
out="$here/out"
if [ "$skip_deps" -eq 0 ] || [ ! -x "$build/deepctr" ]; then
  bash "$here/scripts/build.sh" "$build"
fi
mkdir -p "$out"
cli="$build/deepctr"

echo "== 1. synthetic data: $rows Criteo-shaped rows (label, I1..I13, C1..C26)"
"$cli" synth --rows "$rows" --seed 7 --out "$out/synth.csv" | tee "$out/synth.txt"

echo "== 2. train DeepFM (last 10% held out for validation and early stopping)"
"$cli" train --model deepfm --train "$out/synth.csv" --label label --valid-split 0.1 \
  --epochs 10 --early-stop 2 --monitor val_auc --out "$out/deepfm.dctr"

echo "== 3. reload the saved model and evaluate it on the held-out rows"
total=$(($(wc -l < "$out/synth.csv") - 1))
holdout=$((total / 10))
{ head -n 1 "$out/synth.csv"; tail -n "$holdout" "$out/synth.csv"; } > "$out/holdout.csv"
"$cli" eval --model-file "$out/deepfm.dctr" --data "$out/holdout.csv"
echo "   planted model (the Bayes limit) on all rows: $(grep -i planted "$out/synth.txt" | head -n 1)"

echo "== 4. predict a few rows with the reloaded model"
{ head -n 6 "$out/holdout.csv"; } > "$out/few.csv"
"$cli" predict --model-file "$out/deepfm.dctr" --data "$out/few.csv" --out "$out/few.pred"
paste -d' ' <(tail -n +2 "$out/few.csv" | cut -d, -f1 | sed 's/^/label=/') <(sed 's/^/p=/' "$out/few.pred")
