#!/usr/bin/env python3
"""Connection limits: global exactness under a storm, per IP, per user, live changes.

Clients bind to 127.0.0.2, 127.0.0.3, ... to act as different addresses; 127.0.0.1 is in
the default trusted_networks and so exempt from the per-IP limit.
"""

import contextlib
import os
import signal
import socket
import struct
import threading
import time

import harness
from harness import closed_by_server, first_line, RawImap, RawPop3

BYE = b"* BYE [UNAVAILABLE]"


class LimitsBase(harness.ApplianceTest):
    def limits(self):
        """{key: (value, source)} from limits show --json."""
        res = self.app.ctl_json("limits", "show")
        return {l["key"]: (l["value"], l["source"]) for l in res["limits"]}

    def idle(self, timeout=5):
        """Waits until the master counts no connection at all; returns the status."""
        return harness.wait_until(
            lambda: (lambda s: s if int(s.get("connections", -1)) == 0 else None)(self.app.status()),
            timeout, 0.05, "status connections to return to 0")

    def imap_from(self, source, login=None):
        c = self.closing(RawImap(self.app.imap_port, source=source))
        self.assertTrue(c.greeting.startswith(b"* OK"), (source, c.greeting))
        if login:
            c.login(*login)
        return c

    def refused_imap(self, source):
        s, line = first_line(self.app.imap_port, source)
        self.closing(s)
        self.assertTrue(line.startswith(BYE), "want %r from %s, got %r" % (BYE, source, line))
        self.assertTrue(closed_by_server(s), "connection closed after the refusal")
        return line


class Storm(LimitsBase):
    # Idle connections that never log in: the pre-auth limit (test_preauth_limit.py) is off.
    appliance_args = {"extra_config": {"limits.max_connections": "100",
                                       "limits.max_connections_per_ip": "1000",
                                       "limits.max_preauth_per_ip": "0"},
                      "imap_workers": 2}

    N = 500
    SOURCES = ["127.0.0.%d" % i for i in range(2, 12)]

    def test_500_simultaneous_connects_admit_exactly_100(self):
        self.idle()
        before = self.app.counters()
        results = [None] * self.N
        go = threading.Barrier(self.N + 1, timeout=60)
        release = threading.Event()

        def client(i):
            s = None
            try:
                go.wait()
                s, line = first_line(self.app.imap_port, self.SOURCES[i % len(self.SOURCES)], timeout=30)
                results[i] = line
                release.wait(60)
            except Exception as e:  # noqa: BLE001 - reported via results
                results[i] = ("error", repr(e))
            finally:
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.close()

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(self.N)]
        try:
            for t in threads:
                t.start()
            go.wait()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and any(r is None for r in results):
                time.sleep(0.05)
            # While every admitted connection is still open:
            st = self.app.status()
            who = self.app.ctl_json("who")["sessions"]
        finally:
            release.set()
            for t in threads:
                t.join(max(0.1, 30 / self.N))
        errors = [r for r in results if not isinstance(r, bytes)]
        self.assertEqual(errors, [], "every client got a first line")
        ok = [r for r in results if r.startswith(b"* OK")]
        bye = [r for r in results if r.startswith(BYE)]
        self.assertEqual(len(ok), 100, "greetings")
        self.assertEqual(len(bye), 400, "refusals")
        self.assertEqual(int(st["connections"]), 100, "status connections at the peak")
        self.assertEqual(len(who), 100, "who at the peak")
        after = self.app.counters()
        self.assertEqual(after.get("refused.max_connections", 0) - before.get("refused.max_connections", 0), 400)
        self.assertEqual(after.get("accepted", 0) - before.get("accepted", 0), 100)
        self.assertIn(b"(100)", bye[0], "the refusal names the limit")
        refusals = [l for l in self.app.log_text().splitlines() if "connection refused" in l]
        self.assertEqual(len(refusals), 400, "each refusal is logged")
        self.assertIn("127.0.0.", refusals[0])
        self.assertIn("proto=imap", refusals[0])

        # Closed: the counts return to exactly 0, and 100 new connections fit again.
        for t in threads:
            t.join(5)
        self.idle(10)
        self.assertEqual(self.app.ctl_json("who")["sessions"], [])
        again = [self.imap_from(self.SOURCES[i % 3]) for i in range(100)]
        self.refused_imap("127.0.0.20")
        for c in again:
            c.close()
        self.idle(10)

    def test_global_limit_counts_every_protocol(self):
        self.app.ctl("limits", "set", "limits.max_connections=5")
        held = [self.imap_from("127.0.0.2") for _ in range(3)]
        pops = [self.closing(RawPop3(self.app.pop3_port, source="127.0.0.3")) for _ in range(2)]
        for p in pops:
            self.assertTrue(p.greeting.startswith(b"+OK"), p.greeting)
        # The 6th connection, whatever its protocol, is refused in that protocol's words.
        s, line = first_line(self.app.pop3_port, "127.0.0.4")
        self.closing(s)
        self.assertTrue(line.startswith(b"-ERR [SYS/TEMP]"), line)
        s, line = first_line(self.app.lmtp_port, "127.0.0.4")
        self.closing(s)
        self.assertTrue(line.startswith(b"421 4.3.2"), line)
        self.refused_imap("127.0.0.4")
        # Trusted addresses are not exempt from the global limit.
        s, line = first_line(self.app.imap_port, "127.0.0.1")
        self.closing(s)
        self.assertTrue(line.startswith(BYE), line)
        held[0].close()
        harness.wait_until(lambda: int(self.app.status()["connections"]) == 4, 5, 0.05, "count 4")
        self.imap_from("127.0.0.4")
        self.app.ctl("limits", "reset", "all")


