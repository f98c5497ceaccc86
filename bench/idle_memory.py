#!/usr/bin/env python3
"""Memory per idle IMAP connection: 1,000 connections logged in, INBOX selected, in IDLE.
Sums RSS and PSS (/proc/PID/smaps_rollup) of every Postern process of a fresh appliance
(started via tests/integration/harness.py) before and after; prints KB per connection.

    python3 bench/idle_memory.py [--connections 1000] [--workers 0] [--threads 8] [--keep]
"""

import argparse
import concurrent.futures
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(max(soft, need), hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        raise SystemExit("open-file limit %d < %d needed (hard limit %s)" % (soft, need, hard))
    return soft


def proc_kb(pid, path, key):
    try:
        with open("/proc/%d/%s" % (pid, path)) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(app):
    """{name: (rss_kb, pss_kb)} of every process of this appliance (master included)."""
    out = {}
    for pid in sorted(set(harness.pids_with_cmdline(app.tmp)) | {app.proc.pid}):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        name = os.path.basename(argv[0].decode())
        if b"--name" in argv:
            name = argv[argv.index(b"--name") + 1].decode()
        out["%s[%d]" % (name, pid)] = (proc_kb(pid, "status", "VmRSS"),
                                       proc_kb(pid, "smaps_rollup", "Pss"))
    return out


def show(title, m):
    print(title)
    for k, (rss, pss) in sorted(m.items()):
        print("  %-28s RSS %8d KB  PSS %8d KB" % (k, rss, pss))
    rss, pss = sum(v[0] for v in m.values()), sum(v[1] for v in m.values())
    print("  %-28s RSS %8d KB  PSS %8d KB" % ("total", rss, pss))
    return rss, pss, m


def open_one(app):
    c = harness.RawImap(app.imap_port, timeout=60)
    c.login()
    _, tagged = c.command("SELECT INBOX")
    if b" OK" not in tagged:
        raise RuntimeError("SELECT failed: %r" % tagged)
    c.send("i IDLE\r\n")
    line = c.readline(timeout=60)
    if not line.startswith(b"+"):
        raise RuntimeError("IDLE refused: %r" % line)
    return c


def open_idle(app, n, threads):
    """n connections in IDLE, opened by `threads` clients at a time (LOGIN is a slow hash)."""
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        futures = [ex.submit(open_one, app) for _ in range(n)]
        conns = [f.result() for f in futures]
    return conns, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=0, help="imap.workers (0 = one per core)")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds to wait before measuring")
    ap.add_argument("--warmup", type=int, default=None,
                    help="sessions opened and closed before measuring (default: --connections)")
    ap.add_argument("--threads", type=int, default=8, help="connections opened at a time")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    if args.warmup is None:
        args.warmup = args.connections

    # Our client sockets, and the children inherit the limit from us.
    limit = raise_fd_limit(args.connections * 2 + 256)
    print("open-file limit %d" % limit)
    if args.keep:
        os.environ["POSTERN_KEEP_TMP"] = "1"
    # One user holds every session: lift the per-user limit (default 10) and the
    # evaluation licence is per-seat, so all sessions share one seat.
    app = harness.Appliance(imap_workers=args.workers, log_level="warn",
                            extra_config={"limits.max_connections_per_user": "1000"})
    app.start()
    conns = []
    try:
        app.deliver("demo", harness.make_message(1))
        # Warm up, so that what logins allocate once (thread pools, malloc arenas) is in
        # "before" and not counted per idle connection.
        # As many logins as measured, at the same concurrency: stored's scrypt needs 16 MB
        # of scratch per concurrent hash, which glibc keeps in per-thread arenas.
        warm, took = open_idle(app, args.warmup, args.threads)
        for c in warm:
            c.send("DONE\r\n")
            c.command("LOGOUT")
            c.close()
        print("warm-up: %d sessions opened and closed in %.1fs" % (len(warm), took))
        time.sleep(args.settle)
        before = show("before (%d idle connections: 0)" % args.connections, measure(app))

        conns, took = open_idle(app, args.connections, args.threads)
        print("opened %d connections (LOGIN, SELECT INBOX, IDLE) in %.1fs"
              % (len(conns), took))
        time.sleep(args.settle)
        st = app.status()
        print("status: connections=%s authenticated=%s" % (st.get("connections"),
                                                           st.get("authenticated")))
        after = show("after (%d idle connections)" % len(conns), measure(app))

        # Everybody is still there and IDLE still works: a delivery reaches a sample.
        app.deliver("demo", harness.make_message(2))
        for c in conns[:: max(1, len(conns) // 10)]:
            line = c.readline(timeout=5)
            if line != b"* 2 EXISTS\r\n":
                raise SystemExit("an idle connection got %r, want * 2 EXISTS" % line)
        n = len(conns)
        print("per connection, by process kind (PSS):")
        kinds = {}
        for k in set(before[2]) | set(after[2]):
            kind = k.split("[")[0].split("#")[0]
            d = after[2].get(k, (0, 0))[1] - before[2].get(k, (0, 0))[1]
            kinds[kind] = kinds.get(kind, 0) + d
        for kind, d in sorted(kinds.items()):
            print("  %-16s %8.1f KB" % (kind, d / n))
        print("per idle IMAP connection: RSS %.1f KB, PSS %.1f KB"
              % ((after[0] - before[0]) / n, (after[1] - before[1]) / n))
    except BaseException:
        app.failed = True
        app.dump_log()
        for c in conns:
            c.close()
        app.kill()
        raise
    for c in conns:
        c.close()
    app.stop(timeout=30)


if __name__ == "__main__":
    main()
