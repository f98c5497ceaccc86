#!/usr/bin/env python3
"""Postern and Dovecot side by side: every workload of bench/loadgen against both servers,
alternately (A B A B ...), each figure printed as median, min and max with the ratio
Postern / Dovecot and the target of the bench issue.

    python3 bench/run.py --quick                  # small sizes, 1 round: a smoke check
    python3 bench/run.py                          # the issue's sizes, 3 rounds
    python3 bench/run.py --only sync,search --sync-messages 20000 --rounds 5

Installs nothing. Needs Debian's dovecot-imapd, dovecot-pop3d and dovecot-lmtpd (says how
to install them when missing; the system service must not run) and a Postern build (the
build tree, default ../build, or --postern-build DIR with the same layout). Builds
bench/loadgen into <build>/bench on first use (meson + ninja, under the build lock).

Both servers run from temp dirs on 127.0.0.1, on free ports; every loop is bounded in count
and time; every response is checked by the load generator (a failed check fails the
figure, never silently). Postern: harness.Appliance from tests/integration (one worker per
core, limits raised for the load, a generated licence with enough seats). Dovecot: see
bench/dovecot.py (maildir, default fsync, passwd-file users).
"""

import argparse
import concurrent.futures
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import dovecot  # noqa: E402

PASSWORD = "bench-pw-1"
SEED = 1

# (workload key, metric, unit, better, target ratio or None, absolute target text)
# better: "higher" or "lower"; target: Postern/Dovecot must be >= (higher) / <= (lower).
METRICS = [
    ("deliver", "msg_per_s", "msg/s", "higher", 10, None),
    ("append1", "msg_per_s", "msg/s", "higher", 5, None),
    ("append4", "msg_per_s", "msg/s", "higher", 5, None),
    ("sync", "login_select_ms", "ms", "lower", 1, None),
    ("sync", "select_ms", "ms", "lower", None, None),
    ("sync", "uid_fetch_flags_ms", "ms", "lower", 1, None),
    ("sync", "envelope_first_s", "s", "lower", 0.2, None),
    ("sync", "envelope_repeat_s", "s", "lower", 0.5, None),
    ("sync", "bodystructure_first_s", "s", "lower", 0.2, None),
    ("sync", "bodystructure_repeat_s", "s", "lower", 1, None),
    ("search", "search_subject_ms", "ms", "lower", 1, None),
    ("search", "search_body_ms", "ms", "lower", 0.05, None),
    ("search", "search_text_ms", "ms", "lower", 0.05, None),
    ("stream", "mb_per_s", "MB/s", "higher", 1, None),
    ("idle", "pss_kb_per_conn", "KB", "lower", None, ("<=", 25)),
    ("idle", "pss_nonfile_kb_per_conn", "KB", "lower", None, ("<=", 25)),
    ("idle", "notify_p50_ms", "ms", "lower", None, None),
    ("idle", "notify_p99_ms", "ms", "lower", None, ("<=", 100)),
    ("mixed", "ops_per_s", "ops/s", "higher", 2, None),
    ("mixed", "op_p99_ms", "ms", "lower", 1, None),
    ("connect", "per_s", "/s", "higher", 5, None),
    ("connect_tls", "per_s", "/s", "higher", 5, None),
    ("pop3", "seconds", "s", "lower", 1, None),
]
ORDER = ["deliver", "append", "sync", "search", "stream", "pop3", "mixed", "connect", "idle"]


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# --- servers ------------------------------------------------------------------------------

