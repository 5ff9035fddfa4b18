#!/usr/bin/env bash
# SpamAssassin's score of a digest and of a sign-up confirmation, as nashra writes them on its
# embedded defaults (the demo site, the file outbox). Needs Debian's `spamassassin`
# (apt-get install spamassassin). Local tests only (-L): no network lookups, so the figure is
# what the message itself earns, before the sender's DNS (SPF, DKIM, DMARC) is counted.
#
#   scripts/spam-score.sh            # prints one "score  message" line per message
set -euo pipefail
cd "$(dirname "$0")/.."
command -v spamassassin >/dev/null || { echo "spamassassin is not installed (apt-get install spamassassin)" >&2; exit 2; }

work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet
sed -e "s|sqlite:var/nashra.db|sqlite:$work/nashra.db|" \
    -e "s|var/outbox|$work/outbox|" -e "s|var/feeds|$work/feeds|" \
    -e "s|127.0.0.1:8080|127.0.0.1:$port|g" nashra.toml >"$work/nashra.toml"
# Relative paths in the configuration are taken from its folder: point them back at the checkout.
for dir in feeds email-templates demo; do ln -s "$PWD/$dir" "$work/$dir"; done

nashra() { ./target/release/nashra --config "$work/nashra.toml" "$@"; }
NASHRA_LOG=warn nashra serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

nashra collect >/dev/null
nashra subscribers add reader@example.org --keywords "العراق، داعش، مصر" >/dev/null
nashra digest send >/dev/null

# A sign-up through the form, as a browser sends it (cookie and form token first).
jar="$work/cookies"
token=$(curl -sf -c "$jar" "http://127.0.0.1:$port/subscribe" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
curl -sf -b "$jar" -o /dev/null "http://127.0.0.1:$port/subscribe" \
    --data-urlencode "csrf=$token" --data-urlencode "email=new.reader@example.org" --data-urlencode "keywords=داعش"
for _ in $(seq 50); do [ "$(ls "$work/outbox" | wc -l)" -ge 2 ] && break; sleep 0.1; done

for eml in "$work"/outbox/*.eml; do
    report=$(spamassassin -L -t <"$eml" 2>/dev/null)
    score=$(printf '%s\n' "$report" | sed -n 's/^X-Spam-Status: [A-Za-z]*, score=\([-0-9.]*\).*/\1/p' | head -1)
    subject=$(sed -n 's/^Subject: //p' "$eml" | head -1)
    printf '%s\t%s\t%s\n' "$score" "$(basename "$eml")" "$subject"
    printf '%s\n' "$report" | sed -n '/^Content analysis details:/,/^$/p;/^ pts rule/,/^$/p' | grep -E '^ *-?[0-9]+\.[0-9]+ ' || true
done
