#!/bin/sh
# Fault tests of `mpirun -np N deepctr train` (ctest label "mpi"): a rank that meets a malformed
# row, and a rank killed mid-epoch, both end the whole job with a non-zero exit naming the rank
# within 30 s (never a hang), and the last checkpoint still loads.
# usage: mpi_faults.sh DEEPCTR MPIRUN TMPDIR NP
set -u
deepctr=$1 mpirun=$2 dir=$3 np=$4
mkdir -p "$dir" && cd "$dir" || exit 1
rm -f ./*.csv ./*.dctr ./*.log
fail() { echo "FAIL: $*"; for f in ./*.log; do echo "--- $f"; cat "$f"; done; exit 1; }
run_mpi() { exec "$mpirun" --oversubscribe --mca mpi_yield_when_idle 1 -np "$np" "$deepctr" train "$@"; }

# 1. rank 1's own file (--shard file) has a label that is not a number
"$deepctr" synth --out all.csv --rows 3000 --max-vocab 500 --seed 5 >/dev/null || fail "synth"
r=0
while [ "$r" -lt "$np" ]; do
  { head -1 all.csv; awk -v r="$r" -v n="$np" 'NR > 1 && (NR - 2) % n == r' all.csv; } > "part$r.csv"
  r=$((r + 1))
done
awk -F, 'BEGIN { OFS = "," } NR == 40 { $1 = "oops" } { print }' part1.csv > bad.csv && mv bad.csv part1.csv
start=$(date +%s)
timeout 60 sh -c "\"$mpirun\" --oversubscribe --mca mpi_yield_when_idle 1 -np $np \"$deepctr\" train \
  --train 'part{rank}.csv' --shard file --sparse C1,C2 --dense I1,I2 --no-infer --epochs 2 \
  --out bad.dctr" > bad.log 2>&1
rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" -ne 0 ] || fail "malformed row: exit 0"
[ "$rc" -ne 124 ] || fail "malformed row: the job hung"
[ "$took" -le 30 ] || fail "malformed row: ${took}s to end"
grep -q "rank 1" bad.log || fail "malformed row: rank 1 not named"
grep -q "oops" bad.log || fail "malformed row: the cause is not shown"
[ ! -e bad.dctr ] || fail "malformed row: a model was written"

# 2. rank 1 killed (SIGKILL) after the first checkpoint, mid-training
run_mpi --train all.csv --sparse C1,C2,C3 --dense I1,I2 --no-infer --hidden 32,32 --epochs 100000 \
  --early-stop 0 --valid-split 0 --batch-size 64 --checkpoint ck.dctr --out never.dctr > kill.log 2>&1 &
job=$!
waited=0
while [ ! -e ck.dctr ] && [ "$waited" -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
[ -e ck.dctr ] || { kill "$job"; fail "kill: no checkpoint after 30 s"; }
victim=""
for c in $(pgrep -P "$job"); do # the ranks are mpirun's children
  if tr '\0' '\n' 2>/dev/null < "/proc/$c/environ" | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
    victim=$c
  fi
done
[ -n "$victim" ] || { kids=$(pgrep -P "$job" | tr "\n" " "); kill "$job"; fail "kill: rank 1 not found among mpirun's children: $kids"; }
start=$(date +%s)
kill -9 "$victim"
waited=0
while kill -0 "$job" 2>/dev/null && [ "$waited" -lt 600 ]; do sleep 0.1; waited=$((waited + 1)); done
if kill -0 "$job" 2>/dev/null; then kill -9 "$job"; fail "kill: the job still runs 60 s later"; fi
wait "$job"
rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" -ne 0 ] || fail "kill: exit 0"
[ "$took" -le 30 ] || fail "kill: ${took}s to end"
grep -qi "rank 1" kill.log || fail "kill: rank 1 not named"
"$deepctr" inspect --model-file ck.dctr > inspect.log 2>&1 || fail "kill: the checkpoint does not load"
echo "mpi_faults: $np ranks OK (malformed row and killed rank)"