class PosternServer:
    name = "postern"

    def __init__(self, build, max_connections):
        os.environ["POSTERN_BUILD"] = build
        sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
        import harness
        self.harness = harness
        self.build = build
        self.max_connections = max_connections
        self.app = None
        self.keydir = None

    def version(self):
        # A copied build may carry the commit it was built from in a REV file.
        try:
            with open(os.path.join(self.build, "REV")) as f:
                rev = f.read().strip() + " (REV file)"
        except OSError:
            try:
                rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                                     capture_output=True, text=True, timeout=10).stdout.strip()
            except OSError:
                rev = "?"
        buildtype = "?"
        try:
            with open(os.path.join(self.build, "meson-info", "intro-buildoptions.json")) as f:
                for o in json.load(f):
                    if o["name"] == "buildtype":
                        buildtype = o["value"]
        except (OSError, ValueError, KeyError):
            pass
        return "Postern %s (%s, buildtype=%s)" % (rev, self.build, buildtype)

    def start(self):
        self.keydir = tempfile.mkdtemp(prefix="bench-lic-", dir="/tmp")
        key = os.path.join(self.keydir, "vendor")
        ctl = self.harness.CTL
        subprocess.run([ctl, "licence", "keygen", "--out", key], check=True, capture_output=True,
                       timeout=30)
        lic = subprocess.run([ctl, "licence", "issue", "--private-key", key + ".key",
                              "--licensee", "Benchmark", "--seats", "100000", "--mode",
                              "per-seat", "--expires", "never"], check=True,
                             capture_output=True, text=True, timeout=30).stdout
        with open(os.path.join(self.keydir, "bench.lic"), "w") as f:
            f.write(lic)
        self.app = self.harness.Appliance(
            imap_workers=0, pop3_workers=0, lmtp_workers=0, log_level="warn",
            extra_config={
                "limits.max_connections": str(min(25000, 2 * self.max_connections + 100)),
                "limits.max_connections_per_ip": "1000",
                "limits.max_connections_per_user": "1000",
                "store.map_size_mb": "65536",
                "licence.public_keys": key + ".pub",
                "shutdown_grace_ms": "5000",
                # A/B of a setting: POSTERN_EXTRA_CONFIG="store.write_ahead_mb=0,..."
                **dict(kv.split("=", 1) for kv in
                       os.environ.get("POSTERN_EXTRA_CONFIG", "").split(",") if "=" in kv),
            })
        self.app.start(timeout=30)
        self.app.ctl("licence", "install", os.path.join(self.keydir, "bench.lic"))
        self.ports = {"imap": self.app.imap_port, "imaps": self.app.imaps_port,
                      "pop3": self.app.pop3_port, "lmtp": self.app.lmtp_port}
        return self

    def add_users(self, names, password):
        def add(name):
            self.app.ctl("user", "add", name, "--password", password)
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            list(ex.map(add, names))

    def pids(self):
        pids = set(self.harness.pids_with_cmdline(self.app.tmp))
        if self.app.proc and self.app.proc.poll() is None:
            pids.add(self.app.proc.pid)
        return sorted(pids)

    def du(self):
        total = 0
        for r, _, fs in os.walk(os.path.join(self.app.data_dir, "store")):
            for f in fs:
                total += os.lstat(os.path.join(r, f)).st_blocks * 512
        return total

    def tail(self):
        return "\n".join(self.app.log_text().splitlines()[-30:])

    def stop(self, keep=False):
        if self.app is not None:
            if keep:
                os.environ["POSTERN_KEEP_TMP"] = "1"
            try:
                self.app.stop(timeout=30)
            except Exception as e:  # noqa: BLE001 - reported, then everything is killed
                log("postern stop: %s" % e)
                self.app.kill()
        if self.keydir:
            shutil.rmtree(self.keydir, ignore_errors=True)


class DovecotServer:
    name = "dovecot"

    def __init__(self, max_connections):
        self.d = dovecot.Dovecot(max_connections=max_connections)

    def version(self):
        return "Dovecot " + dovecot.version()

    def start(self):
        self.d.start()
        self.ports = {"imap": self.d.imap_port, "imaps": self.d.imaps_port,
                      "pop3": self.d.pop3_port, "lmtp": self.d.lmtp_port}
        return self

    def add_users(self, names, password):
        self.d.add_users(names, password)

    def pids(self):
        return self.d.pids()

    def du(self):
        return self.d.du()

    def tail(self):
        return self.d.tail(30)

    def stop(self, keep=False):
        self.d.stop(keep=keep)


# --- measuring ----------------------------------------------------------------------------

