#!/usr/bin/env python3
"""posternctl: users, status, deliver, reload (good and broken config), clean SIGTERM."""

import imaplib
import json
import os
import signal
import subprocess
import time

import harness
from harness import make_message


def names_in(obj):
    """Every string value under a 'name' key (or plain strings) anywhere in a JSON value."""
    out = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("name", "user") and isinstance(v, str):
                out.add(v)
            else:
                out |= names_in(v)
    elif isinstance(obj, list):
        for v in obj:
            out |= names_in(v) if not isinstance(v, str) else {v}
    return out


class Ctl(harness.ApplianceTest):
    def can_login(self, user, password):
        c = self.app.imap(login=False)
        try:
            c.login(user, password)
        except imaplib.IMAP4.error:
            return False
        finally:
            c.shutdown()
        return True

    def users(self):
        r = self.app.ctl("--json", "user", "list")
        return names_in(json.loads(r.stdout))

    def test_user_add_list_passwd_del(self):
        self.assertIn("demo", self.app.ctl("user", "list").stdout)
        self.assertIn("demo", self.users())

        self.app.ctl("user", "add", "alice", "--password", "first-pw")
        self.assertIn("alice", self.app.ctl("user", "list").stdout)
        self.assertIn("alice", self.users())
        self.assertTrue(self.can_login("alice", "first-pw"))
        self.assertFalse(self.can_login("alice", "wrong"))

        # Password from stdin; --json on a write command prints JSON.
        r = self.app.ctl("--json", "user", "add", "carol", input="stdin-pw\n")
        json.loads(r.stdout)
        self.assertTrue(self.can_login("carol", "stdin-pw"))

        self.app.ctl("user", "passwd", "alice", "--password", "second-pw")
        self.assertFalse(self.can_login("alice", "first-pw"))
        self.assertTrue(self.can_login("alice", "second-pw"))
        self.app.ctl("user", "passwd", "carol", input="new-stdin-pw\n")
        self.assertTrue(self.can_login("carol", "new-stdin-pw"))

        self.app.ctl("user", "del", "alice")
        self.assertNotIn("alice", self.users())
        self.assertFalse(self.can_login("alice", "second-pw"))
        self.app.ctl("--json", "user", "del", "carol")
        self.assertEqual(self.users() & {"alice", "carol"}, set())

        # Passwords are not stored in plaintext anywhere under the data dir.
        self.app.ctl("user", "add", "dave", "--password", "Plaintext-Canary-42")
        for root, _, files in os.walk(self.app.data_dir):
            for f in files:
                path = os.path.join(root, f)
                if os.path.isfile(path):
                    with open(path, "rb") as fh:
                        self.assertNotIn(b"Plaintext-Canary-42", fh.read(), path)

    def test_bad_arguments_exit_nonzero_with_message(self):
        self.app.ctl("user", "add", "erin", "--password", "x")
        cases = [
            ("frobnicate",),
            ("user",),
            ("user", "add"),
            ("user", "add", "erin", "--password", "again"),  # exists
            ("user", "del", "nosuchuser"),
            ("user", "passwd", "nosuchuser", "--password", "x"),
            ("deliver", "nosuchuser"),
            ("--json", "user", "del", "nosuchuser"),
        ]
        for args in cases:
            r = self.app.ctl(*args, check=False, input="")
            self.assertNotEqual(r.returncode, 0, args)
            self.assertTrue((r.stderr + r.stdout).strip(), "no message for %r" % (args,))
        # A socket nobody listens on: non-zero and a message, quickly.
        r = subprocess.run([harness.CTL, "--socket", os.path.join(self.app.tmp, "nope.sock"),
                            "status"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.strip())

    def test_status(self):
        st = self.app.status()
        for key in ("processes", "connections", "authenticated", "listeners", "counters"):
            self.assertIn(key, st)
        kinds = sorted(p["kind"] for p in st["processes"] if p["kind"] != "master")
        self.assertEqual(kinds, ["imapd", "lmtpd", "pop3d", "stored"])
        for p in st["processes"]:
            self.assertGreater(int(p["pid"]), 0, p)
            self.assertEqual(p["state"], "running", p)
            self.assertTrue(harness.pid_alive(int(p["pid"])), p)
        imap = self.closing(self.app.imap())
        st = harness.wait_until(lambda: (lambda s: s if int(s.get("authenticated", 0)) >= 1 else None)(
            self.app.status()), 3, 0.05, "status to count the logged-in session")
        self.assertGreaterEqual(int(st["connections"]), 1)
        imap.logout()
        text = self.app.ctl("status").stdout
        self.assertIn("imapd#0", text)
        self.assertIn("stored", text)

    def test_deliver(self):
        msg = make_message(1, subject="via ctl")
        self.app.ctl("deliver", "demo", input=msg)
        imap = self.closing(self.app.imap())
        imap.create("Archive")
        self.app.ctl("deliver", "demo", "--mailbox", "Archive", input=make_message(2))
        self.assertEqual(imap.select("INBOX")[1], [b"1"])
        self.assertEqual(harness.untraced(harness.fetch_literal(imap.fetch("1", "(BODY.PEEK[])")[1])),
                         msg)
        self.assertEqual(imap.select("Archive")[1], [b"1"])
        # A mailbox that does not exist: refused, or created, or the message falls back to
        # INBOX (as an LDA does); never lost.
        r = self.app.ctl("deliver", "demo", "--mailbox", "NoSuchBox", input=make_message(3),
                         check=False)
        if r.returncode == 0:
            typ, data = imap.select("NoSuchBox")
            if typ != "OK":
                self.assertEqual(imap.select("INBOX")[1], [b"2"], "fell back to INBOX")
            else:
                self.assertEqual(data, [b"1"])
        else:
            self.assertTrue(r.stderr.strip())
        # An unknown user is refused.
        r = self.app.ctl("deliver", "nosuchuser", input=make_message(4), check=False)
        self.assertNotEqual(r.returncode, 0)
        imap.logout()

    def test_reload_with_broken_config_keeps_running(self):
        imap = self.closing(self.app.imap())
        imap.select("INBOX")
        with open(self.app.config_path) as f:
            good = f.read()
        broken = good + "imap.workers = lots\n"
        bad_line = broken.count("\n")
        with open(self.app.config_path, "w") as f:
            f.write(broken)
        where = "%s:%d" % (self.app.config_path, bad_line)

        r = self.app.ctl("reload", check=False)
        self.assertNotEqual(r.returncode, 0, "reload of a broken config must fail")
        self.assertIn(where, r.stdout + r.stderr)
        self.assertIn(where, self.app.log_text())
        # Still running, with the old config, session intact.
        self.assertIsNone(self.app.proc.poll())
        self.assertEqual(imap.noop()[0], "OK")
        self.assertTrue(self.can_login("demo", "demo"))

        # SIGHUP with the broken file: the same.
        self.app.proc.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: self.app.log_text().count(where) >= 2, 5, 0.05,
                           "the SIGHUP reload error in the log")
        self.assertIsNone(self.app.proc.poll())
        self.assertTrue(self.can_login("demo", "demo"))

        # An unknown key is refused the same way.
        with open(self.app.config_path, "w") as f:
            f.write(good + "no_such_key = 1\n")
        r = self.app.ctl("reload", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no_such_key", r.stdout + r.stderr)

        # A good config reloads fine, without dropping the session.
        with open(self.app.config_path, "w") as f:
            f.write(good.replace("log.level = info", "log.level = debug"))
        self.app.ctl("reload")
        self.assertEqual(imap.noop()[0], "OK")
        imap.logout()

    def test_sigterm_exits_zero_and_leaves_no_process(self):
        pids = [int(p["pid"]) for p in self.app.processes() if p["kind"] != "master"]
        self.assertEqual(len(pids), 4)
        imap = self.closing(self.app.imap())
        imap.select("INBOX")
        pop = self.closing(self.app.pop3())
        master = self.app.proc
        master.send_signal(signal.SIGTERM)
        # Clients are told goodbye rather than cut off.
        try:
            line = imap.readline()
            self.assertTrue(line.startswith(b"* BYE") or line == b"", line)
        except (OSError, imaplib.IMAP4.abort):
            pass
        rc = master.wait(10)
        self.assertEqual(rc, 0, "postern-master exit code after SIGTERM")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and (
                any(harness.pid_alive(p) for p in pids) or harness.pids_with_cmdline(self.app.tmp)):
            time.sleep(0.05)
        self.assertEqual([p for p in pids if harness.pid_alive(p)], [])
        self.assertEqual(harness.pids_with_cmdline(self.app.tmp), [])
        pop.sock.close()


if __name__ == "__main__":
    harness.main()
