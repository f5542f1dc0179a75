#!/bin/sh
# Builds the libFuzzer targets with clang and runs each one for SECONDS (default 60; 0 = only
# replay the seed corpus). Exits non-zero if any target crashes, leaks, times out or fails to
# build. Usage: tests/fuzz/run_all.sh [SECONDS] [BUILD_DIR]
# Findings are written to BUILD_DIR/fuzz-work/<target>/crash-*; the committed seeds
# (tests/fuzz/corpus/<target>/) are never modified.
set -u
seconds=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$src/build-fuzz}
jobs=${FUZZ_JOBS:-2}
mkdir -p "$build"

CC=${CC:-clang} cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDCTR_FUZZ=ON \
    -DDCTR_BUILD_TESTS=OFF -DDCTR_BUILD_TOOLS=OFF -DDCTR_BUILD_EXAMPLES=OFF \
    -DDCTR_BUILD_BENCH=OFF >"$build/fuzz-configure.log" 2>&1 ||
    { cat "$build/fuzz-configure.log"; echo "run_all: configure failed" >&2; exit 1; }

targets=$(cd "$src/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
# shellcheck disable=SC2086
cmake --build "$build" -j"$jobs" --target fuzz_seed_gen $targets >"$build/fuzz-build.log" 2>&1 ||
    { tail -n 40 "$build/fuzz-build.log"; echo "run_all: build failed" >&2; exit 1; }

work=$build/fuzz-work
rm -rf "$work"
mkdir -p "$work/generated"
"$build/tests/fuzz/fuzz_seed_gen" "$work/generated" || { echo "run_all: seed_gen failed" >&2; exit 1; }

# Runs one target over its corpus; prints one line and leaves its exit code in $work/$t/rc.
run_target() {
    t=$1
    mkdir -p "$work/$t/corpus"
    for seeds in "$src/tests/fuzz/corpus/$t" "$work/generated/$t"; do
        [ -d "$seeds" ] && cp "$seeds"/* "$work/$t/corpus/" 2>/dev/null
    done
    if [ "$seconds" -gt 0 ]; then
        limit="-max_total_time=$seconds"
    else
        limit="-runs=0"
    fi
    "$build/tests/fuzz/$t" "$limit" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/$t/" "$work/$t/corpus" >"$work/$t/log" 2>&1
    rc=$?
    echo $rc >"$work/$t/rc"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
    if [ $rc -ne 0 ]; then
        echo "FAIL $t (exit $rc after ${runs:-?} runs): see $work/$t/log and $work/$t/crash-*"
        tail -n 30 "$work/$t/log"
    else
        echo "ok   $t: ${runs:-?} runs in ${seconds}s"
    fi
}

# FUZZ_JOBS targets at a time (one per core by default), so CI's wall time is
# ceil(targets / jobs) * SECONDS.
running=0
for t in $targets; do
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait
        running=0
    fi
done
wait

status=0
for t in $targets; do
    [ "$(cat "$work/$t/rc" 2>/dev/null)" = "0" ] || status=1
done
exit $status