def pss_kb(pids):
    """(PSS, PSS of file-backed pages) in KB summed over pids, from smaps_rollup. Postern's
    PSS holds stored's LMDB map (the whole mail store once read), which grows and shrinks
    by megabytes with every read; PSS minus Pss_File is what sessions cost."""
    total = files = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                    elif line.startswith("Pss_File:"):
                        files += int(line.split()[1])
        except OSError:
            pass
    return total, files


class LoadgenError(RuntimeError):
    pass


class Bench:
    def __init__(self, args, loadgen):
        self.args = args
        self.loadgen = loadgen

    def base_args(self, server):
        p = server.ports
        return ["--imap-port", str(p["imap"]), "--imaps-port", str(p["imaps"] or 0),
                "--pop3-port", str(p["pop3"]), "--lmtp-port", str(p["lmtp"]),
                "--password", PASSWORD, "--seed", str(SEED)] + (
                    ["--quick-ack"] if self.args.quick_ack else [])

    def run(self, server, workload, extra, timeout=None):
        timeout = timeout or self.args.max_seconds + 120
        cmd = [self.loadgen, workload] + self.base_args(server) + [
            "--max-seconds", str(self.args.max_seconds)] + [str(a) for a in extra]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LoadgenError("%s on %s: no result within %ss" % (workload, server.name, timeout))
        for line in r.stderr.splitlines():
            log("  %s: %s" % (server.name, line))
        if r.returncode != 0:
            raise LoadgenError("%s on %s failed (exit %d): %s" % (
                workload, server.name, r.returncode, r.stderr.strip().splitlines()[-1:]))
        for line in reversed(r.stdout.splitlines()):
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        raise LoadgenError("%s on %s printed no RESULT" % (workload, server.name))

    def run_idle(self, server, extra):
        """idle with memory: PSS of every server process before, and with all sessions idle."""
        time.sleep(1.0)
        before = pss_kb(server.pids())
        cmd = [self.loadgen, "idle", "--wait-stdin"] + self.base_args(server) + [
            "--max-seconds", str(self.args.max_seconds)] + [str(a) for a in extra]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + self.args.max_seconds + 60
            line = ""
            while not line.startswith("READY"):
                left = deadline - time.monotonic()
                ready, _, _ = select.select([p.stdout], [], [], max(0.0, min(left, 5)))
                if ready:
                    line = p.stdout.readline()
                    if not line:
                        break
                if p.poll() is not None or time.monotonic() > deadline:
                    break
            if not line.startswith("READY"):
                p.kill()
                _, err = p.communicate(timeout=30)
                raise LoadgenError("idle on %s: sessions did not open: %s" % (
                    server.name, err.strip().splitlines()[-1:]))
            sessions = int(line.split()[1])
            time.sleep(2.0)  # let the servers settle
            after = pss_kb(server.pids())
            p.stdin.write("go\n")
            p.stdin.flush()
            out, err = p.communicate(timeout=self.args.max_seconds + 60)
        except BaseException:
            if p.poll() is None:
                p.kill()
                p.wait(10)
            raise
        for l in err.splitlines():
            log("  %s: %s" % (server.name, l))
        if p.returncode != 0:
            raise LoadgenError("idle on %s failed: %s" % (server.name, err.strip().splitlines()[-1:]))
        res = None
        for l in reversed(out.splitlines()):
            if l.startswith("RESULT "):
                res = json.loads(l[7:])
                break
        if res is None:
            raise LoadgenError("idle on %s printed no RESULT" % server.name)
        res["pss_before_kb"], res["pss_after_kb"] = before[0], after[0]
        res["pss_kb_per_conn"] = (after[0] - before[0]) / sessions
        res["pss_nonfile_kb_per_conn"] = ((after[0] - after[1]) - (before[0] - before[1])) / sessions
        log("  %s: PSS of all server processes %d KB -> %d KB: %.1f KB per idle connection; "
            "without file-backed pages %d KB -> %d KB: %.1f KB per connection"
            % (server.name, before[0], after[0], res["pss_kb_per_conn"], before[0] - before[1],
               after[0] - after[1], res["pss_nonfile_kb_per_conn"]))
        return res


