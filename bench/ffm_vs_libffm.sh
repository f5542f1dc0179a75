#!/usr/bin/env bash
# libdeepctr FFM against libffm, side by side in one run on the same files and machine.
#
#   bench/ffm_vs_libffm.sh [BUILD_DIR] [WORK_DIR]
#
# Data: frappe's training rows repeated x16 (cache-resident model, 10 fields) and 400k rows of
# `deepctr synth --libffm` (memory-bound model, 39 fields, 2.7M features). Both tools run with
# the same flags `-k 4 -r 0.2 -l 2e-5 -s THREADS -t EPOCHS`, interleaved, best of $REPEAT.
# Compared: steady-state seconds per epoch = (cumulative time after the last epoch - after the
# first) / (epochs - 1), which leaves out parsing for both (libffm converts the text to its
# .bin file before its timer starts, libdeepctr parses before its first epoch) and the first
# epoch's page faults; libffm's epochs include re-reading its binary blocks from the page
# cache, as it always does. Peak RSS is /usr/bin/time's, for the whole run (parse, train,
# save) against weights + AdaGrad state + data.
# Environment: THREADS (default "1 2"), EPOCHS (6), REPEAT (3), FRAPPE (frappe.train.ffm path),
# PEERS (../shared/peers), SYNTH_ROWS (400000).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
quick=0
if [ "${2:-}" = "--quick" ]; then # bench/run --quick: a harness check at small sizes
    quick=1
    set -- "$1"
fi
# bench/run passes its data and peers directories in the environment
work=${2:-${DCTR_BENCH_DATA_DIR:+$DCTR_BENCH_DATA_DIR/ffm_vs_libffm}}
work=${work:-$(mktemp -d)}
mkdir -p "$work"
peers=${PEERS:-${DCTR_PEERS_DIR:-$here/../shared/peers}}
frappe=${FRAPPE:-$here/../shared/data/frappe/frappe.train.ffm}
threads=${THREADS:-"1 2"}
epochs=${EPOCHS:-6}
repeat=${REPEAT:-3}
rows=${SYNTH_ROWS:-400000}
if [ "$quick" = 1 ]; then
    epochs=${EPOCHS:-3} repeat=${REPEAT:-1} rows=${SYNTH_ROWS:-20000}
fi

if [ ! -x "$peers/build_libffm.sh" ]; then
    echo "libffm peer not found at $peers (set PEERS): nothing to compare against" >&2
    exit 2
fi
L=$("$peers/build_libffm.sh" "$work/libffm")

# ---- data ----
if [ ! -s "$work/frappe16.ffm" ]; then
    for _ in $(seq 16); do cat "$frappe"; done >"$work/frappe16.ffm"
fi
if [ ! -s "$work/synth.ffm" ]; then
    "$build/deepctr" synth --rows "$rows" --libffm "$work/synth.ffm" --out "$work/synth.csv" >/dev/null
fi

# ---- one run of each tool: prints "SECONDS_PER_EPOCH PEAK_RSS_KB" ----
per_epoch() { # cumulative seconds per epoch on stdin (last field of the epoch lines)
    awk '$1 ~ /^[0-9]+$/ {n++; t[n] = $NF} END {if (n < 2) print "nan"; else printf "%.4f\n", (t[n] - t[1]) / (n - 1)}'
}
run_libffm() { # file threads
    /usr/bin/time -f "RSS %M" "$L/ffm-train" -k 4 -t "$epochs" -s "$2" -r 0.2 -l 2e-5 "$1" "$work/m.libffm" \
        >"$work/out.txt" 2>"$work/err.txt"
    echo "$(per_epoch <"$work/out.txt") $(awk '/^RSS/ {print $2}' "$work/err.txt")"
}
run_dctr() { # file threads; libdeepctr prints per-epoch seconds: make them cumulative
    /usr/bin/time -f "RSS %M" "$build/deepctr" train --model ffm --format libffm --train "$1" -k 4 \
        -t "$epochs" -s "$2" -r 0.2 -l 2e-5 --out "$work/m.dctr" >"$work/out.txt" 2>"$work/err.txt"
    local s
    s=$(cat "$work/out.txt" "$work/err.txt" | awk '$1 ~ /^[0-9]+$/ && NF >= 3 {c += $NF; print $1, c}' | per_epoch)
    echo "$s $(awk '/^RSS/ {print $2}' "$work/err.txt")"
}
best() { sort -g | head -1; }

