"""Starts a real Postern appliance in a temporary directory and talks to it.

Used by every test in this directory and by bench/. Only python3's standard
library. Every wait is bounded; all traffic goes to 127.0.0.1.

    with Appliance() as app:          # or app = Appliance(); app.start(); ...; app.stop()
        app.deliver("demo", msg)      # LMTP
        imap = app.imap()             # imaplib.IMAP4, logged in as demo/demo
        pop = app.pop3()              # poplib.POP3, logged in as demo/demo
        app.ctl("user", "add", "bob", "--password", "x")

The build directory comes from $POSTERN_BUILD (set by meson), else ../../build.
"""

import contextlib
import imaplib
import json
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HOST = "127.0.0.1"
HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("POSTERN_BUILD") or os.path.join(HERE, "..", "..", "build")
MASTER = os.path.join(BUILD, "master", "postern-master")
CTL = os.path.join(BUILD, "ctl", "posternctl")
TIMEOUT = 10  # seconds, for every client socket

imaplib._MAXLINE = 10_000_000  # let imaplib read long responses (FETCH of big messages)


class Failure(AssertionError):
    pass


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Calls pred() until it returns a true value (returned) or timeout expires (raises)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried, reported below
            last_exc = e
        if time.monotonic() >= deadline:
            raise Failure("timed out after %.1fs waiting for %s%s" % (
                timeout, what, " (last error: %r)" % (last_exc,) if last_exc else ""))
        time.sleep(interval)