# --- the run ------------------------------------------------------------------------------

def sizes(args):
    q = args.quick
    s = {
        "deliver": args.deliver_messages or (500 if q else 5000),
        "append": args.append_messages or (300 if q else 2000),
        "sync": args.sync_messages or (2000 if q else 100000),
        "stream": 1000,
        "pop3": 1000,
        "mixed_clients": args.mixed_clients or (10 if q else 100),
        "mixed_messages": args.mixed_messages or (50 if q else 200),
        "duration": args.duration or (3 if q else 15),
        "idle_sessions": [int(x) for x in (args.idle_sessions or ("100" if q else "1000,10000")).split(",")],
        "idle_users": args.idle_users or (25 if q else 250),
        "connect_clients": 4,
    }
    return s


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024 // 1024
    debian = "?"
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        pass
    load = os.getloadavg()
    return "%d cores (%s), %d GiB, Debian %s, Linux %s; load average at start %.2f" % (
        os.cpu_count(), cpu, mem, debian, platform.release(), load[0])


def ensure_loadgen(args):
    if args.loadgen:
        return args.loadgen
    bdir = os.path.join(ROOT, "build", "bench")
    exe = os.path.join(bdir, "loadgen", "postern-loadgen")
    if not os.path.exists(os.path.join(bdir, "build.ninja")):
        log("setting up %s (meson setup, bench/ is a separate project)" % bdir)
        subprocess.run(["meson", "setup", bdir, HERE], check=True, timeout=300,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["flock", "/tmp/postern-build.lock", "ninja", "-C", bdir], check=True,
                   timeout=1200, stdout=subprocess.DEVNULL)
    return exe


# Filling mailboxes is not measured: the client ACKs at once there so that a server's
# Nagle + delayed-ACK stalls do not make the preparation slow.
FILL = ["--quick-ack"]


def prepare(bench, server, sz, wanted):
    """Users and mailboxes every workload needs, filled through LMTP (not measured)."""
    rounds = bench.args.rounds
    users = ["sync1", "pop1", "conn1"]
    users += ["dlv%d" % r for r in range(1, rounds + 1)]
    users += ["app1x%d" % r for r in range(1, rounds + 1)]
    users += ["app4x%d" % r for r in range(1, rounds + 1)]
    users += ["mix%d" % i for i in range(1, sz["mixed_clients"] + 1)]
    users += ["idle%d" % i for i in range(1, sz["idle_users"] + 1)]
    t = time.monotonic()
    server.add_users(users, PASSWORD)
    log("%s: %d users added in %.1fs" % (server.name, len(users), time.monotonic() - t))
    info = {}
    if wanted & {"sync", "search", "stream"} and server.name == "dovecot" and sz["sync"] >= 20000:
        # LMTP into a maildir that grows to 100,000 files slows to ~50 msg/s here (over half
        # an hour): write the files as LMTP would, and let Dovecot index them (untimed).
        t = time.monotonic()
        server.d.fill_maildir("sync1", bench.loadgen, SEED, 0, sz["sync"])
        log("%s: sync maildir written and indexed with %d messages in %.1fs"
            % (server.name, sz["sync"], time.monotonic() - t))
    elif wanted & {"sync", "search", "stream"}:
        t = time.monotonic()
        r = bench.run(server, "deliver", ["--user", "sync1", "--messages", sz["sync"], "--sessions", 4,
                                          "--pregen-mb", 256] + FILL, timeout=bench.args.max_seconds * 4)
        info["fill_sync_msg_per_s"] = r["msg_per_s"]
        log("%s: sync mailbox filled with %d messages in %.1fs (%.0f msg/s)"
            % (server.name, sz["sync"], time.monotonic() - t, r["msg_per_s"]))
    if "pop3" in wanted:
        bench.run(server, "deliver", ["--user", "pop1", "--messages", sz["pop3"], "--sessions", 4] + FILL)
    if "mixed" in wanted:
        bench.run(server, "deliver", ["--user", "mix%d", "--users", sz["mixed_clients"],
                                      "--messages", sz["mixed_clients"] * sz["mixed_messages"],
                                      "--first", 5000000, "--sessions", 4] + FILL)
    return info


