#!/usr/bin/env bash
# Startup time and idle memory of `nashra serve` on its embedded defaults, for one or more
# binaries measured in the same run (e.g. a build of main and of a change):
#   scripts/startup.sh target/release/nashra [/tmp/nashra-before ...]
# For each binary, five runs (RUNS=n for another number) in a fresh folder (new SQLite file, demo collected at start): the
# time from exec to the first 200 from /healthz, and the resident memory (VmRSS) 15 s later,
# after the start-up collection and feed build. Prints the median of each.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
port="${PORT:-18087}"
for bin in "$@"; do
    bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
    starts=(); rss=()
    for run in $(seq "${RUNS:-5}"); do
        work="$(mktemp -d)"
        sed -e "s#127.0.0.1:8080#127.0.0.1:$port#g" "$repo/nashra.toml" > "$work/nashra.toml"
        cp -r "$repo/feeds" "$repo/email-templates" "$repo/demo" "$work/"
        begin=$(date +%s%N)
        (cd "$work" && exec "$bin" --config nashra.toml serve > "$work/log" 2>&1) &
        pid=$!
        until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null; do sleep 0.005; done
        end=$(date +%s%N)
        starts+=($(( (end - begin) / 1000000 )))
        sleep 15
        rss+=($(awk '/VmRSS/ {print $2}' "/proc/$pid/status"))
        kill -TERM "$pid"; wait "$pid" || true
        rm -rf "$work"
    done
    median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
    echo "$bin: start-up $(median "${starts[@]}") ms (runs: ${starts[*]}), idle RSS $(( $(median "${rss[@]}") / 1024 )) MiB (runs KiB: ${rss[*]})"
done