class PerIp(LimitsBase):
    appliance_args = {"extra_config": {"limits.max_connections_per_ip": "3"}}

    def test_fourth_from_one_address_refused(self):
        held = [self.imap_from("127.0.0.2") for _ in range(3)]
        line = self.refused_imap("127.0.0.2")
        self.assertIn(b"3", line, "the refusal names the limit")
        # Another address is unaffected.
        others = [self.imap_from("127.0.0.3") for _ in range(3)]
        # 127.0.0.1 is trusted: exempt.
        trusted = [self.imap_from("127.0.0.1") for _ in range(6)]
        # The held sessions work.
        held[0].login()
        self.assertIn(b"OK", held[0].command("NOOP")[1])
        # Per-IP counts within one protocol: POP3 from 127.0.0.2 still has 3.
        pops = [self.closing(RawPop3(self.app.pop3_port, source="127.0.0.2")) for _ in range(3)]
        for p in pops:
            self.assertTrue(p.greeting.startswith(b"+OK"), p.greeting)
        s, line = first_line(self.app.pop3_port, "127.0.0.2")
        self.closing(s)
        self.assertTrue(line.startswith(b"-ERR [SYS/TEMP]"), line)
        s, line = first_line(self.app.lmtp_port, "127.0.0.2")
        self.closing(s)
        self.assertTrue(line.startswith(b"220"), line)
        self.closing(s)
        c = self.app.counters()
        self.assertEqual(c.get("refused.per_ip", 0), 2)
        self.assertTrue(any("127.0.0.2" in l and "refused" in l for l in self.app.log_text().splitlines()),
                        "the refusal is logged with the address")
        # Closing one frees its slot.
        held[1].close()
        harness.wait_until(lambda: self._greets("127.0.0.2"), 5, 0.05, "a slot for 127.0.0.2")
        for c in held + others + trusted:
            c.close()

    def _greets(self, source):
        s, line = first_line(self.app.imap_port, source)
        if line.startswith(b"* OK"):
            self.closing(s)
            return True
        s.close()
        return False

    def test_per_protocol_override(self):
        self.app.ctl("limits", "set", "imap.max_connections_per_ip=2")
        [self.imap_from("127.0.0.2") for _ in range(2)]
        self.refused_imap("127.0.0.2")
        pops = [self.closing(RawPop3(self.app.pop3_port, source="127.0.0.2")) for _ in range(3)]
        for p in pops:
            self.assertTrue(p.greeting.startswith(b"+OK"), p.greeting)

    def test_trusted_networks_live(self):
        [self.imap_from("127.0.0.2") for _ in range(3)]
        self.refused_imap("127.0.0.2")
        self.app.ctl("limits", "set", "trusted_networks=127.0.0.1/32 127.0.0.2/32")
        more = [self.imap_from("127.0.0.2") for _ in range(3)]
        self.assertEqual(len(more), 3)
        self.app.ctl("limits", "reset", "trusted_networks")
        self.refused_imap("127.0.0.2")