def one(bench, server, workload, rnd, sz):
    """Runs one workload once; returns {result key: result dict}."""
    d = sz["duration"]
    if workload == "deliver":
        return {"deliver": bench.run(server, "deliver", [
            "--user", "dlv%d" % rnd, "--messages", sz["deliver"], "--sessions", 4,
            "--first", 1000000])}
    if workload == "append":
        return {"append1": bench.run(server, "append", [
            "--user", "app1x%d" % rnd, "--messages", sz["append"], "--sessions", 1,
            "--first", 2000000]),
            "append4": bench.run(server, "append", [
                "--user", "app4x%d" % rnd, "--messages", sz["append"], "--sessions", 4,
                "--first", 2000000])}
    # Big mailboxes: fewer repetitions inside a run (the rounds repeat too).
    reps = 3 if sz["sync"] <= 20000 else 2
    if workload == "sync":
        extra = ["--user", "sync1", "--messages", sz["sync"], "--repeat", reps, "--timeout", 600]
        if rnd == 1:
            extra.append("--first-time")
        return {"sync": bench.run(server, "sync", extra)}
    if workload == "search":
        return {"search": bench.run(server, "search", [
            "--user", "sync1", "--messages", sz["sync"], "--repeat", reps - 1, "--timeout", 600])}
    if workload == "stream":
        return {"stream": bench.run(server, "stream", [
            "--user", "sync1", "--messages", sz["sync"], "--count", sz["stream"], "--repeat", 3])}
    if workload == "pop3":
        return {"pop3": bench.run(server, "pop3", [
            "--user", "pop1", "--messages", sz["pop3"], "--repeat", 3])}
    if workload == "mixed":
        return {"mixed": bench.run(server, "mixed", [
            "--user", "mix%d", "--users", sz["mixed_clients"], "--sessions", sz["mixed_clients"],
            "--duration", d])}
    if workload == "connect":
        return {"connect": bench.run(server, "connect", [
            "--user", "conn1", "--sessions", sz["connect_clients"], "--duration", d]),
            "connect_tls": bench.run(server, "connect", [
                "--user", "conn1", "--sessions", sz["connect_clients"], "--duration", d, "--tls"])}
    if workload == "idle":
        out = {}
        for n in sz["idle_sessions"]:
            key = "idle" if n == sz["idle_sessions"][0] else "idle%d" % n
            out[key] = bench.run_idle(server, [
                "--user", "idle%d", "--users", sz["idle_users"], "--sessions", n,
                "--first", rnd * 10 + len(out), "--timeout", 120])
        return out
    raise ValueError(workload)


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    if abs(v) >= 10:
        return "%.1f" % v
    if abs(v) >= 1:
        return "%.2f" % v
    return "%.3g" % v


def settle():
    """Writes back every dirty page (sync(2)) and waits for writeback to finish, then for
    the machine to be quiet: the previous round's processes gone (Dovecot's 10,000 IDLE
    sessions are 10,000 processes, which take seconds to exit)."""
    os.sync()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        dirty = 0
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(("Dirty:", "Writeback:")):
                    dirty += int(line.split()[1])
        if dirty < 4096:  # KB
            break
        time.sleep(0.1)
    # Quiet: at most 2 runnable tasks (this one included) in 5 samples in a row.
    deadline = time.monotonic() + 60
    quiet = 0
    while quiet < 5 and time.monotonic() < deadline:
        with open("/proc/loadavg") as f:
            runnable = int(f.read().split()[3].split("/")[0])
        quiet = quiet + 1 if runnable <= 2 else 0
        time.sleep(0.1)


