#!/usr/bin/env python3
"""Feeds as cheap as static files: ratios measured in one run on this machine.

    python3 scripts/bench-feeds.py [--articles 10000] [--keywords 3000] [--seconds 8] [--build-only]

(KEEP=1 keeps the temporary folder: database, configuration, output.)

Needs `wrk` and `nginx` (Debian: apt-get install wrk nginx-light) and Python's feedgen
(pip install feedgen); builds the release binary if it is missing.

1. **Build.** A store of N articles (default 10,000; real Arabic prose — five paragraphs drawn
   from the demo site's articles, about 4 KB of HTML — three of K keywords each, K = 3,000 by
   default) is written straight into a fresh SQLite database. Then
   `nashra feeds build --full` builds every feed (site-wide, declared, one per keyword) in RSS,
   Atom and JSON Feed, and Python's feedgen builds the same feeds from the same rows in Atom and
   RSS (`feedgen_build` below). Wall time and peak memory (wait4's ru_maxrss) of each.
2. **Serving.** `nashra serve` and nginx (one worker, `gzip_static`, `sendfile`, serving the same
   output folder) each pinned to CPU 0, `wrk` on CPU 1: requests/s for 200 (identity), 200 with
   `Accept-Encoding: gzip`, and 304 (If-None-Match), on `all.atom` and on a keyword's feed, 32
   connections; nashra ÷ nginx.
3. **Rebuild.** One new article pushed to the running server (three keywords): the push
   answers once its feeds are rebuilt — its latency, and how many feeds were built.
4. **Under rebuilds.** p50/p99 latency of a keyword feed with 32 clients, quiet and while
   batches of 100 new articles (about 300 keywords each) are pushed back to back.
"""
import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NASHRA = os.path.join(ROOT, "target", "release", "nashra")
TOKEN = "bench-token-0123456789abcdef"
LETTERS = "بتثجحخدذرزسشصضطظعغفقكمنو"


def keywords(k, rng):
    seen, out = set(), []
    while len(out) < k:
        w = "".join(rng.choice(LETTERS) for _ in range(rng.randint(4, 6)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def paragraphs():
    """The demo site's paragraphs: real Arabic prose, as compressible as a real feed's."""
    pool = []
    folder = os.path.join(ROOT, "demo", "articles")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".html"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                for p in re.findall(r"<p>(.*?)</p>", f.read(), re.S):
                    text = re.sub(r"<[^>]+>", "", p).strip()
                    if len(text) > 80:
                        pool.append(text)
    return pool


def words(rng, n):
    return " ".join("".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 7))) for _ in range(n))


CONFIG = """
[site]
title = "مرصد القياس"
description = "خلاصات للقياس"
base_url = "http://127.0.0.1:{port}/"
language = "ar"
time_zone = "Africa/Cairo"

[database]
url = "sqlite:{dir}/nashra.db"

[http]
listen = "127.0.0.1:{port}"

[feeds]
dir = "{dir}/feeds-declared"
output_dir = "{dir}/out/feeds"
keyword_feed_items = 50
tag_feed_min_articles = 1
refresh_seconds = 3600

[mail]
transport = "file"
from = "قياس <bench@nashra.example>"
outbox_dir = "{dir}/outbox"
templates_dir = "{root}/email-templates"

[[sources]]
name = "cms"
kind = "push"
token = "{token}"
time_zone = "Africa/Cairo"
"""


def run(cmd, env=None, cpu=None):
    """Runs cmd; returns (seconds, peak RSS in MB, stdout and stderr)."""
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, re.sub(r"\x1b\[[0-9;]*m", "", out.decode() + err.decode())