class PerUser(LimitsBase):
    appliance_args = {"extra_config": {"limits.max_connections_per_user": "2"}}

    def test_third_login_refused_imap_and_pop3(self):
        a = self.imap_from("127.0.0.2", login=("demo", "demo"))
        b = self.imap_from("127.0.0.3", login=("demo", "demo"))
        c = self.imap_from("127.0.0.4")
        _, tagged = c.command("LOGIN demo demo")
        self.assertIn(b"NO [LIMIT]", tagged)
        # Still connected, not logged in; the others keep working.
        _, tagged = c.command("NOOP")
        self.assertIn(b"OK", tagged)
        _, tagged = c.command("SELECT INBOX")
        self.assertNotEqual(tagged.split()[1:2], [b"OK"], "not logged in after the refusal")
        for x in (a, b):
            self.assertIn(b"OK", x.command("NOOP")[1])

        # POP3 has its own count, but its maildrop lock admits one session per
        # user (issue 5): the second POP3 login is [IN-USE] before the limit.
        p1 = self.closing(RawPop3(self.app.pop3_port, source="127.0.0.2"))
        self.assertTrue(p1.login().startswith(b"+OK"))
        p2 = self.closing(RawPop3(self.app.pop3_port, source="127.0.0.3"))
        r2 = p2.login()
        self.assertTrue(r2.startswith(b"-ERR [IN-USE]"), r2)

        counters = self.app.counters()
        self.assertEqual(counters.get("refused.per_user", 0), 1)
        self.assertTrue(any("demo" in l and "refused" in l for l in self.app.log_text().splitlines()),
                        "the per-user refusal is logged with the user")

        # Logging out frees the slot; the refused connection can now log in.
        a.command("LOGOUT")
        a.close()
        harness.wait_until(lambda: b"OK" in c.command("LOGIN demo demo")[1], 5, 0.1,
                           "LOGIN after another session logged out")
        self.assertIn(b"OK", c.command("SELECT INBOX")[1])

    def test_other_user_unaffected(self):
        self.app.ctl("user", "add", "bob", "--password", "pw")
        [self.imap_from("127.0.0.2", login=("demo", "demo")) for _ in range(2)]
        bobs = [self.imap_from("127.0.0.2", login=("bob", "pw")) for _ in range(2)]
        self.assertEqual(len(bobs), 2)

    def test_authenticate_is_limited_like_login(self):
        import base64
        [self.imap_from("127.0.0.2", login=("demo", "demo")) for _ in range(2)]
        c = self.imap_from("127.0.0.3")
        _, tagged = c.command("AUTHENTICATE PLAIN " + base64.b64encode(b"\0demo\0demo").decode())
        self.assertIn(b"NO [LIMIT]", tagged)


