#!/usr/bin/env python3
"""RFC 2449 EXPIRE and per-user POP3 settings against the real binaries.

stored records when POP3 first retrieved (RETR) each message, at QUIT only; at
a later login, messages retrieved pop3.expire days ago are gone. Days pass
with `posternctl debug clock-offset`, which moves stored's retention clock
(an admin-only test hook), so nothing sleeps. Per-user values come from
`posternctl user set NAME pop3.expire=...`, show in `user show`, in CAPA
(with USER before login when users differ) and in the master's LOGIN-DELAY.
"""

import time

import harness
from harness import RawPop3

DAY = 86400


def policy(lines):
    return [l for l in lines if l.startswith(b"EXPIRE ") or l.startswith(b"LOGIN-DELAY ")]


class Pop3Expire(harness.ApplianceTest):
    appliance_args = {"extra_config": {"pop3.expire": "3"}}

    def setUp(self):
        super().setUp()
        for i in range(1, 5):
            self.app.deliver("demo", harness.make_message(i, subject="m%d" % i))

    def login(self):
        p = self.closing(RawPop3(self.app.pop3_port))
        r = p.login()
        self.assertTrue(r.startswith(b"+OK"), r)
        return p, r

    def retr(self, p, n):
        r = p.cmd("RETR %d" % n)
        self.assertTrue(r.startswith(b"+OK"), r)
        while p.readline() != b".\r\n":
            pass

    def uidl(self, p):
        self.assertEqual(p.cmd("UIDL"), b"+OK\r\n")
        out = []
        while True:
            line = p.readline()
            if line == b".\r\n":
                return out
            out.append(line.split()[1])

    def test_retrieved_messages_expire_after_n_days_and_only_they(self):
        p, _ = self.login()
        self.assertEqual(policy(p.capa()), [b"EXPIRE 3\r\n", b"LOGIN-DELAY 0\r\n"])
        uids = self.uidl(p)
        self.assertEqual(len(uids), 4)
        self.retr(p, 1)  # retrieved, kept
        top = p.cmd("TOP 2 0")  # TOP is not a retrieval
        self.assertTrue(top.startswith(b"+OK"), top)
        while p.readline() != b".\r\n":
            pass
        self.assertTrue(p.cmd("QUIT").startswith(b"+OK"))

        # Message 3 is retrieved in a session that never reaches UPDATE.
        q, _ = self.login()
        self.retr(q, 3)
        q.close()

        # Less than three days later, everything is still there.
        self.app.ctl("debug", "clock-offset", 3 * DAY - 3600)
        p, r = self.login()
        self.assertTrue(r.startswith(b"+OK Logged in, 4 messages"), r)
        self.assertTrue(p.cmd("QUIT").startswith(b"+OK"))

        # Three days after the retrieval, only message 1 is gone: 2 was only
        # TOP'd, 3 was retrieved in a dropped session, 4 never.
        self.app.ctl("debug", "clock-offset", 3 * DAY + 60)
        p, r = self.login()
        self.assertTrue(r.startswith(b"+OK Logged in, 3 messages"), r)
        self.assertEqual(self.uidl(p), uids[1:])
        self.assertTrue(p.cmd("QUIT").startswith(b"+OK"))
        self.assertIn("expired retrieved messages", self.app.log_text())

        # IMAP sees the same mailbox.
        c = self.app.imap()
        typ, data = c.select("INBOX")
        self.assertEqual(data[0], b"3")
        c.logout()

    def test_per_user_expire_shown_in_capa_and_enforced(self):
        self.app.ctl("user", "add", "bob", "--password", "pw")
        self.app.ctl("user", "set", "demo", "pop3.expire=1", "pop3.login_delay=0")
        shown = self.app.ctl("user", "show", "demo").stdout
        self.assertIn("pop3.expire       1 (user)", shown)
        self.assertIn("pop3.mark_seen    true (server)", shown)
        js = self.app.ctl_json("user", "show", "demo")
        self.assertEqual(js["settings"]["pop3.expire"], "1")
        self.assertEqual(js["server_settings"]["pop3.expire"], "3")

        anon = self.closing(RawPop3(self.app.pop3_port))
        self.assertEqual(policy(anon.capa()), [b"EXPIRE 1 USER\r\n", b"LOGIN-DELAY 0\r\n"])
        p, _ = self.login()
        self.assertEqual(policy(p.capa()), [b"EXPIRE 1\r\n", b"LOGIN-DELAY 0\r\n"])
        self.retr(p, 1)
        self.assertTrue(p.cmd("QUIT").startswith(b"+OK"))

        self.app.ctl("debug", "clock-offset", DAY + 60)
        p, r = self.login()
        self.assertTrue(r.startswith(b"+OK Logged in, 3 messages"), r)
        self.assertTrue(p.cmd("QUIT").startswith(b"+OK"))

        # Back to the server's value: no user differs any more.
        self.app.ctl("user", "set", "demo", "pop3.expire=default")
        anon = self.closing(RawPop3(self.app.pop3_port))
        self.assertEqual(policy(anon.capa()), [b"EXPIRE 3\r\n", b"LOGIN-DELAY 0\r\n"])

        bad = self.app.ctl("user", "set", "demo", "pop3.expire=soon", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("pop3.expire", bad.stderr)
        bad = self.app.ctl("user", "set", "demo", "pop3.timeout=60", check=False)
        self.assertNotEqual(bad.returncode, 0)

    def test_expire_zero_removes_what_was_retrieved_at_quit(self):
        self.app.ctl("user", "set", "demo", "pop3.expire=0")
        p, _ = self.login()
        self.assertEqual(policy(p.capa())[0], b"EXPIRE 0\r\n")
        self.retr(p, 1)
        self.retr(p, 2)
        self.assertEqual(p.cmd("QUIT"), b"+OK Postern POP3 signing off (2 messages deleted)\r\n")
        p, r = self.login()
        self.assertTrue(r.startswith(b"+OK Logged in, 2 messages"), r)

    def test_per_user_login_delay_enforced_by_the_master(self):
        self.app.ctl("user", "set", "demo", "pop3.login_delay=30")
        p, _ = self.login()
        self.assertEqual(policy(p.capa())[1], b"LOGIN-DELAY 30\r\n")
        self.assertTrue(p.cmd("QUIT").startswith(b"+OK"))
        q = self.closing(RawPop3(self.app.pop3_port))
        r = q.login()
        self.assertTrue(r.startswith(b"-ERR [LOGIN-DELAY]"), r)
        self.assertIn(b"30 seconds", r)
        # Another user keeps the server's (no) delay.
        self.app.ctl("user", "add", "bob", "--password", "pw")
        for _ in range(2):
            b = self.closing(RawPop3(self.app.pop3_port))
            r = b.login("bob", "pw")
            self.assertTrue(r.startswith(b"+OK"), r)
            self.assertTrue(b.cmd("QUIT").startswith(b"+OK"))

    def test_per_user_mark_seen(self):
        self.app.ctl("user", "set", "demo", "pop3.mark_seen=false")
        p, _ = self.login()
        self.retr(p, 1)
        self.assertTrue(p.cmd("QUIT").startswith(b"+OK"))
        c = self.app.imap()
        c.select("INBOX", readonly=True)
        typ, data = c.fetch("1", "(FLAGS)")
        self.assertNotIn(b"\\Seen", harness.fetch_meta(data))
        c.logout()


class Pop3PreauthTimeout(harness.ApplianceTest):
    appliance_args = {"extra_config": {"auth.preauth_timeout": "1"}}

    def test_no_login_in_time_closes_the_connection(self):
        p = self.closing(RawPop3(self.app.pop3_port))
        start = time.monotonic()
        with self.assertRaisesRegex(harness.Failure, "closed by server; unread: b''"):
            p.readline(timeout=5)  # closed, without a word
        self.assertGreaterEqual(time.monotonic() - start, 0.8)
        q = self.closing(RawPop3(self.app.pop3_port))
        self.assertTrue(q.login().startswith(b"+OK"))
        time.sleep(1.5)
        self.assertTrue(q.cmd("NOOP").startswith(b"+OK"))


if __name__ == "__main__":
    harness.main()
