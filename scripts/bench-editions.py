#!/usr/bin/env python3
"""Digest editions of real size: for lists of N readers (default 10,000 and 100,000), on SQLite
and on PostgreSQL over TLS, the peak memory and wall time of one `nashra digest send` that plans
the edition and sends it to a local SMTP sink, and how much the database grew per message.

    python3 scripts/bench-editions.py [--sizes 10000,100000,1000000] [--backends sqlite,postgres]
                                      [--postgres postgres://postgres@127.0.0.1:5432/test]

Each run starts from a fresh database: the demo site's articles are collected (served by
Python's http.server, an independent server), the readers are imported from a CSV file with
`nashra subscribers import --confirmed`, then the edition is sent. The SMTP sink is
examples/smtp_sink.rs (it keeps no message bodies). Peak memory is the process's maximum
resident set (wait4's ru_maxrss). Everything runs on the release build.
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NASHRA = os.path.join(ROOT, "target", "release", "nashra")
SINK = os.path.join(ROOT, "target", "release", "examples", "smtp_sink")
# Keywords the demo site's articles carry; readers follow one to three, popular ones more often.
KEYWORDS = ["داعش", "العراق", "مصر", "الإرهاب", "التحالف الدولي", "سوريا", "ليبيا", "السودان", "الساحل", "النفط"]


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass


def serve_demo():
    handler = partial(Quiet, directory=os.path.join(ROOT, "demo"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def readers_csv(path, n):
    rng = random.Random(7)
    weights = [1 / (i + 1) for i in range(len(KEYWORDS))]
    with open(path, "w", encoding="utf-8") as f:
        f.write("email,keywords,status,created\n")
        for i in range(n):
            chosen = []
            for _ in range(rng.randint(1, 3)):
                k = rng.choices(KEYWORDS, weights)[0]
                if k not in chosen:
                    chosen.append(k)
            f.write(f'reader{i}@example.org,"{"، ".join(chosen)}",active,2026-11-01\n')


def config(folder, db_url, site_port, smtp_port):
    return f"""
[site]
title = "مرصد الضفتين"
base_url = "https://news.example.org/"
time_zone = "Africa/Cairo"
[database]
url = "{db_url}"
max_connections = 4
[feeds]
dir = "{ROOT}/feeds"
output_dir = "{folder}/feeds"
[schedules.collect]
cron = "0 0 1 1 *"
[[editions]]
name = "daily"
title = "النشرة اليومية"
cron = "0 7 * * *"
max_per_keyword = 10
[keywords]
declared = {KEYWORDS!r}
[[sources]]
name = "demo"
kind = "html"
url = "http://127.0.0.1:{site_port}/index.html"
respect_robots = false
[sources.selectors]
links = "ul.latest a.article-link"
title = "h1.article-title"
date = ".date-line"
author = ".author"
section = ".section"
body = ".article-body"
keywords = ".keywords a[rel~=tag]"
remove = [".ad", ".print", ".share", "figure"]
[mail]
transport = "smtp"
from = "مرصد الضفتين <digest@news.example.org>"
templates_dir = "{ROOT}/email-templates"
connections = 4
[mail.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
""".replace("'", '"')


def run(args, cfg, env):
    """Runs nashra; returns (wall seconds, peak RSS in MB, stdout)."""
    started = time.monotonic()
    p = subprocess.Popen([NASHRA, "--config", cfg] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = []
    t = threading.Thread(target=lambda: out.append(p.stdout.read()))
    t.start()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    t.join()
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"nashra {' '.join(args)} failed ({code}):\n{err.decode()[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out[0].decode()


def psql(url, sql):
    return subprocess.run(["psql", url, "-Atc", sql], check=True, capture_output=True, text=True).stdout.strip()


def sqlite_size(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.startswith("nashra.db"))


def one(backend, n, pg_admin, smtp_port, site_port, csv_cache):
    folder = tempfile.mkdtemp(prefix=f"nashra-bench-{backend}-{n}-")
    try:
        if backend == "sqlite":
            db_url = f"sqlite:{folder}/nashra.db"
        else:
            name = f"nashra_bench_{n}"
            psql(pg_admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            psql(pg_admin, f"CREATE DATABASE {name}")
            db_url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", pg_admin, count=1)
            db_url += ("&" if "?" in db_url else "?") + "sslmode=require"
        cfg = os.path.join(folder, "nashra.toml")
        open(cfg, "w", encoding="utf-8").write(config(folder, db_url, site_port, smtp_port))
        env = dict(os.environ, NASHRA_LOG="warn")
        env.pop("DATABASE_URL", None)
        run(["collect"], cfg, env)
        if n not in csv_cache:
            csv_cache[n] = os.path.join(tempfile.gettempdir(), f"nashra-bench-readers-{n}.csv")
            readers_csv(csv_cache[n], n)
        import_wall, import_rss, _ = run(["subscribers", "import", csv_cache[n], "--confirmed"], cfg, env)
        size = (lambda: sqlite_size(folder)) if backend == "sqlite" else (lambda: int(psql(db_url, "SELECT pg_database_size(current_database())")))
        before = size()
        wall, rss, out = run(["digest", "send"], cfg, env)
        after = size()
        sent = int(re.search(r"(\d+) sent", out).group(1)) if re.search(r"(\d+) sent", out) else 0
        grown = (after - before) / max(sent, 1)
        print(
            f"  {backend:<9} {n:>9,} readers: import {import_wall:6.1f} s ({n / import_wall:,.0f}/s, {import_rss:5.0f} MB); "
            f"digest send {wall:7.1f} s, {sent:,} sent ({sent / wall:,.0f}/s), peak {rss:5.0f} MB, "
            f"database +{grown:,.0f} B a message",
            flush=True,
        )
        if backend == "postgres":
            psql(pg_admin, f"DROP DATABASE IF EXISTS nashra_bench_{n} WITH (FORCE)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default=os.environ.get("NASHRA_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "nashra", "--example", "smtp_sink"], cwd=ROOT, check=True)
    sink = subprocess.Popen([SINK, "--ignore-stdin"], stdout=subprocess.PIPE, text=True)
    smtp_port = int(sink.stdout.readline().split()[1])
    site = serve_demo()
    csv_cache = {}
    print(f"digest editions (4 SMTP connections to a local sink; {os.cpu_count()} cores):")
    try:
        for backend in args.backends.split(","):
            for n in [int(s) for s in args.sizes.split(",")]:
                one(backend, n, args.postgres, smtp_port, site.server_address[1], csv_cache)
    finally:
        sink.terminate()
        print("  sink:", sink.stdout.read().strip())
        site.shutdown()
        for path in csv_cache.values():
            os.remove(path)


if __name__ == "__main__":
    main()
