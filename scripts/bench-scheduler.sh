#!/usr/bin/env bash
# Scheduler lateness: `nashra serve` on its embedded defaults with collection, a feed build and
# the daily edition all due every second, for TICKS seconds (default 1000); then, from the job
# history, each job's lateness (started_at − tick: when the run really started after its
# instant) at p50 / p99 / max, and how many ticks ran or were skipped (with their reasons).
#   cargo build --release && scripts/bench-scheduler.sh [target/release/nashra]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$repo/target/release/nashra}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
ticks="${TICKS:-1000}"
port="${PORT:-18089}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed -e "s#127.0.0.1:8080#127.0.0.1:$port#g" "$repo/nashra.toml" > "$work/nashra.toml"
cp -r "$repo/feeds" "$repo/email-templates" "$repo/demo" "$work/"
(
    cd "$work"
    export NASHRA_SCHEDULES__COLLECT__CRON="* * * * * *" NASHRA_SCHEDULES__FEEDS__CRON="* * * * * *" \
        NASHRA_EDITIONS__0__CRON="* * * * * *" NASHRA_LOG=warn
    exec "$bin" --config nashra.toml serve > "$work/log" 2>&1
) &
pid=$!
sleep "$ticks"
kill -TERM "$pid"
wait "$pid" || true
python3 - "$work/var/nashra.db" <<'PY'
import sqlite3, sys
from datetime import datetime
db = sqlite3.connect(sys.argv[1])
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00"))
rows = db.execute("SELECT job, tick, started_at, status, COALESCE(summary, error, '') FROM job_runs").fetchall()
for job in sorted({r[0] for r in rows}):
    mine = [r for r in rows if r[0] == job]
    ran = sorted((t(r[2]) - t(r[1])).total_seconds() * 1000 for r in mine if r[3] != "skipped")
    skipped = [r[4] for r in mine if r[3] == "skipped"]
    pct = lambda p: ran[min(len(ran) - 1, int(len(ran) * p))]
    reasons = {}
    for s in skipped: reasons[s] = reasons.get(s, 0) + 1
    print(f"{job}: {len(ran)} run, {len(skipped)} skipped {reasons or ''}; lateness p50 {pct(0.5):.1f} ms, "
          f"p99 {pct(0.99):.1f} ms, max {ran[-1]:.1f} ms")
PY