def fill_store(db, n, vocabulary, rng):
    """The store as nashra would have it after collecting n articles."""
    pool = paragraphs()
    con = sqlite3.connect(db)
    now = "2026-12-01T00:00:00+00:00"
    con.execute("INSERT INTO sources (name, kind, url, created_at) VALUES ('cms', 'push', '', ?)", (now,))
    for i, k in enumerate(vocabulary):
        con.execute(
            "INSERT INTO keywords (id, name, normalized, slug, origin, created_at, revision) VALUES (?, ?, ?, ?, 'operator', ?, 2)",
            (i + 1, k, k, k, now),
        )
    base = time.mktime(time.strptime("2026-01-01", "%Y-%m-%d"))
    for a in range(1, n + 1):
        chosen = rng.sample(pool, 5)
        title = f"{rng.choice(vocabulary)}.. {chosen[0][:60]}"
        body = "".join(f"<p>{p}</p>" for p in chosen)
        t = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + a * 600))
        con.execute(
            """INSERT INTO articles (id, source_id, url, title, author, summary, body_html, body_text, lang,
                   content_hash, published_at, updated_at, first_seen_at, last_seen_at)
               VALUES (?, 1, ?, ?, 'كاتب', ?, ?, ?, 'ar', ?, ?, ?, ?, ?)""",
            (a, f"https://bench.example/{a}", title, chosen[1][:200], body, body, f"{a:064x}", t, t, t, t),
        )
        for k in rng.sample(range(1, len(vocabulary) + 1), 3):
            con.execute("INSERT INTO article_keywords (article_id, keyword_id, origin) VALUES (?, ?, 'text')", (a, k))
    con.execute("UPDATE feed_revision SET revision = 2")
    con.commit()
    con.close()


FEEDGEN = r'''
import sqlite3, sys, os
from datetime import datetime
from feedgen.feed import FeedGenerator
db, out, base, limit, kw_limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
con = sqlite3.connect(db)
COLS = "a.id, a.url, a.title, a.author, a.summary, a.body_html, a.published_at, a.updated_at"
def build(path, title, rows, kws):
    fg = FeedGenerator()
    fg.id(base + "feeds/" + path + ".atom"); fg.title(title); fg.language("ar")
    fg.link(href=base, rel="alternate"); fg.link(href=base + "feeds/" + path + ".atom", rel="self")
    fg.description(title)
    for r in reversed(rows):
        fe = fg.add_entry()
        fe.id(r[1]); fe.guid(r[1], permalink=True); fe.title(r[2]); fe.link(href=r[1])
        fe.author({"name": r[3]}); fe.summary(r[4]); fe.content(r[5], type="html")
        fe.published(datetime.fromisoformat(r[6])); fe.updated(datetime.fromisoformat(r[7]))
        for k in kws.get(r[0], []):
            fe.category(term=k)
    os.makedirs(os.path.dirname(os.path.join(out, path)), exist_ok=True)
    fg.atom_file(os.path.join(out, path + ".atom")); fg.rss_file(os.path.join(out, path + ".rss"))
def categories(ids):
    kws = {}
    q = "SELECT ak.article_id, k.name FROM article_keywords ak JOIN keywords k ON k.id = ak.keyword_id WHERE ak.article_id IN (%s) ORDER BY k.name" % ",".join("?" * len(ids))
    for a, name in con.execute(q, ids):
        kws.setdefault(a, []).append(name)
    return kws
rows = con.execute(f"SELECT {COLS} FROM articles a ORDER BY a.published_at DESC, a.id DESC LIMIT ?", (limit,)).fetchall()
build("all", "all", rows, categories([r[0] for r in rows]))
for kid, slug in con.execute("SELECT id, slug FROM keywords ORDER BY slug").fetchall():
    rows = con.execute(f"SELECT {COLS} FROM articles a WHERE a.id IN (SELECT article_id FROM article_keywords WHERE keyword_id = ?) ORDER BY a.published_at DESC, a.id DESC LIMIT ?", (kid, kw_limit)).fetchall()
    build("keywords/" + slug, slug, rows, categories([r[0] for r in rows]))
'''