class Live(LimitsBase):
    def test_lowered_limit_keeps_sessions_refuses_new(self):
        held = [self.imap_from("127.0.0.2", login=("demo", "demo")) for _ in range(3)]
        for c in held:
            c.command("SELECT INBOX")
        r = self.app.ctl("limits", "set", "limits.max_connections_per_ip=1")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.limits()["limits.max_connections_per_ip"], ("1", "live"))
        for c in held:
            self.assertIn(b"OK", c.command("NOOP")[1], "session over the lowered limit stays usable")
        self.refused_imap("127.0.0.2")
        self.imap_from("127.0.0.3")
        self.refused_imap("127.0.0.3")
        # Under the limit only once the count is below it: 3 -> 1 still refuses.
        held[0].close()
        held[1].close()
        harness.wait_until(lambda: len(self.app.ctl_json("who", "--ip", "127.0.0.2/32")["sessions"]) == 1,
                           5, 0.05, "two sessions from 127.0.0.2 to end")
        self.refused_imap("127.0.0.2")
        self.assertIn(b"OK", held[2].command("NOOP")[1])
        # reset restores the configured value (default 20).
        self.app.ctl("limits", "reset", "limits.max_connections_per_ip")
        self.assertEqual(self.limits()["limits.max_connections_per_ip"], ("20", "config"))
        [self.imap_from("127.0.0.2") for _ in range(3)]

    def test_bad_values_refused_naming_the_range(self):
        before = self.limits()
        cases = [
            ("limits.max_connections=0", "1-25000"),
            ("limits.max_connections=30000", "1-25000"),
            ("limits.max_connections_per_ip=0", "1-1000"),
            ("limits.max_connections_per_ip=1001", "1-1000"),
            ("limits.max_connections_per_user=5000", "1-1000"),
            ("imap.max_connections=25001", "0-25000"),
            ("pop3.max_connections_per_user=1001", "0-1000"),
            ("limits.max_connections=abc", "limits.max_connections"),
            ("limits.max_connections=-5", "limits.max_connections"),
            ("limits.no_such_limit=5", "limits.no_such_limit"),
            ("trusted_networks=not-a-network", "not-a-network"),
            ("limits.max_connections", "limits.max_connections"),
        ]
        for assignment, want in cases:
            r = self.app.ctl("limits", "set", assignment, check=False)
            self.assertNotEqual(r.returncode, 0, assignment)
            self.assertIn(want, r.stderr + r.stdout, assignment)
        # --json: a failure is still JSON with result.ok false, and exits non-zero.
        r = self.app.ctl("--json", "limits", "set", "limits.max_connections=0", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("1-25000", r.stdout + r.stderr)
        # All or nothing: one bad assignment changes nothing.
        r = self.app.ctl("limits", "set", "limits.max_connections_per_ip=5", "limits.max_connections=0",
                         check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.limits(), before, "a refused set changes nothing")
        r = self.app.ctl("limits", "reset", "limits.no_such_limit", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_show_json(self):
        lim = self.limits()
        self.assertEqual(lim["limits.max_connections"], ("2000", "config"))
        self.assertEqual(lim["limits.max_connections_per_ip"], ("20", "config"))
        self.assertEqual(lim["limits.max_connections_per_user"], ("10", "config"))
        for proto in ("imap", "pop3", "lmtp"):
            for suffix in ("", "_per_ip", "_per_user"):
                self.assertIn("%s.max_connections%s" % (proto, suffix), lim)
        self.assertIn("127.0.0.1/32", lim["trusted_networks"][0])
        text = self.app.ctl("limits", "show").stdout
        self.assertIn("limits.max_connections", text)
        res = self.app.ctl_json("limits", "set", "limits.max_connections=1500", "imap.max_connections_per_user=4")
        self.assertTrue(res["result"]["ok"])
        lim = self.limits()
        self.assertEqual(lim["limits.max_connections"], ("1500", "live"))
        self.assertEqual(lim["imap.max_connections_per_user"], ("4", "live"))
        self.app.ctl("limits", "reset", "all")
        lim = self.limits()
        self.assertEqual(lim["limits.max_connections"], ("2000", "config"))
        self.assertEqual(lim["imap.max_connections_per_user"], ("0", "config"))

    def test_overrides_survive_restart(self):
        self.app.ctl("limits", "set", "limits.max_connections_per_ip=2", "pop3.max_connections=7")
        path = os.path.join(self.app.data_dir, "limits.override")
        self.assertTrue(os.path.exists(path), path)
        with open(path) as f:
            self.assertIn("limits.max_connections_per_ip", f.read())
        self.app.restart()
        lim = self.limits()
        self.assertEqual(lim["limits.max_connections_per_ip"], ("2", "live"))
        self.assertEqual(lim["pop3.max_connections"], ("7", "live"))
        [self.imap_from("127.0.0.2") for _ in range(2)]
        self.refused_imap("127.0.0.2")
        # A reset is persisted too.
        self.app.ctl("limits", "reset", "all")
        self.app.restart()
        self.assertEqual(self.limits()["limits.max_connections_per_ip"], ("20", "config"))

    def test_config_reload_changes_limits_live(self):
        held = [self.imap_from("127.0.0.2") for _ in range(2)]
        self.app.settings["limits.max_connections_per_ip"] = "2"
        self.app.write_config()
        self.app.ctl("reload")
        self.refused_imap("127.0.0.2")
        for c in held:
            self.assertIn(b"OK", c.command("NOOP")[1])

    def test_live_override_wins_over_reload(self):
        self.app.ctl("limits", "set", "limits.max_connections_per_ip=2")
        self.app.settings["limits.max_connections_per_ip"] = "5"
        self.app.write_config()
        self.app.ctl("reload")
        self.assertEqual(self.limits()["limits.max_connections_per_ip"], ("2", "live"))
        [self.imap_from("127.0.0.2") for _ in range(2)]
        self.refused_imap("127.0.0.2")
        self.app.ctl("limits", "reset", "limits.max_connections_per_ip")
        self.assertEqual(self.limits()["limits.max_connections_per_ip"], ("5", "config"))
        [self.imap_from("127.0.0.2") for _ in range(3)]
        self.refused_imap("127.0.0.2")


class Races(LimitsBase):
    """Exactness where the decision races: many clients at once, several workers."""
    appliance_args = {"extra_config": {"limits.max_connections_per_ip": "20",
                                       "limits.max_connections_per_user": "5",
                                       "limits.max_preauth_per_ip": "0"},
                      "imap_workers": 2, "pop3_workers": 2}

    def _grab(self, port, source):
        return first_line(port, source, timeout=30)

    def test_per_ip_storm(self):
        res = harness.run_together(self._grab, [(self.app.imap_port, "127.0.0.2")] * 200)
        socks = [r[0] for r in res if isinstance(r, tuple) and r[0] != "error"]
        for x in socks:
            self.closing(x)
        lines = [r[1] for r in res if isinstance(r, tuple) and r[0] != "error"]
        self.assertEqual(len(lines), 200, [r for r in res if not (isinstance(r, tuple) and r[0] != "error")][:3])
        self.assertEqual(sum(l.startswith(b"* OK") for l in lines), 20)
        self.assertEqual(sum(l.startswith(BYE) for l in lines), 180)
        self.assertEqual(len(self.app.ctl_json("who", "--ip", "127.0.0.2")["sessions"]), 20)
        for x in socks:
            x.close()
        self.idle(10)

    def test_per_user_login_storm_across_workers(self):
        clients = [self.imap_from("127.0.0.%d" % (2 + i % 8)) for i in range(40)]
        pids = {int(x["worker_pid"]) for x in self.app.ctl_json("who")["sessions"]}
        self.assertEqual(len(pids), 2, "connections spread over both imapd workers")
        res = harness.run_together(lambda c: c.command("LOGIN demo demo", timeout=30)[1], [(c,) for c in clients])
        self.assertTrue(all(isinstance(r, bytes) for r in res), [r for r in res if not isinstance(r, bytes)][:3])
        ok = [r for r in res if r.split()[1:2] == [b"OK"]]
        limit = [r for r in res if b"NO [LIMIT]" in r]
        self.assertEqual((len(ok), len(limit)), (5, 35))
        self.assertEqual(len(self.app.ctl_json("who", "--user", "demo")["sessions"]), 5)
        # POP3 on two pop3d workers: the maildrop lock in stored admits exactly one.
        pops = [self.closing(RawPop3(self.app.pop3_port, source="127.0.0.%d" % (2 + i % 8))) for i in range(30)]
        res = harness.run_together(lambda p: p.login(), [(p,) for p in pops])
        self.assertEqual(sum(isinstance(r, bytes) and r.startswith(b"+OK") for r in res), 1, res[:3])
        self.assertEqual(sum(isinstance(r, bytes) and r.startswith(b"-ERR [IN-USE]") for r in res), 29)

    def test_counts_exact_after_worker_kill9(self):
        self.app.ctl("limits", "set", "limits.max_connections_per_ip=12")
        clients = [self.imap_from("127.0.0.2") for _ in range(12)]
        for c in clients[:4]:
            c.login()
        self.refused_imap("127.0.0.2")
        sessions = self.app.ctl_json("who", "--ip", "127.0.0.2")["sessions"]
        by_pid = {}
        for x in sessions:
            by_pid.setdefault(int(x["worker_pid"]), []).append(x)
        self.assertEqual(len(by_pid), 2, "both workers hold connections: %r" % {k: len(v) for k, v in by_pid.items()})
        victim = min(by_pid, key=lambda p: -len(by_pid[p]))
        lost = len(by_pid[victim])
        lost_users = sum(1 for x in by_pid[victim] if x["user"] == "demo")
        kept = 12 - lost
        os.kill(victim, signal.SIGKILL)
        harness.wait_until(lambda: not harness.pid_alive(victim), 5, 0.02, "the worker to die")
        harness.wait_until(lambda: int(self.app.status()["connections"]) == kept, 5, 0.05,
                           "connections to be exactly the %d on the surviving worker" % kept)
        self.assertEqual(len(self.app.ctl_json("who", "--ip", "127.0.0.2")["sessions"]), kept)
        self.assertEqual(len(self.app.ctl_json("who", "--user", "demo")["sessions"]), 4 - lost_users)
        harness.wait_until(lambda: all(p["state"] == "running" for p in self.app.processes("imapd")), 5, 0.05,
                           "the killed worker to be restarted")
        # Exactly `lost` new connections from that address fit again, not one more.
        fresh = []
        for _ in range(lost):
            fresh.append(harness.wait_until(lambda: self._try_greet("127.0.0.2"), 5, 0.05, "a freed slot"))
        self.refused_imap("127.0.0.2")
        self.assertEqual(int(self.app.status()["connections"]), 12)

    def _try_greet(self, source):
        s, line = first_line(self.app.imap_port, source)
        self.closing(s)
        return s if line.startswith(b"* OK") else None

    def test_vanishing_clients(self):
        socks = []
        for i in range(40):
            s, line = first_line(self.app.imap_port, "127.0.0.%d" % (2 + i % 4))
            self.assertTrue(line.startswith(b"* OK"), line)
            if i % 2:
                s.sendall(b"a LOGIN demo demo\r\n")  # leave mid-command
            if i % 3 == 0:
                s.sendall(b"b NOOP\r\nc SELECT")  # half a command line
            socks.append(s)
        pops = []
        for i in range(10):
            p = RawPop3(self.app.pop3_port, source="127.0.0.9")
            p.send("USER demo\r\n")
            pops.append(p.sock)
        # Abort: RST instead of FIN.
        for s in socks + pops:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        self.idle(10)
        self.assertEqual(self.app.ctl_json("who")["sessions"], [])
        # And the per-IP counts are back to zero: 20 more from one address fit.
        more = [self.imap_from("127.0.0.2") for _ in range(20)]
        self.refused_imap("127.0.0.2")
        self.assertEqual(len(more), 20)


if __name__ == "__main__":
    harness.main()
