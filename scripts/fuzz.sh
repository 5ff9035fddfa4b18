#!/usr/bin/env bash
# Fuzzes nashra's readers of outside input with cargo-fuzz (libFuzzer): the extractor, the date
# readers, and the feed and sitemap readers. Each target runs SECONDS (default 600), seeded with
# the repository's pages and feeds (and ../shared's feed corpora when present). A crash stops the
# script with the input saved under fuzz/artifacts/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(extract dates feed)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz passes nightly-only flags (sanitizers); the machine's stable toolchain accepts them
# with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1

seed() {
    local target=$1
    shift
    mkdir -p "fuzz/corpus/$target"
    for f in "$@"; do
        [ -f "$f" ] && cp "$f" "fuzz/corpus/$target/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    return 0
}
seed extract demo/articles/*.html tests/fixtures/sites/*/*.html
seed feed tests/fixtures/sites/feeds-and-sitemaps/*.xml
if [ -d ../shared/testdata/feedparser ]; then
    seed feed $(find ../shared/testdata/feedparser ../shared/testdata/feedvalidator -name '*.xml' | head -400)
fi
mkdir -p fuzz/corpus/dates
i=0
for line in $(cut -f2 tests/fixtures/dateparser-arabic/ar-translation-cases.tsv | tail -n +2 | tr ' ' '_') \
    $(grep -ho 'class="date-line">[^<]*' demo/articles/*.html | sed 's/class="date-line">//' | tr ' ' '_'); do
    printf '%s' "${line//_/ }" > "fuzz/corpus/dates/seed-$i"
    i=$((i + 1))
done

mkdir -p fuzz/artifacts
for target in "${targets[@]}"; do
    echo "== fuzzing $target for $seconds s"
    log="fuzz/artifacts/$target.log"
    status=0
    cargo fuzz run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 > "$log" 2>&1 || status=$?
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY)" "$log" || true
    if [ "$status" -ne 0 ]; then
        echo "!! $target failed (exit $status): see $log and fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
