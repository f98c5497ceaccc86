#!/usr/bin/env python3
"""Profiles Postern alone on one or more bench workloads: starts it with bench/run.py's
configuration, fills the user `sync1` with N generated messages (and `pop1` with 1,000),
then runs each workload once under `perf record -g` of every Postern process.

    python3 bench/profile.py 20000 sync search          # -> /tmp/postern-prof/<workload>.data
    perf report -i /tmp/postern-prof/search.data --no-children --sort comm,dso,sym
    PERF=0 python3 bench/profile.py 20000 search        # the figures only, no perf

Workloads: sync, search, stream, pop3. Prints each loadgen RESULT. Loopback only.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as bench_run  # noqa: E402

OUT = os.environ.get("POSTERN_PROF_DIR", "/tmp/postern-prof")


class Args:
    quick_ack = False
    max_seconds = 600
    rounds = 1


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    n = int(sys.argv[1])
    workloads = sys.argv[2:]
    build = os.environ.get("POSTERN_BUILD", os.path.join(HERE, "..", "build"))
    loadgen = bench_run.ensure_loadgen(type("A", (), {"loadgen": None})())
    bench = bench_run.Bench(Args(), loadgen)
    os.makedirs(OUT, exist_ok=True)
    srv = bench_run.PosternServer(build, 2000).start()
    try:
        srv.add_users(["sync1", "pop1"], bench_run.PASSWORD)
        t = time.monotonic()
        bench.run(srv, "deliver", ["--user", "sync1", "--messages", n, "--sessions", 4,
                                   "--pregen-mb", 256] + bench_run.FILL)
        bench.run(srv, "deliver", ["--user", "pop1", "--messages", 1000, "--sessions", 4]
                  + bench_run.FILL)
        print("filled in %.1fs" % (time.monotonic() - t), flush=True)
        for w in workloads:
            extra = {"sync": ["--user", "sync1", "--messages", n, "--repeat", 2, "--timeout", 600],
                     "search": ["--user", "sync1", "--messages", n, "--repeat", 1, "--timeout", 600],
                     "stream": ["--user", "sync1", "--messages", n, "--count", 1000, "--repeat", 3],
                     "pop3": ["--user", "pop1", "--messages", 1000, "--repeat", 3]}[w]
            perf = None
            if os.environ.get("PERF", "1") == "1":
                pids = ",".join(str(p) for p in srv.pids())
                perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o",
                                         os.path.join(OUT, w + ".data"), "-p", pids],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            r = bench.run(srv, w, extra)
            if perf:
                perf.send_signal(2)
                perf.wait(timeout=60)
            print(w, json.dumps(r), flush=True)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
