#!/usr/bin/env bash
# Runs each fuzz target for SECONDS on the stable toolchain.
#
#   fuzz/run.sh SECONDS [TARGET...]     (default: every target)
#
# Installs cargo-fuzz if it is missing. Each target's working corpus is
# fuzz/corpus/TARGET/ (not committed); the committed seeds in fuzz/corpus/seed/ are
# read as a second corpus directory, so new finds never land among the seeds.
# Crashes are written to fuzz/artifacts/TARGET/ and make the script fail.
# Extra libFuzzer flags can be passed in FUZZ_FLAGS, e.g. FUZZ_FLAGS="-jobs=2".
set -euo pipefail
cd "$(dirname "$0")"

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# `--sanitizer none` is what makes cargo-fuzz work on a stable toolchain: every
# other flag it passes (sancov instrumentation, --cfg fuzzing) is a stable `-C`
# option; only the sanitizers need the unstable `-Zsanitizer`. See README.md.
cargo fuzz build --sanitizer none

for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "=== $target: ${seconds}s"
    # shellcheck disable=SC2086
    cargo fuzz run --sanitizer none "$target" "corpus/$target" corpus/seed -- \
        -max_total_time="$seconds" \
        -dict=ami.dict \
        -max_len=8192 \
        -rss_limit_mb=512 \
        -malloc_limit_mb=256 \
        -timeout=10 \
        -print_final_stats=1 \
        ${FUZZ_FLAGS:-}
done