# weights + AdaGrad state (k = 4: 8 floats per feature and field) and data (12 bytes a node,
# 16 a row), from the file itself
shape() { # file -> "MODEL_BYTES DATA_BYTES"
    awk '{r++; for (i = 2; i <= NF; i++) {split($i, a, ":"); z++; if (a[1] + 1 > m) m = a[1] + 1;
          if (a[2] + 1 > n) n = a[2] + 1}} END {printf "%.0f %.0f\n", n * m * 32, z * 12 + r * 16}' "$1"
}

printf '%s\n' "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $("$build/deepctr" --version 2>/dev/null | grep '^blas kernel')"
printf '%-9s %3s %11s %11s %7s %11s %11s %13s\n' data thr "libffm s/ep" "dctr s/ep" ratio "libffm RSS" "dctr RSS" "dctr RSS/(W+D)"
declare -A fig
for name in frappe16 synth; do
    f="$work/$name.ffm"
    read -r wbytes dbytes < <(shape "$f")
    for t in $threads; do
        lf=() dc=() lr=() dr=()
        for _ in $(seq "$repeat"); do # interleaved
            read -r s r < <(run_libffm "$f" "$t"); lf+=("$s"); lr+=("$r")
            read -r s r < <(run_dctr "$f" "$t"); dc+=("$s"); dr+=("$r")
        done
        l=$(printf '%s\n' "${lf[@]}" | best); d=$(printf '%s\n' "${dc[@]}" | best)
        lrss=$(printf '%s\n' "${lr[@]}" | sort -n | tail -1); drss=$(printf '%s\n' "${dr[@]}" | sort -n | tail -1)
        fig[$name.$t]="$l $d $lrss $drss $wbytes $dbytes"
        awk -v n="$name" -v t="$t" -v l="$l" -v d="$d" -v lr="$lrss" -v dr="$drss" -v w="$wbytes" -v db="$dbytes" \
            'BEGIN {printf "%-9s %3d %11.3f %11.3f %6.2fx %9.0f MB %9.0f MB %12.2fx\n", n, t, l, d, l / d,
                    lr / 1024, dr / 1024, dr * 1024 / (w + db)}'
    done
done
echo "ratio = libffm seconds / libdeepctr seconds per steady-state epoch (best of $repeat); W+D = weights + AdaGrad state + data"

# ---- the issue-12 targets as table rows (bench/run puts them in its peer table) ----
echo
echo "| target | measured | ratio | status |"
echo "|---|---|---|---|"
target_row() { # name threads goal label
    read -r l d lr dr w db <<<"${fig[$1.$2]:-nan nan 0 0 1 1}"
    awk -v l="$l" -v d="$d" -v g="$3" -v lab="$4" -v t="$2" 'BEGIN {
        r = (d > 0) ? l / d : 0
        printf "| FFM >= %sx libffm per thread, %s, %d thread%s | libffm %.3f s/epoch, libdeepctr %.3f s/epoch | %.2fx | %s |\n",
               g, lab, t, t == 1 ? "" : "s", l, d, r, (r >= g) ? "met" : "not met" }'
}
target_row frappe16 1 1.5 "cache-resident (frappe x16)"
target_row synth 1 1.2 "memory-bound ($rows synth rows)"
for name in frappe16 synth; do
    read -r _ d1 _ _ _ _ <<<"${fig[$name.1]:-nan nan 0 0 1 1}"
    read -r _ d2 _ _ _ _ <<<"${fig[$name.2]:-nan nan 0 0 1 1}"
    awk -v a="$d1" -v b="$d2" -v n="$name" 'BEGIN { r = (b > 0) ? a / b : 0
        printf "| FFM 2 threads faster than 1 (%s) | %.3f vs %.3f s/epoch | %.2fx | %s |\n", n, b, a, r, (r > 1) ? "met" : "not met" }'
    read -r _ _ _ dr w db <<<"${fig[$name.1]:-nan nan 0 0 1 1}"
    awk -v dr="$dr" -v w="$w" -v db="$db" -v n="$name" 'BEGIN { r = dr * 1024 / (w + db)
        printf "| FFM peak RSS <= 1.1 x (weights + AdaGrad) + data (%s, 1 thread) | %.0f MB vs %.0f MB weights+state+data | %.2fx | %s |\n",
               n, dr / 1024, (w + db) / 1048576, r, (r <= 1.1) ? "met" : "not met" }'
done
