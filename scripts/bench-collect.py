#!/usr/bin/env python3
"""Collection benchmark: peak memory of one `nashra collect` pass over a site of N article pages
(default 1000), as a ratio against the same pass over 10 pages measured in the same run; the
pass's wall time; and how many HTTP requests a second pass over the unchanged site makes (with
conditional GET: the listing page only, answered 304).

The site is made from the demo pages (distinct URLs and titles) and served by Python's
http.server, an independent server that answers If-Modified-Since with 304.

    python3 scripts/bench-collect.py [N]
"""
import os
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
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


class Logged(SimpleHTTPRequestHandler):
    requests = []

    def log_message(self, fmt, *args):
        pass

    def log_request(self, code="-", size="-"):
        Logged.requests.append((self.path, int(code) if str(code).isdigit() else code))


def make_site(folder, n):
    os.makedirs(os.path.join(folder, "articles"))
    sources = sorted(os.listdir(os.path.join(ROOT, "demo", "articles")))
    links = []
    for i in range(n):
        src = sources[i % len(sources)]
        html = open(os.path.join(ROOT, "demo", "articles", src), encoding="utf-8").read()
        name = f"a{i:05d}-{src}"
        html = html.replace(f"/demo/articles/{src}", f"/articles/{name}")
        html = re.sub(r'(<h1 class="article-title">)', rf"\g<1>[{i}] ", html)
        open(os.path.join(folder, "articles", name), "w", encoding="utf-8").write(html)
        links.append(f'<li><a class="article-link" href="articles/{name}">{i}</a></li>')
    index = '<html lang="ar" dir="rtl"><meta charset="utf-8"><ul class="latest">' + "".join(links) + "</ul></html>"
    open(os.path.join(folder, "index.html"), "w", encoding="utf-8").write(index)


def config(folder, port, n):
    return f"""
[site]
title = "bench"
base_url = "http://127.0.0.1:1/"
time_zone = "Africa/Cairo"
[database]
url = "sqlite:{folder}/nashra.db"
[collect]
max_articles_per_source = {n}
per_host_delay_ms = 0
per_host_concurrency = 4
[feeds]
dir = "{ROOT}/feeds"
output_dir = "{folder}/out"
[mail]
from = "bench <b@example.org>"
outbox_dir = "{folder}/outbox"
templates_dir = "{ROOT}/email-templates"
[[sources]]
name = "bench"
kind = "html"
url = "http://127.0.0.1:{port}/index.html"
[sources.selectors]
links = "ul.latest a.article-link"
title = "h1.article-title"
date = ".date-line"
author = ".author"
section = ".section"
body = ".article-body"
keywords = ".keywords a[rel~=tag]"
remove = [".ad", ".print", ".share", "figure"]
"""


def collect(binary, cfg):
    """Runs one collect pass in a fresh child; returns (seconds, its peak RSS in KiB, summary)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.monotonic()
        child = subprocess.Popen([binary, "--config", cfg, "collect"], stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - start
        if status != 0:
            raise SystemExit(f"nashra collect failed (status {status})")
        out.seek(0)
        lines = out.read().strip().splitlines()
    return seconds, usage.ru_maxrss, lines[-1] if lines else ""


def run(binary, n, base):
    site = os.path.join(base, f"site-{n}")
    make_site(site, n)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Logged, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = os.path.join(base, f"nashra-{n}.toml")
    open(cfg, "w").write(config(base + f"/state-{n}", server.server_port, n))
    os.makedirs(base + f"/state-{n}")
    Logged.requests.clear()
    first = collect(binary, cfg)
    first_requests = len(Logged.requests)
    Logged.requests.clear()
    second = collect(binary, cfg)
    second_requests = list(Logged.requests)
    server.shutdown()
    return first, first_requests, second, second_requests


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "nashra")
    base = tempfile.mkdtemp(prefix="nashra-bench-")
    try:
        small = run(binary, 10, base)
        large = run(binary, N, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    (s_first, _, _, _) = small
    (l_first, l_requests, l_second, l_second_requests) = large
    print(f"baseline: a pass over 10 pages: peak RSS {s_first[1] / 1024:.1f} MiB, {s_first[0]:.2f} s")
    print(f"a pass over {N} pages: peak RSS {l_first[1] / 1024:.1f} MiB, {l_first[0]:.2f} s "
          f"({N / l_first[0]:.0f} pages/s), {l_requests} HTTP requests; {l_first[2]}")
    print(f"ratio: peak memory over {N} pages = {l_first[1] / s_first[1]:.2f}x the 10-page pass")
    codes = {}
    for _, code in l_second_requests:
        codes[code] = codes.get(code, 0) + 1
    print(f"second pass over the unchanged site: {len(l_second_requests)} HTTP request(s) "
          f"{sorted(set(p for p, _ in l_second_requests))}, answered {codes}; {l_second[2]}")


if __name__ == "__main__":
    main()
