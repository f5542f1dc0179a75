#!/bin/sh
# Runs every example program on the real sample data; exits non-zero at the first failure.
#   examples/run_all.sh DATA_DIR BUILD_DIR
# DATA_DIR is the shared data folder (holding deepctr-samples/), BUILD_DIR the CMake build tree.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 DATA_DIR BUILD_DIR" >&2
    exit 2
fi
data=$1/deepctr-samples
build=$2
for f in criteo_sample.txt movielens_sample.txt; do
    [ -r "$data/$f" ] || { echo "run_all.sh: missing $data/$f" >&2; exit 1; }
done

# Examples land in BUILD_DIR/examples (or BUILD_DIR itself with a custom output directory).
find_bin() {
    for p in "$build/examples/$1" "$build/$1"; do
        [ -x "$p" ] && { echo "$p"; return 0; }
    done
    echo "run_all.sh: example '$1' not built in $build" >&2
    return 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/deepctr-run-all-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

run() {
    name=$1
    shift
    bin=$(find_bin "$name")
    echo "=== $name $*"
    start=$(date +%s)
    if ! TMPDIR=$tmp "$bin" "$@"; then
        echo "=== $name FAILED" >&2
        exit 1
    fi
    echo "=== $name ok ($(( $(date +%s) - start ))s)"
}

run criteo_classification "$data/criteo_sample.txt"
run criteo_hashing "$data/criteo_sample.txt"
run movielens_regression "$data/movielens_sample.txt"
run movielens_multivalue "$data/movielens_sample.txt"
run serving "$data/criteo_sample.txt"
run arrays_serving
echo "all examples passed"