def table(results, servers, rounds_done):
    """Markdown table: workload, metric, each server median (min-max), ratio, target."""
    lines = ["| workload | measure | Postern median (min-max) | Dovecot median (min-max) | "
             "ratio P/D | target | |",
             "|---|---|---|---|---|---|---|"]
    metrics = list(METRICS)
    extra_idle = sorted({k for k in results if k.startswith("idle") and k != "idle"})
    for k in extra_idle:
        metrics += [(k, m, u, b, t, a) for (w, m, u, b, t, a) in METRICS if w == "idle"]
    for (w, metric, unit, better, target, absolute) in metrics:
        cells, meds = [], {}
        for s in ("postern", "dovecot"):
            vals = results.get(w, {}).get(s, {}).get(metric)
            err = results.get(w, {}).get(s, {}).get("error")
            if vals:
                med = statistics.median(vals)
                meds[s] = med
                cells.append("%s %s (%s-%s)%s" % (fmt(med), unit, fmt(min(vals)), fmt(max(vals)),
                                                  "" if len(vals) > 1 else " n=1"))
            elif err:
                cells.append("FAILED")
            else:
                cells.append("-")
        if all(c == "-" for c in cells):
            continue
        ratio = None
        if "postern" in meds and "dovecot" in meds and meds["dovecot"]:
            ratio = meds["postern"] / meds["dovecot"]
        tgt, verdict = "", ""
        if target is not None:
            tgt = "%s %sx" % (">=" if better == "higher" else "<=", fmt(target))
            if ratio is not None:
                ok = ratio >= target if better == "higher" else ratio <= target
                verdict = "met" if ok else "**missed**"
        if absolute is not None:
            tgt = "%s %s %s" % (absolute[0], fmt(absolute[1]), unit)
            if "postern" in meds:
                verdict = "met" if meds["postern"] <= absolute[1] else "**missed**"
        label = {"append1": "append (1 conn)", "append4": "append (4 conn)",
                 "connect_tls": "connect (TLS)"}.get(w, w)
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            label, metric, cells[0], cells[1], "%.3gx" % ratio if ratio is not None else "-",
            tgt, verdict))
    return "\n".join(lines)