def wrk(url, headers, seconds, connections=32):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        lat[pct] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    if "Non-2xx or 3xx" in out:
        sys.exit(f"wrk saw errors on {url}:\n{out}")
    return rps, lat


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req) as r:
        return r.status, r.headers, r.read()


def wait_ready(url, deadline=120):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if get(url)[0] == 200:
                return
        except Exception:
            pass
        time.sleep(0.2)
    sys.exit(f"{url} never answered")


def push(port, articles):
    body = json.dumps({"articles": articles}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/articles",
        data=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"},
    )
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        r.read()
    return time.perf_counter() - start


def new_article(i, vocabulary, rng):
    return {
        "url": f"https://bench.example/new/{i}",
        "title": f"خبر جديد {words(rng, 5)}",
        "published": "2026-12-01T08:00:00Z",
        "body_html": f"<p>{words(rng, 60)}</p>",
        "keywords": rng.sample(vocabulary, 3),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--keywords", type=int, default=3000)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--build-only", action="store_true", help="stop after the build figures")
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} is missing (apt-get install wrk nginx-light util-linux)")
    if not os.path.exists(NASHRA):
        subprocess.run(["cargo", "build", "--release", "--bin", "nashra"], cwd=ROOT, check=True)
    rng = random.Random(9)
    vocabulary = keywords(args.keywords, rng)
    tmp = tempfile.mkdtemp(prefix="nashra-bench-feeds-")
    os.chmod(tmp, 0o755)  # nginx's worker runs as another user
    port, nginx_port = 18480, 18481
    os.makedirs(f"{tmp}/feeds-declared")
    with open(f"{tmp}/feeds-declared/all.toml", "w") as f:
        f.write('id = "all"\ntitle = "كل المقالات"\nlimit = 50\n')
    config = f"{tmp}/nashra.toml"
    with open(config, "w") as f:
        f.write(CONFIG.format(port=port, dir=tmp, root=ROOT, token=TOKEN))
    env = dict(os.environ, NASHRA_CONFIG=config, NASHRA_LOG="warn")
    # The schema, then the rows.
    run([NASHRA, "--config", config, "check-config"], env)
    run([NASHRA, "--config", config, "feeds", "build"], env)
    fill_store(f"{tmp}/nashra.db", args.articles, vocabulary, rng)
    print(f"# {args.articles} articles, {args.keywords} keywords (3 per article), {tmp}")

    # 1. Build.
    info = dict(env, NASHRA_LOG="info")
    shutil.rmtree(f"{tmp}/out", ignore_errors=True)
    t_n, m_n, out = run([NASHRA, "--config", config, "feeds", "build", "--full"], info, cpu=0)
    published = int(re.search(r"published_ms=(\d+)", out).group(1)) / 1000
    t_2, m_2, _ = run([NASHRA, "--config", config, "feeds", "build", "--full"], info, cpu=0)
    t_b, m_b, _ = run([NASHRA, "--config", config, "feeds", "build", "--full"], info, cpu=None)
    print(f"nashra feeds build --full, one core: every feed published (3 formats, written) after {published:.2f} s, "
          f"compressed (gzip + brotli) after {t_n:.2f} s; peak {m_n:.0f} MB")
    print(f"again with nothing changed: {t_2:.2f} s, peak {m_2:.0f} MB; on both cores: {t_b:.2f} s")
    with open(f"{tmp}/build_with_feedgen.py", "w") as f:
        f.write(FEEDGEN)
    t_f, m_f, _ = run(
        [sys.executable, f"{tmp}/build_with_feedgen.py", f"{tmp}/nashra.db", f"{tmp}/feedgen", f"http://127.0.0.1:{port}/", "50", "50"],
        cpu=0,
    )
    print(f"feedgen (Atom + RSS, same feeds): {t_f:.2f} s, peak {m_f:.0f} MB")
    print(f"ratio to feedgen, one core each: published {published / t_f:.2f}, compressed too {t_n / t_f:.2f}; "
          f"peak memory {m_n / m_f:.1f}")

    if args.build_only:
        if os.environ.get("KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)
        return

    # 2. Serving.
    nginx_conf = f"{tmp}/nginx.conf"
    with open(nginx_conf, "w") as f:
        f.write(f"""
worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/nginx.err;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; tcp_nopush on; gzip_static on; etag on;
  types {{ application/atom+xml atom; application/rss+xml rss; application/feed+json json; }}
  client_body_temp_path {tmp}/nginx-body; proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fcgi; uwsgi_temp_path {tmp}/nginx-uwsgi; scgi_temp_path {tmp}/nginx-scgi;
  server {{ listen 127.0.0.1:{nginx_port}; root {tmp}/out; }}
}}
""")
    nginx = subprocess.Popen(["taskset", "-c", "0", "nginx", "-c", nginx_conf], stderr=subprocess.DEVNULL)
    server = subprocess.Popen(
        ["taskset", "-c", "0", NASHRA, "--config", config, "serve"], env=env, stderr=open(f"{tmp}/serve.log", "w")
    )
    keyword = urllib.parse.quote(vocabulary[0])
    try:
        wait_ready(f"http://127.0.0.1:{port}/feeds/keywords/{keyword}.atom")
        wait_ready(f"http://127.0.0.1:{nginx_port}/feeds/all.atom")
        print("\n| feed | request | nashra req/s | nginx req/s | ratio |\n|---|---|---|---|---|")
        for name, path in (("all", "/feeds/all.atom"), ("keyword", f"/feeds/keywords/{keyword}.atom")):
            ours, theirs = f"http://127.0.0.1:{port}{path}", f"http://127.0.0.1:{nginx_port}{path}"
            etag_ours = get(ours)[1].get("etag")
            etag_theirs = get(theirs)[1].get("etag")
            for label, h_ours, h_theirs in (
                ("200", [], []),
                ("200 gzip", ["Accept-Encoding: gzip"], ["Accept-Encoding: gzip"]),
                ("304", [f"If-None-Match: {etag_ours}"], [f"If-None-Match: {etag_theirs}"]),
            ):
                a, _ = wrk(ours, h_ours, args.seconds)
                b, _ = wrk(theirs, h_theirs, args.seconds)
                print(f"| {name} | {label} | {a:,.0f} | {b:,.0f} | {a / b:.2f} |")
        sizes = {c: len(get(f"http://127.0.0.1:{port}/feeds/all.atom", {"Accept-Encoding": c})[2]) for c in ("identity", "gzip", "br")}
        print(f"\nall.atom bytes on the wire: {sizes}")

        # 3. One new article.
        latencies = [push(port, [new_article(i, vocabulary, rng)]) for i in range(5)]
        print(f"\none new article (3 of {args.keywords} keywords), push answered after its feeds were rebuilt: "
              f"median {sorted(latencies)[2] * 1000:.0f} ms (5 pushes)")

        # 4. Latency under rebuilds.
        url = f"http://127.0.0.1:{port}/feeds/keywords/{keyword}.atom"
        rps_q, quiet = wrk(url, [], args.seconds)
        stop = threading.Event()
        pushed = [0]

        def pusher():
            i = 1000
            while not stop.is_set():
                push(port, [new_article(i + j, vocabulary, rng) for j in range(100)])
                i += 100
                pushed[0] += 100

        t = threading.Thread(target=pusher)
        t.start()
        rps_b, busy = wrk(url, [], args.seconds)
        stop.set()
        t.join()
        print(f"keyword feed, 32 clients: quiet p50 {quiet['50']:.2f} ms p99 {quiet['99']:.2f} ms ({rps_q:,.0f}/s); "
              f"while {pushed[0]} articles were pushed and their feeds rebuilt: p50 {busy['50']:.2f} ms "
              f"p99 {busy['99']:.2f} ms ({rps_b:,.0f}/s)")
    finally:
        server.terminate()
        nginx.terminate()
        server.wait()
        nginx.wait()
    if os.environ.get("KEEP") is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
