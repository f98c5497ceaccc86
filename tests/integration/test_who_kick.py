#!/usr/bin/env python3
"""posternctl who and kick: the session list, its filters, and disconnecting sessions."""

import time

import harness
from harness import RawImap, RawPop3, Lmtp


class WhoKick(harness.ApplianceTest):
    appliance_args = {"imap_workers": 1}

    def who(self, *args):
        return self.app.ctl_json("who", *args)["sessions"]

    def session_of(self, sessions, **want):
        found = [s for s in sessions if all(s.get(k) == v for k, v in want.items())]
        self.assertEqual(len(found), 1, "one session with %r in %r" % (want, sessions))
        return found[0]

    def open_sessions(self):
        self.app.ctl("user", "add", "bob", "--password", "pw")
        sel = self.closing(RawImap(self.app.imap_port, source="127.0.0.2"))
        sel.login()
        self.assertIn(b"OK", sel.command("SELECT INBOX")[1])
        auth = self.closing(RawImap(self.app.imap_port, source="127.0.0.3"))
        auth.login("bob", "pw")
        anon = self.closing(RawImap(self.app.imap_port, source="127.0.0.4"))
        pop = self.closing(RawPop3(self.app.pop3_port, source="127.0.0.2"))
        self.assertTrue(pop.login().startswith(b"+OK"))
        lmtp = self.closing(Lmtp(self.app.lmtp_port, source="127.0.0.5"))
        self.assertEqual(lmtp.cmd("LHLO test.local")[0], 250)
        return sel, auth, anon, pop, lmtp

    def test_who_lists_every_session(self):
        sel, auth, anon, pop, lmtp = self.open_sessions()
        imapd = self.app.pid_of("imapd")
        sessions = harness.wait_until(lambda: (lambda s: s if len(s) == 5 else None)(self.who()), 5, 0.05,
                                      "five sessions in who")
        s = self.session_of(sessions, address="127.0.0.2", protocol="imap")
        self.assertEqual(s["user"], "demo")
        self.assertEqual(s["state"], "selected INBOX")
        self.assertEqual(s["listener"], "imap0")
        self.assertEqual(int(s["worker_pid"]), imapd)
        self.assertGreater(int(s["bytes_in"]), 0)
        self.assertGreater(int(s["bytes_out"]), 0)
        self.assertGreater(int(s["id"]), 0)
        self.assertLessEqual(abs(int(s["since"]) - time.time()), 60)
        s = self.session_of(sessions, address="127.0.0.3")
        self.assertEqual((s["user"], s["protocol"], s["state"]), ("bob", "imap", "authenticated"))
        s = self.session_of(sessions, address="127.0.0.4")
        self.assertEqual((s["user"], s["protocol"], s["state"]), ("-", "imap", "not-authenticated"))
        s = self.session_of(sessions, address="127.0.0.2", protocol="pop3")
        self.assertEqual((s["user"], s["listener"]), ("demo", "pop30"))
        self.assertEqual(int(s["worker_pid"]), self.app.pid_of("pop3d"))
        s = self.session_of(sessions, protocol="lmtp")
        self.assertEqual((s["address"], s["listener"]), ("127.0.0.5", "lmtp0"))
        self.assertEqual(len({x["id"] for x in sessions}), 5, "ids are unique")

        # Bytes grow with traffic.
        before = int(self.session_of(self.who(), address="127.0.0.3")["bytes_in"])
        for _ in range(5):
            auth.command("NOOP")
        harness.wait_until(lambda: int(self.session_of(self.who(), address="127.0.0.3")["bytes_in"]) > before,
                           5, 0.05, "bytes_in to grow")

        # Text form.
        text = self.app.ctl("who").stdout
        for word in ("demo", "bob", "127.0.0.4", "selected INBOX", "not-authenticated", "5 session(s)"):
            self.assertIn(word, text)

    def test_who_filters(self):
        self.open_sessions()
        harness.wait_until(lambda: len(self.who()) == 5, 5, 0.05, "five sessions")
        self.assertEqual(sorted(s["protocol"] for s in self.who("--user", "demo")), ["imap", "pop3"])
        self.assertEqual([s["address"] for s in self.who("--user", "bob")], ["127.0.0.3"])
        self.assertEqual(self.who("--user", "nobody"), [])
        self.assertEqual(sorted(s["protocol"] for s in self.who("--ip", "127.0.0.2/32")), ["imap", "pop3"])
        self.assertEqual(sorted(s["address"] for s in self.who("--ip", "127.0.0.2")), ["127.0.0.2", "127.0.0.2"])
        self.assertEqual(len(self.who("--ip", "127.0.0.0/29")), 5)
        self.assertEqual(len(self.who("--protocol", "imap")), 3)
        self.assertEqual(len(self.who("--protocol", "pop3")), 1)
        self.assertEqual(len(self.who("--protocol", "lmtp")), 1)
        self.assertEqual(len(self.who("--protocol", "imap", "--user", "demo")), 1)
        self.assertEqual(len(self.who("--protocol", "imap", "--ip", "127.0.0.2/32")), 1)
        r = self.app.ctl("who", "--ip", "10.1.2.3/8", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("10.0.0.0/8", r.stderr + r.stdout)
        # An unknown protocol: an error, or at least no session.
        r = self.app.ctl("--json", "who", "--protocol", "smtp", check=False)
        if r.returncode == 0:
            self.assertEqual(harness.json.loads(r.stdout)["sessions"], [])

    def test_kick_user(self):
        sel, auth, anon, pop, lmtp = self.open_sessions()
        second = self.closing(RawImap(self.app.imap_port, source="127.0.0.6"))
        second.login()
        harness.wait_until(lambda: len(self.who("--user", "demo")) == 3, 5, 0.05, "demo's three sessions")
        seats = int(self.app.ctl_json("licence", "show")["seats_in_use"])
        self.assertEqual(seats, 2, "demo and bob (per-seat evaluation licence)")
        before = self.app.counters()

        res = self.app.ctl_json("kick", "--user", "demo")
        self.assertEqual(res["kicked"], 3)
        for c in (sel, second):
            rest = c.rest_until_eof(5)
            self.assertIsNotNone(rest, "the kicked IMAP session is closed")
            self.assertTrue(rest.startswith(b"* BYE"), rest)
        rest = pop.rest_until_eof(5)
        self.assertIsNotNone(rest, "the kicked POP3 session is closed")
        self.assertTrue(rest.startswith(b"-ERR"), rest)

        harness.wait_until(lambda: self.who("--user", "demo") == [], 5, 0.05, "demo's sessions to go")
        self.assertEqual(len(self.who()), 3)
        harness.wait_until(lambda: int(self.app.status()["connections"]) == 3, 5, 0.05, "connections 3")
        harness.wait_until(lambda: int(self.app.ctl_json("licence", "show")["seats_in_use"]) == 1, 5, 0.05,
                           "demo's seat to be freed")
        self.assertEqual(self.app.counters().get("kicked", 0) - before.get("kicked", 0), 3)
        # Others untouched; demo may log in again.
        self.assertIn(b"OK", auth.command("NOOP")[1])
        self.assertEqual(lmtp.cmd("NOOP")[0], 250)
        again = self.closing(RawImap(self.app.imap_port, source="127.0.0.2"))
        again.login()
        self.assertTrue(any("kick" in l.lower() or "disconnected" in l.lower()
                            for l in self.app.log_text().splitlines()), "the kick is logged")

    def test_kick_session_and_ip(self):
        sel, auth, anon, pop, lmtp = self.open_sessions()
        harness.wait_until(lambda: len(self.who()) == 5, 5, 0.05, "five sessions")
        target = self.session_of(self.who(), address="127.0.0.3")
        self.assertEqual(self.app.ctl_json("kick", "--session", target["id"])["kicked"], 1)
        rest = auth.rest_until_eof(5)
        self.assertIsNotNone(rest)
        self.assertTrue(rest.startswith(b"* BYE"), rest)
        harness.wait_until(lambda: len(self.who()) == 4, 5, 0.05, "four sessions")
        # An unauthenticated session can be kicked too.
        target = self.session_of(self.who(), address="127.0.0.4")
        self.app.ctl("kick", "--session", target["id"])
        rest = anon.rest_until_eof(5)
        self.assertIsNotNone(rest)
        self.assertTrue(rest.startswith(b"* BYE"), rest)

        res = self.app.ctl_json("kick", "--ip", "127.0.0.2/32")
        self.assertEqual(res["kicked"], 2)
        self.assertTrue((sel.rest_until_eof(5) or b"").startswith(b"* BYE"))
        self.assertTrue((pop.rest_until_eof(5) or b"").startswith(b"-ERR"))
        harness.wait_until(lambda: [s["protocol"] for s in self.who()] == ["lmtp"], 5, 0.05, "only LMTP left")
        res = self.app.ctl_json("kick", "--ip", "127.0.0.5")
        self.assertEqual(res["kicked"], 1)
        rest = lmtp.rest_until_eof(5)
        self.assertIsNotNone(rest)
        self.assertTrue(rest.startswith(b"421"), rest)
        harness.wait_until(lambda: int(self.app.status()["connections"]) == 0, 5, 0.05, "connections 0")

    def test_kick_errors(self):
        r = self.app.ctl("kick", check=False)
        self.assertNotEqual(r.returncode, 0, "kick without a target")
        self.assertTrue((r.stderr + r.stdout).strip())
        r = self.app.ctl("kick", "--session", "abc", check=False)
        self.assertNotEqual(r.returncode, 0)
        r = self.app.ctl("kick", "--ip", "300.0.0.1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("300.0.0.1", r.stderr + r.stdout)
        # Nobody matched: not an error, but says so.
        r = self.app.ctl("--json", "kick", "--user", "nobody", check=False)
        self.assertEqual(int(harness.json.loads(r.stdout).get("kicked", 0)), 0)
        r = self.app.ctl("kick", "--session", "999999", check=False)
        self.assertTrue((r.stderr + r.stdout).strip())

    def test_kicked_imap_mid_idle(self):
        c = self.closing(RawImap(self.app.imap_port, source="127.0.0.2"))
        c.login()
        c.command("SELECT INBOX")
        c.send("i1 IDLE\r\n")
        self.assertTrue(c.readline().startswith(b"+"))
        self.app.ctl("kick", "--user", "demo")
        rest = c.rest_until_eof(5)
        self.assertIsNotNone(rest)
        self.assertIn(b"* BYE", rest)

    def test_idle_time(self):
        quiet = self.closing(RawImap(self.app.imap_port, source="127.0.0.2"))
        quiet.login()
        busy = self.closing(RawImap(self.app.imap_port, source="127.0.0.3"))
        busy.login()
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            busy.command("NOOP")
            time.sleep(0.2)
        sessions = self.who()
        q = self.session_of(sessions, address="127.0.0.2")
        b = self.session_of(sessions, address="127.0.0.3")
        self.assertGreaterEqual(int(q["idle_seconds"]), 2)
        self.assertLessEqual(int(b["idle_seconds"]), 1)


if __name__ == "__main__":
    harness.main()