def main():
    # A SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the servers are stopped.
    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 round (smoke check)")
    ap.add_argument("--rounds", type=int, default=None, help="A B rounds (default 3; --quick 1)")
    ap.add_argument("--only", default="", help="comma-separated workloads: " + ",".join(ORDER))
    ap.add_argument("--servers", default="postern,dovecot", help="postern,dovecot or one of them")
    ap.add_argument("--postern-build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--loadgen", default="", help="postern-loadgen binary (default: build it)")
    ap.add_argument("--deliver-messages", type=int, default=0)
    ap.add_argument("--append-messages", type=int, default=0)
    ap.add_argument("--sync-messages", type=int, default=0, help="big INBOX (default 100000)")
    ap.add_argument("--mixed-clients", type=int, default=0)
    ap.add_argument("--mixed-messages", type=int, default=0, help="initial messages per client")
    ap.add_argument("--idle-sessions", default="", help="e.g. 1000,10000")
    ap.add_argument("--idle-users", type=int, default=0)
    ap.add_argument("--duration", type=float, default=0, help="seconds of mixed / connect")
    ap.add_argument("--max-seconds", type=float, default=900, help="bound of every loadgen loop")
    ap.add_argument("--quick-ack", action="store_true",
                    help="clients ACK every segment at once (TCP_QUICKACK): shows what a "
                         "server's Nagle + delayed-ACK stalls cost; not how real clients behave")
    ap.add_argument("--json", default="", help="write all results to this file")
    ap.add_argument("--keep", action="store_true", help="keep the servers' temp dirs")
    args = ap.parse_args()
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    wanted = [w for w in ORDER if not args.only or w in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(ORDER) - {""}
    if unknown:
        ap.error("unknown workload(s): %s" % ",".join(sorted(unknown)))
    names = [s for s in args.servers.split(",") if s]
    if "dovecot" in names and dovecot.missing():
        print(dovecot.install_hint(), file=sys.stderr)
        print("missing: %s" % " ".join(dovecot.missing()), file=sys.stderr)
        return 2
    if "postern" in names and not os.access(os.path.join(args.postern_build, "master",
                                                         "postern-master"), os.X_OK):
        print("no Postern build in %s (ninja -C build, or --postern-build DIR)"
              % args.postern_build, file=sys.stderr)
        return 2
    sz = sizes(args)
    max_conn = max(sz["idle_sessions"] + [sz["mixed_clients"]]) + 100
    # The idle workload holds one socket per session on the client side.
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * max_conn + 1024)) if hard != resource.RLIM_INFINITY else 4 * max_conn + 1024
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if "dovecot" in names and "idle" in wanted:
        # Every Dovecot mail process runs as one uid here (as with virtual users); each IDLE
        # takes an inotify instance, and past the per-uid limit Dovecot falls back to
        # polling every 30 s (mailbox_idle_check_interval).
        try:
            with open("/proc/sys/fs/inotify/max_user_instances") as f:
                inotify = int(f.read())
        except (OSError, ValueError):
            inotify = 0
        if inotify and inotify < max(sz["idle_sessions"]) + 200:
            log("WARNING: fs.inotify.max_user_instances = %d: Dovecot's IDLE sessions beyond it "
                "poll every 30 s. Raise it for a fair idle figure: sysctl -w "
                "fs.inotify.max_user_instances=%d" % (inotify, 2 * max(sz["idle_sessions"]) + 1000))
    loadgen = ensure_loadgen(args)
    bench = Bench(args, loadgen)

    servers = []
    for n in names:
        servers.append(PosternServer(args.postern_build, max_conn) if n == "postern"
                       else DovecotServer(max_conn))
    header = {"machine": machine(), "versions": [s.version() for s in servers],
              "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
              "sizes": sz, "rounds": args.rounds, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    log("machine: %s" % header["machine"])
    for v in header["versions"]:
        log("server: %s" % v)
    results = {}   # result key -> server -> metric -> [values]
    failed = False
    try:
        for s in servers:
            log("starting %s" % s.name)
            s.start()
        for s in servers:
            info = prepare(bench, s, sz, set(wanted))
            for k, v in info.items():
                results.setdefault("fill", {}).setdefault(s.name, {}).setdefault(k, []).append(v)
        for w in wanted:
            for rnd in range(1, args.rounds + 1):
                for s in servers:
                    log("%s round %d/%d on %s" % (w, rnd, args.rounds, s.name))
                    # The other server's round may have left dirty pages (maildir
                    # files, index files, the LMDB map); on ext4 (data=ordered) the
                    # next fsync waits for their writeback, so the next round would
                    # pay for the last one. Write them back first, for both servers.
                    settle()
                    try:
                        out = one(bench, s, w, rnd, sz)
                    except LoadgenError as e:
                        log("FAILED: %s" % e)
                        log("server log tail:\n%s" % s.tail())
                        failed = True
                        results.setdefault(w, {}).setdefault(s.name, {})["error"] = str(e)
                        continue
                    for key, res in out.items():
                        slot = results.setdefault(key, {}).setdefault(s.name, {})
                        for m, v in res.items():
                            if isinstance(v, (int, float)):
                                slot.setdefault(m, []).append(v)
        for s in servers:
            with_du = s.du()
            results.setdefault("disk", {}).setdefault(s.name, {})["mb"] = [with_du / 1e6]
    finally:
        for s in servers:
            log("stopping %s" % s.name)
            s.stop(keep=args.keep)
    header["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    print("\n## %s, %d round(s), %s%s\n" % (header["started"], args.rounds,
                                             "quick" if args.quick else "full",
                                             ", clients with TCP_QUICKACK" if args.quick_ack else ""))
    print("- machine: %s" % header["machine"])
    for v in header["versions"]:
        print("- %s" % v)
    print("- sizes: %s" % json.dumps(sz))
    print("- disk used after the run: %s\n" % ", ".join(
        "%s %.0f MB" % (k, v["mb"][0]) for k, v in results.get("disk", {}).items()))
    print(table(results, servers, args.rounds))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "results": results}, f, indent=1)
    if failed:
        print("\nSOME WORKLOADS FAILED (see the log above)")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the servers were stopped", file=sys.stderr)
        sys.exit(130)