def run_together(fn, args_list, timeout=60):
    """Runs fn(*args) for every args in args_list, each in its own thread, released at once
    (a barrier). Returns the results in order; an exception becomes ("error", repr(e)).
    Bounded: threads still running after `timeout` leave None in their slot."""
    import threading
    results = [None] * len(args_list)
    go = threading.Barrier(len(args_list) + 1, timeout=timeout)

    def run(i, args):
        try:
            go.wait()
            results[i] = fn(*args)
        except Exception as e:  # noqa: BLE001 - returned to the caller
            results[i] = ("error", repr(e))

    threads = [threading.Thread(target=run, args=(i, a), daemon=True) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    go.wait()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return results


def crlf(text):
    """A message in wire form: str or bytes, any line ends -> bytes with CRLF, ending in CRLF."""
    if isinstance(text, str):
        text = text.encode()
    text = text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text


def make_message(n=1, subject=None, body=None, sender="sender@example.org", to="demo@example.org",
                 extra_headers=""):
    subject = subject or "test message %d" % n
    body = body if body is not None else "Hello number %d.\nSecond line.\n" % n
    return crlf("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <m%d.%s@test>\n"
                "Date: Mon, 01 Jan 2024 10:00:00 +0000\n%s\n%s"
                % (sender, to, subject, n, subject.replace(" ", "-"), extra_headers, body))


TRACE_FIELDS = (b"return-path:", b"received:", b"delivered-to:")


def split_trace(stored):
    """(trace header lines, rest) of a message as stored by LMTP delivery.

    lmtpd prepends trace fields (RFC 5321 4.4: Return-Path, then Received) to what it was
    sent; `rest` is then byte for byte the message the client sent.
    """
    pos = 0
    while True:
        end = stored.find(b"\r\n", pos)
        if end < 0 or not stored[pos:end + 2].lower().startswith(TRACE_FIELDS):
            return stored[:pos], stored[pos:]
        pos = end + 2
        while stored[pos:pos + 1] in (b" ", b"\t"):  # folded continuation lines
            pos = stored.find(b"\r\n", pos) + 2


def untraced(stored):
    """The message as sent: `stored` without the trace fields delivery added."""
    return split_trace(stored)[1]


def pids_with_cmdline(fragment):
    """Pids of live processes whose command line contains `fragment`."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % d, "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z" and fragment.encode() in cmd:
            out.append(int(d))
    return out


def pid_alive(pid):
    """True if pid exists, is not a zombie and runs a postern program."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read()
    except OSError:
        return False
    return stat.rsplit(b")", 1)[1].split()[0] != b"Z" and b"postern" in cmd


def first_line(port, source, timeout=TIMEOUT):
    """(socket, first line) of a connection from address `source`; b'' on EOF without a line."""
    s = socket.create_connection((HOST, port), timeout=timeout, source_address=(source, 0))
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return s, data.split(b"\r\n", 1)[0] + (b"\r\n" if b"\r\n" in data else b"")


def closed_by_server(sock, timeout=5):
    """True once the server closed the connection (reads until EOF, bounded)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(4096):
                return True
    except (socket.timeout, ConnectionResetError):
        return False
    except OSError:
        return True
    return False


class RawClient:
    """A line-oriented TCP client for exact-bytes checks (IMAP IDLE, bad input, LMTP)."""

    def __init__(self, port, timeout=TIMEOUT, source=None):
        # source: a local address to connect from (e.g. "127.0.0.2") to act as another client.
        self.sock = socket.create_connection((HOST, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self, timeout=None):
        """One line including CRLF; raises Failure on EOF or timeout."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise Failure("connection closed by server; unread: %r" % self.buf[:200])
                self.buf += chunk
        except socket.timeout:
            raise Failure("no complete line within timeout; have %r" % self.buf[:200]) from None
        finally:
            if timeout is not None:
                self.sock.settimeout(TIMEOUT)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("connection closed by server")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def rest_until_eof(self, timeout=10):
        """Everything the server still sends until it closes (bounded); None if it does not close."""
        data = self.buf
        self.buf = b""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                chunk = self.sock.recv(4096)
                if not chunk:
                    return data
                data += chunk
        except socket.timeout:
            return None
        except OSError:
            return data
        return None

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()


class RawImap(RawClient):
    """Raw IMAP: command() returns (untagged lines, tagged line) without interpretation."""

    def __init__(self, port, timeout=TIMEOUT, source=None):
        super().__init__(port, timeout, source)
        self.greeting = self.readline()
        self.n = 0

    def tag(self):
        self.n += 1
        return "r%d" % self.n

    def read_until_tagged(self, tag, timeout=None):
        untagged = []
        while True:
            line = self.readline(timeout)
            while not line.startswith(tag.encode() + b" "):
                m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
                if not m:
                    break
                line += self.read_exact(int(m.group(1)))
                line += self.readline(timeout)
            if line.startswith(tag.encode() + b" "):
                return untagged, line
            untagged.append(line)

    def command(self, text, timeout=None):
        tag = self.tag()
        self.send("%s %s\r\n" % (tag, text))
        return self.read_until_tagged(tag, timeout)

    def login(self, user="demo", password="demo"):
        _, t = self.command("LOGIN %s %s" % (user, password))
        if b" OK" not in t:
            raise Failure("raw LOGIN failed: %r" % t)


class RawPop3(RawClient):
    """Raw POP3: cmd() returns the status line, exactly as sent."""

    def __init__(self, port, timeout=TIMEOUT, source=None):
        super().__init__(port, timeout, source)
        self.greeting = self.readline()

    def cmd(self, text, timeout=None):
        self.send(text + "\r\n")
        return self.readline(timeout)

    def login(self, user="demo", password="demo"):
        """Returns the reply to PASS (after USER); raises unless USER got +OK."""
        r = self.cmd("USER %s" % user)
        if not r.startswith(b"+OK"):
            raise Failure("raw USER failed: %r" % r)
        return self.cmd("PASS %s" % password)

    def capa(self):
        """Sends CAPA; returns the answer's lines, CRLF included, up to and with the ".\r\n"."""
        self.send("CAPA\r\n")
        lines = []
        for _ in range(100):  # bounded
            lines.append(self.readline())
            if lines[-1] == b".\r\n":
                break
        return lines


class Lmtp(RawClient):
    """Raw LMTP: per-recipient DATA replies, which smtplib.LMTP does not read."""

    def __init__(self, port, timeout=TIMEOUT, source=None):
        super().__init__(port, timeout, source)
        self.greeting = self.reply()

    def reply(self):
        """(code, full text) of one possibly multi-line reply."""
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), b"".join(lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def data(self, message, nrcpt):
        """Sends DATA + dot-stuffed message; returns the DATA reply and nrcpt final replies."""
        code, text = self.cmd("DATA")
        if code != 354:
            return (code, text), []
        body = crlf(message)
        body = re.sub(rb"(?m)^\.", b"..", body)
        self.send(body + b".\r\n")
        return (code, text), [self.reply() for _ in range(nrcpt)]


class Appliance:
    """One postern-master with its own data dir, config and free ports."""

    def __init__(self, imap_workers=1, pop3_workers=1, lmtp_workers=1, extra_config=None,
                 log_level="info"):
        self.settings = {
            "imap.listen": "%s:0" % HOST,
            "pop3.listen": "%s:0" % HOST,
            "lmtp.listen": "%s:0" % HOST,
            "imaps.listen": "%s:0" % HOST,   # implicit TLS; "imaps"/"pop3s" lines in the ports file
            "pop3s.listen": "%s:0" % HOST,
            # Tests log in from 127.0.0.2.. (untrusted) without TLS to exercise limits and
            # licences; test_tls.py turns the plaintext policy back on.
            "auth.allow_plaintext": "true",
            "imap.workers": str(imap_workers),
            "pop3.workers": str(pop3_workers),
            "lmtp.workers": str(lmtp_workers),
            "demo_user": "true",
            "log.level": log_level,
            "shutdown_grace_ms": "2000",
            "restart.backoff_initial_ms": "50",
            "restart.backoff_max_ms": "500",
            "store.map_size_mb": "1024",
            # As root (CI), every process stays root: the accounts postern and
            # postern-worker need not exist; test_privileges.py covers the switch.
            "user": "",
        }
        self.settings.update(extra_config or {})
        self.proc = None
        self.tmp = None
        self.ports = {}
        self.failed = False

    # --- life cycle -----------------------------------------------------------------------
    def write_config(self, settings=None, raw_extra=""):
        text = "# written by tests/integration/harness.py\n"
        text += "data_dir = %s\n" % self.data_dir
        for k, v in (settings or self.settings).items():
            text += "%s = %s\n" % (k, v)
        text += raw_extra
        with open(self.config_path + ".tmp", "w") as f:
            f.write(text)
        os.rename(self.config_path + ".tmp", self.config_path)
        return text

    def start(self, timeout=15):
        for p in (MASTER, CTL):
            if not os.access(p, os.X_OK):
                raise Failure("%s is not built" % p)
        self.tmp = tempfile.mkdtemp(prefix="pst-", dir="/tmp")
        self.data_dir = os.path.join(self.tmp, "d")
        self.run_dir = os.path.join(self.data_dir, "run")
        self.admin_socket = os.path.join(self.run_dir, "admin.sock")
        self.config_path = os.path.join(self.tmp, "postern.conf")
        self.log_path = os.path.join(self.tmp, "master.log")
        self.write_config()
        return self._launch(timeout, "wb")

    def restart(self, timeout=15, while_stopped=None):
        """SIGTERM (asserting exit 0), then a new master on the same config and data dir.
        while_stopped: called with nothing running (e.g. to edit state files)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.failed = True
            self.dump_log()
            self.kill()
            raise Failure("postern-master did not exit within %ss of SIGTERM" % timeout) from None
        if rc != 0:
            self.failed = True
            raise Failure("postern-master exited with %s after SIGTERM, want 0" % rc)
        wait_until(lambda: not pids_with_cmdline(self.tmp), 5, 0.05, "the old processes to exit")
        for stale in (os.path.join(self.run_dir, "ports"), self.admin_socket):
            with contextlib.suppress(FileNotFoundError):
                os.remove(stale)
        if getattr(self, "log", None) and not self.log.closed:
            self.log.close()
        if while_stopped is not None:
            while_stopped()
        return self._launch(timeout, "ab")

    def _launch(self, timeout, log_mode):
        self.log = open(self.log_path, log_mode)
        self.proc = subprocess.Popen([MASTER, "--config", self.config_path], cwd=self.tmp,
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.ports = self._wait_ports(timeout)
            self.imap_port = self.ports["imap"][0][1]
            self.pop3_port = self.ports["pop3"][0][1]
            self.lmtp_port = self.ports["lmtp"][0][1]
            self.imaps_port = self.ports["imaps"][0][1] if "imaps" in self.ports else None
            self.pop3s_port = self.ports["pop3s"][0][1] if "pop3s" in self.ports else None
            # Ready when each protocol greets; then the store is up too.
            wait_until(lambda: self._greets(self.imap_port, b"* OK"), timeout, 0.05, "IMAP greeting")
            wait_until(lambda: self._greets(self.pop3_port, b"+OK"), timeout, 0.05, "POP3 greeting")
            wait_until(lambda: self._greets(self.lmtp_port, b"220"), timeout, 0.05, "LMTP greeting")
            wait_until(lambda: os.path.exists(self.admin_socket), timeout, 0.05, "admin socket")
        except BaseException:
            self.failed = True
            self.dump_log()
            self.kill()
            raise
        return self

    def _wait_ports(self, timeout):
        path = os.path.join(self.run_dir, "ports")
        want = {"imap", "pop3", "lmtp"}

        def read():
            if self.proc.poll() is not None:
                raise Failure("postern-master exited with %s before writing %s"
                              % (self.proc.returncode, path))
            if not os.path.exists(path):
                return None
            ports = {}
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3:
                        ports.setdefault(parts[0], []).append((parts[1], int(parts[2])))
            return ports if want <= set(ports) else None

        deadline = time.monotonic() + timeout
        while True:
            v = read()  # raises at once if the master died
            if v:
                return v
            if time.monotonic() > deadline:
                raise Failure("no complete %s within %ss" % (path, timeout))
            time.sleep(0.02)

    @staticmethod
    def _greets(port, prefix):
        with socket.create_connection((HOST, port), timeout=2) as s:
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(1024)
                if not chunk:
                    return False
                data += chunk
            return data.startswith(prefix)

    def stop(self, timeout=10):
        """SIGTERM; asserts exit code 0 within timeout. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            rc = self.proc.returncode if self.proc else None
            self._cleanup()
            if rc not in (0, None):
                self.failed = True
                self.dump_log()
                raise Failure("postern-master had already exited with %s" % rc)
            return rc
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.failed = True
            self.dump_log()
            self.kill()
            raise Failure("postern-master did not exit within %ss of SIGTERM" % timeout) from None
        if rc != 0:
            self.failed = True
            self.dump_log()
            self._cleanup()
            raise Failure("postern-master exited with %s after SIGTERM, want 0" % rc)
        self._cleanup()
        return rc

    def kill(self):
        """Hard stop of everything this appliance started (its process group and leftovers)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.tmp:
            for pid in pids_with_cmdline(self.tmp):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        self._cleanup()

    def _cleanup(self):
        if getattr(self, "log", None) and not self.log.closed:
            self.log.close()
        if self.tmp and not self.failed and not os.environ.get("POSTERN_KEEP_TMP"):
            # Only once nothing of ours runs there any more.
            if not pids_with_cmdline(self.tmp):
                shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            print("kept %s for inspection" % self.tmp, file=sys.stderr)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.failed = True
            self.dump_log()
            self.kill()
            return False
        self.stop()
        return False

    # --- diagnostics ----------------------------------------------------------------------
    def log_text(self):
        with contextlib.suppress(OSError, ValueError):  # ValueError: closed after stop()
            self.log.flush()
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def dump_log(self, lines=80):
        tail = self.log_text().splitlines()[-lines:]
        print("---- last %d lines of %s ----" % (len(tail), getattr(self, "log_path", "?")),
              file=sys.stderr)
        for line in tail:
            print(line, file=sys.stderr)
        print("---- end of log ----", file=sys.stderr)
        sys.stderr.flush()

    # --- admin ----------------------------------------------------------------------------
    def ctl(self, *args, input=None, check=True, timeout=20):
        """Runs posternctl --socket <ours> ARGS; returns CompletedProcess (text)."""
        cmd = [CTL, "--socket", self.admin_socket] + [str(a) for a in args]
        if isinstance(input, bytes):
            r = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
            r.stdout = r.stdout.decode("utf-8", "replace")
            r.stderr = r.stderr.decode("utf-8", "replace")
        else:
            r = subprocess.run(cmd, input=input if input is not None else "", text=True,
                               capture_output=True, timeout=timeout)
        if check and r.returncode != 0:
            raise Failure("%s exited %d\nstdout: %s\nstderr: %s"
                          % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    def status(self):
        r = self.ctl("--json", "status")
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise Failure("posternctl --json status printed no JSON: %r" % r.stdout) from None

    def ctl_json(self, *args, check=True):
        """posternctl --json ARGS, parsed; raises Failure unless it printed JSON."""
        r = self.ctl("--json", *args, check=check)
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise Failure("posternctl --json %s printed no JSON: %r %r"
                          % (" ".join(map(str, args)), r.stdout, r.stderr)) from None

    def counters(self):
        """status counters as ints (a missing counter is 0: use .get(name, 0))."""
        return {k: int(v) for k, v in self.status().get("counters", {}).items()}

    def processes(self, kind=None):
        procs = self.status().get("processes", [])
        return [p for p in procs if kind is None or p.get("kind") == kind]

    def pid_of(self, kind):
        """Pid of the first running process of `kind` (stored, imapd, pop3d, lmtpd)."""
        for p in self.processes(kind):
            if int(p.get("pid", 0)) > 0 and p.get("state", "running") == "running":
                return int(p["pid"])
        raise Failure("no running %s in status" % kind)

    # --- clients --------------------------------------------------------------------------
    def imap(self, user="demo", password="demo", login=True):
        c = imaplib.IMAP4(HOST, self.imap_port, timeout=TIMEOUT)
        if login:
            c.login(user, password)
        return c

    def raw_imap(self, login=True, user="demo", password="demo"):
        c = RawImap(self.imap_port)
        if login:
            c.login(user, password)
        return c

    def pop3(self, user="demo", password="demo", login=True):
        c = poplib.POP3(HOST, self.pop3_port, timeout=TIMEOUT)
        if login:
            c.user(user)
            c.pass_(password)
        return c

    def lmtp(self):
        """smtplib.LMTP after LHLO. Fine for one recipient per message."""
        c = smtplib.LMTP(HOST, self.lmtp_port, timeout=TIMEOUT)
        c.ehlo("test.local")
        return c

    def raw_lmtp(self):
        return Lmtp(self.lmtp_port)

    def deliver(self, user, message, sender="sender@example.org"):
        """Delivers one message with smtplib.LMTP; raises unless accepted."""
        with contextlib.closing(self.lmtp()) as c:
            refused = c.sendmail(sender, [user], crlf(message))
            if refused:
                raise Failure("LMTP refused %r" % (refused,))
            c.quit()


def fetch_meta(data):
    """The non-literal bytes of an imaplib FETCH response (FLAGS, UID, ... wherever they are)."""
    out = b""
    for item in data:
        if isinstance(item, tuple):
            out += item[0] + b" "
        elif item:
            out += item + b" "
    return out


def fetch_literal(data):
    """The bytes of the first literal in an imaplib FETCH response."""
    for item in data:
        if isinstance(item, tuple):
            return item[1]
    raise Failure("no literal in FETCH response %r" % (data,))


class ApplianceTest(unittest.TestCase):
    """A fresh appliance per test method: self.app. Override `appliance_args` to configure.

    tearDown stops it with SIGTERM and checks exit code 0; when the test failed, it prints
    the tail of the master log and kills what is left instead.
    """

    appliance_args = {}

    def setUp(self):
        self.app = Appliance(**self.appliance_args)
        self.app.start()
        self._closers = []

    def closing(self, client):
        """Registers a client to be closed (quietly) at tearDown; returns it."""
        self._closers.append(client)
        return client

    def tearDown(self):
        for c in reversed(self._closers):
            with contextlib.suppress(Exception):
                if isinstance(c, imaplib.IMAP4):
                    c.shutdown()
                else:
                    c.close()  # poplib.POP3, smtplib.LMTP, RawClient
        if self._test_failed():
            self.app.failed = True
            self.app.dump_log()
            self.app.kill()
        else:
            self.app.stop()


    def _test_failed(self):
        # unittest has no public "did this test fail" for tearDown; the result lists do.
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(t is self for t, _ in list(result.failures) + list(result.errors))


def main():
    """Entry point of one test file: exit status 0 only if every test passed."""
    prog = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() and prog.result.testsRun > 0 else 1)
