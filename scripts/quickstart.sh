#!/usr/bin/env bash
# The main job (README quick start, first command): install what is missing, build, generate the
# bundled synthetic Criteo-shaped data set (200k rows, planted model), train DeepFM with a
# validation split and early stopping, print progress and validation AUC / logloss next to the
# planted model's, save the model, reload it and predict a few rows.
# Training uses the `deepctr train` defaults only (no tuning flags): DeepFM, the last 10% held out,
# early stopping on validation AUC. `deepctr synth` reports the planted model on the same last 10%.
# Usage: scripts/quickstart.sh [--skip-deps] [ROWS]   (DCTR_BUILD_DIR overrides the build directory)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
skip_deps=0
if [ "${1:-}" = "--skip-deps" ]; then skip_deps=1; shift; fi
rows="${1:-200000}"
build="${DCTR_BUILD_DIR:-$here/build}"
out="$here/out"
if [ "$skip_deps" -eq 0 ] || [ ! -x "$build/deepctr" ]; then
  bash "$here/scripts/build.sh" "$build"
fi
mkdir -p "$out"
cli="$build/deepctr"

echo "== 1. synthetic data: $rows Criteo-shaped rows (label, I1..I13, C1..C26)"
"$cli" synth --rows "$rows" --seed 7 --out "$out/synth.csv" | tee "$out/synth.txt"

echo "== 2. train DeepFM with the defaults (last 10% held out for validation and early stopping)"
"$cli" train --train "$out/synth.csv" --label label --out "$out/deepfm.dctr" | tee "$out/train.txt"

echo "== 3. reload the saved model and evaluate it on the held-out rows"
total=$(($(wc -l < "$out/synth.csv") - 1))
holdout=$((total / 10))
{ head -n 1 "$out/synth.csv"; tail -n "$holdout" "$out/synth.csv"; } > "$out/holdout.csv"
"$cli" eval --model-file "$out/deepfm.dctr" --data "$out/holdout.csv" | tee "$out/eval.txt"
planted=$(sed -n 's/^planted model on the last.* auc \([0-9.]*\) logloss \([0-9.]*\)$/auc \1 logloss \2/p' "$out/synth.txt")
echo "   planted model (the Bayes limit) on the same $holdout rows: $planted"
echo "   DeepFM on them:                                  $(sed -n 's/.*\(auc [0-9.]*  *logloss [0-9.]*\).*/\1/p' "$out/eval.txt")"

echo "== 4. predict a few rows with the reloaded model"
{ head -n 6 "$out/holdout.csv"; } > "$out/few.csv"
"$cli" predict --model-file "$out/deepfm.dctr" --data "$out/few.csv" --out "$out/few.pred"
paste -d' ' <(tail -n +2 "$out/few.csv" | cut -d, -f1 | sed 's/^/label=/') <(sed 's/^/p=/' "$out/few.pred")
echo "== done in ${SECONDS}s"
