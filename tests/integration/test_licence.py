#!/usr/bin/env python3
"""Licence seats: Ed25519-signed licences, per-server vs per-seat counting, release, refusal.

The vendor side (posternctl licence keygen / issue) makes a key pair and licences; the
appliance trusts the generated public key through licence.public_keys. An expired licence
cannot be issued by posternctl (expiry before issue date is refused), so that one is signed
here with the openssl command line over the canonical text documented in master/licence.h.
"""

import base64
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import RawImap, RawPop3


def today():
    return time.strftime("%Y-%m-%d", time.gmtime())


class LicenceBase(harness.ApplianceTest):
    keydir = None

    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="pst-lic-", dir="/tmp")
        cls.key = os.path.join(cls.keydir, "vendor")
        r = subprocess.run([harness.CTL, "licence", "keygen", "--out", cls.key],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise harness.Failure("licence keygen failed: %s %s" % (r.stdout, r.stderr))
        cls.appliance_args = dict(cls.appliance_args)
        extra = dict(cls.appliance_args.get("extra_config", {}))
        extra["licence.public_keys"] = cls.key + ".pub"
        cls.appliance_args["extra_config"] = extra
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        if cls.keydir:
            shutil.rmtree(cls.keydir, ignore_errors=True)

    # --- vendor side ---------------------------------------------------------------------
    def issue(self, seats, mode, licensee="Test GmbH", expires="never", key=None):
        """A licence file issued with posternctl; returns its path."""
        type(self).n += 1
        path = os.path.join(self.keydir, "l%d.lic" % self.n)
        r = subprocess.run([harness.CTL, "licence", "issue", "--private-key", (key or self.key) + ".key",
                            "--licensee", licensee, "--seats", str(seats), "--mode", mode,
                            "--expires", expires], capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise harness.Failure("licence issue failed: %s %s" % (r.stdout, r.stderr))
        with open(path, "w") as f:
            f.write(r.stdout)
        return path

    def sign_with_openssl(self, licensee, seats, mode, expires, issued, lic_id="0123456789abcdef0123456789abcdef"):
        """A licence signed over the canonical text (master/licence.h) with the openssl CLI."""
        canon = ("postern-licence-v1\nlicensee: %s\nseats: %d\nmode: %s\nexpires: %s\nissued: %s\nid: %s\n"
                 % (licensee, seats, mode, expires, issued, lic_id))
        type(self).n += 1
        cpath = os.path.join(self.keydir, "c%d" % self.n)
        with open(cpath, "w") as f:
            f.write(canon)
        r = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", self.key + ".key", "-rawin", "-in", cpath],
                           capture_output=True, timeout=20)
        if r.returncode != 0 or len(r.stdout) != 64:
            raise unittest.SkipTest("openssl cannot sign Ed25519 here: %r" % r.stderr)
        text = "# Postern licence\n" + canon.split("\n", 1)[1] + "signature: %s\n" % (
            base64.b64encode(r.stdout).decode())
        path = cpath + ".lic"
        with open(path, "w") as f:
            f.write(text)
        return path

    # --- appliance side ------------------------------------------------------------------
    def install(self, path, check=True):
        return self.app.ctl("licence", "install", path, check=check)

    def show(self):
        return self.app.ctl_json("licence", "show")

    def in_use(self):
        return int(self.show()["seats_in_use"])

    def wait_in_use(self, n, timeout=5):
        harness.wait_until(lambda: self.in_use() == n, timeout, 0.05, "seats_in_use == %d" % n)

    def add_users(self, *names):
        for n in names:
            self.app.ctl("user", "add", n, "--password", "pw-" + n)

    def imap_login(self, user, source="127.0.0.2"):
        """(client, tagged LOGIN reply)."""
        c = self.closing(RawImap(self.app.imap_port, source=source))
        pw = "demo" if user == "demo" else "pw-" + user
        _, tagged = c.command("LOGIN %s %s" % (user, pw))
        return c, tagged

    def imap_ok(self, user, source="127.0.0.2"):
        c, tagged = self.imap_login(user, source)
        self.assertTrue(tagged.split()[1:2] == [b"OK"], "LOGIN %s: %r" % (user, tagged))
        return c

    def imap_refused(self, user, source="127.0.0.2"):
        c, tagged = self.imap_login(user, source)
        self.assertIn(b"NO [LIMIT]", tagged, "LOGIN %s should be refused for seats" % user)
        self.assertIn(b"licen", tagged.lower(), "the refusal names the licence: %r" % tagged)
        return c, tagged

    def pop3_login(self, user, source="127.0.0.2"):
        c = self.closing(RawPop3(self.app.pop3_port, source=source))
        return c, c.login(user, "demo" if user == "demo" else "pw-" + user)


class Evaluation(LicenceBase):
    def test_evaluation_licence_when_none_installed(self):
        s = self.show()
        self.assertEqual(s["status"], "evaluation")
        self.assertEqual(s["licensee"], "Evaluation")
        self.assertEqual(s["mode"], "per-seat")
        self.assertEqual(s["seats"], 25)
        self.assertEqual(s["expires"], "never")
        self.assertEqual(int(s["seats_in_use"]), 0)
        for k in ("peak_today", "peaks", "file"):
            self.assertIn(k, s)
        text = self.app.ctl("licence", "show").stdout
        self.assertIn("Evaluation", text)
        self.assertIn("25", text)

    def test_evaluation_is_never_unlimited(self):
        users = ["u%02d" % i for i in range(26)]
        self.add_users(*users)
        held = [self.imap_ok(u, "127.0.0.%d" % (2 + i % 5)) for i, u in enumerate(users[:25])]
        self.assertEqual(self.in_use(), 25)
        self.imap_refused(users[25], "127.0.0.9")
        # per-seat: another session of a seat holder is still fine.
        held.append(self.imap_ok(users[0], "127.0.0.9"))
        for c in held:
            c.close()
        self.wait_in_use(0)


class PerServer(LicenceBase):
    def test_every_authenticated_connection_holds_a_seat(self):
        self.add_users("bob", "carol")
        self.assertEqual(self.show()["status"], "evaluation")
        r = self.install(self.issue(3, "per-server", licensee="Per Server AG"))  # live, no restart
        self.assertEqual(r.returncode, 0)
        s = self.show()
        self.assertEqual((s["status"], s["licensee"], s["mode"], s["seats"]), ("ok", "Per Server AG", "per-server", 3))
        before = self.app.counters()

        # Three logins of any users, across protocols.
        a = self.imap_ok("demo", "127.0.0.2")
        p, reply = self.pop3_login("demo", "127.0.0.3")
        self.assertTrue(reply.startswith(b"+OK"), reply)
        b = self.imap_ok("bob", "127.0.0.4")
        self.assertEqual(self.in_use(), 3)
        # An unauthenticated connection holds no seat.
        idle = self.closing(RawImap(self.app.imap_port, source="127.0.0.5"))
        self.assertTrue(idle.greeting.startswith(b"* OK"))
        self.assertEqual(self.in_use(), 3)
        # The 4th is refused, whoever it is; POP3 speaks [SYS/TEMP].
        self.imap_refused("carol", "127.0.0.5")
        self.imap_refused("demo", "127.0.0.6")
        sasl = self.closing(RawImap(self.app.imap_port, source="127.0.0.6"))
        _, tagged = sasl.command("AUTHENTICATE PLAIN " + base64.b64encode(b"\0bob\0pw-bob").decode())
        self.assertIn(b"NO [LIMIT]", tagged, "AUTHENTICATE is refused like LOGIN")
        _, reply = self.pop3_login("carol", "127.0.0.6")
        self.assertTrue(reply.startswith(b"-ERR [SYS/TEMP]"), reply)
        self.assertIn(b"licen", reply.lower())
        self.assertEqual(self.app.counters().get("refused.seats", 0) - before.get("refused.seats", 0), 4)
        # Sessions already in keep working.
        self.assertIn(b"OK", a.command("SELECT INBOX")[1])
        self.assertIn(b"OK", b.command("NOOP")[1])
        self.assertTrue(p.cmd("STAT").startswith(b"+OK"))
        s = self.show()
        self.assertEqual(int(s["seats_in_use"]), 3)
        self.assertGreaterEqual(int(s["peak_today"]), 3)
        self.assertEqual(s["peaks"][-1]["day"], today())
        self.assertGreaterEqual(int(s["peaks"][-1]["peak"]), 3)
        self.assertTrue(any("licen" in l.lower() and "carol" in l for l in self.app.log_text().splitlines()),
                        "the seat refusal is logged with the user")

        # LOGOUT releases the seat.
        _, t = a.command("LOGOUT")
        self.assertIn(b"OK", t)
        self.wait_in_use(2)
        self.imap_ok("carol", "127.0.0.7")
        self.assertEqual(self.in_use(), 3)

    def test_installed_licence_survives_restart_with_peaks(self):
        self.install(self.issue(4, "per-server", licensee="Restart KG"))
        c1 = self.imap_ok("demo")
        c2 = self.imap_ok("demo")
        self.assertEqual(int(self.show()["peak_today"]), 2)
        c1.close()
        c2.close()
        self.wait_in_use(0)
        self.app.restart()
        s = self.show()
        self.assertEqual((s["status"], s["licensee"], s["seats"]), ("ok", "Restart KG", 4))
        self.assertEqual(int(s["seats_in_use"]), 0)
        self.assertEqual(int(s["peak_today"]), 2, "today's peak is persisted across a restart")


class PerSeat(LicenceBase):
    def test_a_user_holds_one_seat_however_many_sessions(self):
        self.add_users("a", "b", "c")
        self.install(self.issue(2, "per-seat"))
        a = [self.imap_ok("a", "127.0.0.%d" % (2 + i)) for i in range(3)]
        _, reply = self.pop3_login("a", "127.0.0.5")
        self.assertTrue(reply.startswith(b"+OK"), reply)  # IMAP and POP3 share the seat
        self.assertEqual(self.in_use(), 1)
        b = self.imap_ok("b", "127.0.0.6")
        self.assertEqual(self.in_use(), 2)
        self.imap_refused("c", "127.0.0.7")
        _, reply = self.pop3_login("c", "127.0.0.7")
        self.assertTrue(reply.startswith(b"-ERR [SYS/TEMP]"), reply)
        # Seats full, but a holder's further sessions cost nothing.
        self.imap_ok("a", "127.0.0.8")
        _, reply = self.pop3_login("b", "127.0.0.8")
        self.assertTrue(reply.startswith(b"+OK"), reply)
        self.assertEqual(self.in_use(), 2)
        # b ending one of two sessions keeps the seat; ending both releases it.
        b.command("LOGOUT")
        b.close()
        time.sleep(0.3)
        self.assertEqual(self.in_use(), 2)
        self.imap_refused("c", "127.0.0.9")

    def test_seat_released_when_the_last_session_ends(self):
        self.add_users("a", "b", "c")
        self.install(self.issue(2, "per-seat"))
        a1 = self.imap_ok("a")
        p, reply = self.pop3_login("a")
        self.assertTrue(reply.startswith(b"+OK"))
        self.imap_ok("b")
        self.imap_refused("c")
        a1.command("LOGOUT")
        time.sleep(0.3)
        self.assertEqual(self.in_use(), 2, "a still has a POP3 session")
        self.assertTrue(p.cmd("QUIT").startswith(b"+OK"))
        self.wait_in_use(1)
        self.imap_ok("c")


class KillWorker(LicenceBase):
    appliance_args = {"imap_workers": 1}

    def test_seat_released_after_kill9_of_the_worker(self):
        self.add_users("a", "b", "c")
        self.install(self.issue(2, "per-seat"))
        self.imap_ok("a").command("SELECT INBOX")
        self.imap_ok("b")
        self.imap_refused("c")
        self.assertEqual(self.in_use(), 2)
        old = self.app.pid_of("imapd")
        os.kill(old, signal.SIGKILL)
        harness.wait_until(lambda: not harness.pid_alive(old), 5, 0.02, "imapd to die")
        harness.wait_until(lambda: any(int(p["pid"]) not in (0, old) and p["state"] == "running"
                                       for p in self.app.processes("imapd")), 5, 0.05, "imapd restarted")
        self.wait_in_use(0)
        harness.wait_until(lambda: int(self.app.status()["connections"]) == 0, 5, 0.05, "connections 0")

        def c_logs_in():
            c, tagged = self.imap_login("c")
            return tagged.split()[1:2] == [b"OK"]

        harness.wait_until(c_logs_in, 5, 0.1, "c to log in after the kill")


class BadLicences(LicenceBase):
    def assert_still(self, licensee, seats, status="ok"):
        s = self.show()
        self.assertEqual((s["status"], s["licensee"], s["seats"]), (status, licensee, seats), s)

    def test_tampered_licence_refused(self):
        good = self.issue(3, "per-server", licensee="Honest Ltd")
        self.install(good)
        with open(good) as f:
            text = f.read()
        for old, new in (("seats: 3", "seats: 300"), ("licensee: Honest Ltd", "licensee: Sneaky Ltd"),
                         ("mode: per-server", "mode: per-seat"), ("expires: never", "expires: 2099-01-01")):
            self.assertIn(old, text)
            path = good + ".tampered"
            with open(path, "w") as f:
                f.write(text.replace(old, new))
            r = self.install(path, check=False)
            self.assertNotEqual(r.returncode, 0, "tampered %s installed" % new)
            self.assertIn("signature", (r.stderr + r.stdout).lower(), new)
            self.assert_still("Honest Ltd", 3)
        self.assertTrue(any("signature" in l for l in self.app.log_text().splitlines()),
                        "the refusal is logged")
        # Comments, field order and spacing are not signed: still valid.
        lines = [l for l in text.splitlines() if l]
        reordered = "# reordered by the test\r\n" + "\r\n".join(reversed(lines)).replace(": ", ":   ") + "\r\n"
        path = good + ".reordered"
        with open(path, "w") as f:
            f.write(reordered)
        r = self.install(path, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_tampered_leaves_evaluation(self):
        good = self.issue(3, "per-server")
        with open(good) as f:
            text = f.read()
        path = good + ".tampered"
        with open(path, "w") as f:
            f.write(text.replace("seats: 3", "seats: 4"))
        r = self.install(path, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("signature", (r.stderr + r.stdout).lower())
        s = self.show()
        self.assertEqual((s["licensee"], s["mode"], s["seats"]), ("Evaluation", "per-seat", 25))

    def test_other_key_and_malformed_refused(self):
        other = os.path.join(self.keydir, "other")
        subprocess.run([harness.CTL, "licence", "keygen", "--out", other], check=True,
                       capture_output=True, timeout=20)
        r = self.install(self.issue(5, "per-seat", key=other), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("signature", (r.stderr + r.stdout).lower())
        path = os.path.join(self.keydir, "garbage.lic")
        with open(path, "w") as f:
            f.write("licensee: X\nseats: lots\n")
        r = self.install(path, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("malformed", (r.stderr + r.stdout).lower())
        self.assert_still("Evaluation", 25, "evaluation")

    def test_expired_licence_refused(self):
        path = self.sign_with_openssl("Lapsed Inc", 3, "per-server", "2020-12-31", "2020-01-01")
        r = self.install(path, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("expired", (r.stderr + r.stdout).lower())
        s = self.show()
        self.assertEqual((s["licensee"], s["seats"]), ("Evaluation", 25))
        # The same bytes with a valid expiry prove the openssl signing is right.
        ok = self.sign_with_openssl("Lapsed Inc", 3, "per-server", "never", "2020-01-01")
        self.install(ok)
        self.assert_still("Lapsed Inc", 3)

    def test_expired_file_at_start_runs_on_evaluation(self):
        path = self.sign_with_openssl("Lapsed Inc", 3, "per-server", "2020-12-31", "2020-01-01")
        self.app.restart(while_stopped=lambda: shutil.copy(path, os.path.join(self.app.data_dir, "licence")))
        s = self.show()
        self.assertEqual(s["status"], "expired", s)
        self.assertIn("2020-12-31", s["reason"])
        self.assertEqual((s["mode"], s["seats"]), ("per-seat", 25), "runs on the evaluation licence")
        self.assertIn("expired", self.app.ctl("licence", "show").stdout)
        self.assertTrue(any("expired" in l for l in self.app.log_text().splitlines()))
        self.imap_ok("demo")


class Thresholds(LicenceBase):
    def test_warnings_at_80_and_95_percent(self):
        users = ["w%02d" % i for i in range(20)]
        self.add_users(*users)
        self.install(self.issue(20, "per-seat"))
        for u in users[:15]:
            self.imap_ok(u)
        warned = lambda pct: [l for l in self.app.log_text().splitlines()
                              if "seat usage high" in l and "percent=%d" % pct in l]
        self.assertEqual(warned(80), [])
        self.imap_ok(users[15])  # 16/20 = 80%
        harness.wait_until(lambda: warned(80), 3, 0.05, "the 80% warning")
        self.assertIn("in_use=16", warned(80)[0])
        self.assertEqual(warned(95), [])
        for u in users[16:19]:  # 19/20 = 95%
            self.imap_ok(u)
        harness.wait_until(lambda: warned(95), 3, 0.05, "the 95% warning")
        self.assertEqual(len(warned(80)), 1, "each threshold warns once while crossed")


class Races(LicenceBase):
    appliance_args = {"imap_workers": 2, "pop3_workers": 2,
                      "extra_config": {"limits.max_connections_per_ip": "1000",
                                       "limits.max_preauth_per_ip": "0"}}

    def login_cmd(self, client, user):
        return client.command("LOGIN %s pw-%s" % (user, user), timeout=30)[1]

    def test_per_server_login_storm_admits_exactly_the_seats(self):
        users = ["s%02d" % i for i in range(30)]
        self.add_users(*users)
        self.install(self.issue(10, "per-server"))
        clients = [self.closing(RawImap(self.app.imap_port, source="127.0.0.2")) for _ in users]
        res = harness.run_together(self.login_cmd, list(zip(clients, users)))
        self.assertTrue(all(isinstance(r, bytes) for r in res), res[:3])
        self.assertEqual(sum(r.split()[1:2] == [b"OK"] for r in res), 10)
        self.assertEqual(sum(b"NO [LIMIT]" in r for r in res), 20)
        self.assertEqual(self.in_use(), 10)

    def test_per_seat_storm_two_sessions_per_user(self):
        users = ["t%02d" % i for i in range(15)]
        self.add_users(*users)
        self.install(self.issue(5, "per-seat"))
        jobs = []
        for u in users:
            jobs.append((self.closing(RawImap(self.app.imap_port, source="127.0.0.2")), u))
            jobs.append((self.closing(RawImap(self.app.imap_port, source="127.0.0.3")), u))
        res = harness.run_together(self.login_cmd, jobs)
        self.assertTrue(all(isinstance(r, bytes) for r in res), res[:3])
        ok_users = {u for (c, u), r in zip(jobs, res) if r.split()[1:2] == [b"OK"]}
        self.assertEqual(len(ok_users), 5, "exactly 5 users hold seats")
        for (c, u), r in zip(jobs, res):
            if u in ok_users:
                self.assertEqual(r.split()[1:2], [b"OK"], "%s holds a seat, so its 2nd session is free" % u)
            else:
                self.assertIn(b"NO [LIMIT]", r)
        self.assertEqual(self.in_use(), 5)


class LiveChanges(LicenceBase):
    def test_fewer_seats_keep_sessions_refuse_new(self):
        self.add_users("a", "b", "c", "d")
        self.install(self.issue(5, "per-seat"))
        held = [self.imap_ok(u) for u in ("a", "b", "c")]
        self.install(self.issue(1, "per-seat", licensee="Smaller"))
        s = self.show()
        self.assertEqual((s["licensee"], s["seats"], int(s["seats_in_use"])), ("Smaller", 1, 3))
        for c in held:
            self.assertIn(b"OK", c.command("NOOP")[1], "sessions over the new seat count stay")
        self.imap_refused("d")
        self.imap_ok("a")  # a holder's extra session is still free in per-seat
        # per-server recounts the same connections: 4 sessions, 4 seats in use.
        self.install(self.issue(10, "per-server"))
        self.assertEqual(self.in_use(), 4)
        self.imap_ok("d")
        self.assertEqual(self.in_use(), 5)


class Peaks(LicenceBase):
    def test_daily_peaks_of_the_last_30_days_persist(self):
        now = time.time()
        day = lambda n: time.strftime("%Y-%m-%d", time.gmtime(now - n * 86400))
        # History as an earlier run left it: one day too old, two in the window.
        def seed():
            with open(os.path.join(self.app.data_dir, "seats.peaks"), "w") as f:
                f.write("# postern seat peaks v1\n%s 99\n%s 17\n%s 5\n" % (day(40), day(29), day(3)))

        self.app.restart(while_stopped=seed)
        s = self.show()
        peaks = {p["day"]: int(p["peak"]) for p in s["peaks"]}
        self.assertNotIn(day(40), peaks, "older than 30 days")
        self.assertEqual(peaks.get(day(29)), 17)
        self.assertEqual(peaks.get(day(3)), 5)
        self.assertEqual(s["peaks"][-1]["day"], today())
        self.assertLessEqual(len(s["peaks"]), 30)
        self.assertEqual([p["day"] for p in s["peaks"]], sorted(p["day"] for p in s["peaks"]), "oldest first")
        c = self.imap_ok("demo")
        self.assertEqual(int(self.show()["peak_today"]), 1)
        c.close()
        text = self.app.ctl("licence", "show").stdout
        self.assertIn(day(29), text)
        self.app.restart()
        peaks = {p["day"]: int(p["peak"]) for p in self.show()["peaks"]}
        self.assertEqual((peaks.get(day(29)), peaks.get(today())), (17, 1))


if __name__ == "__main__":
    harness.main()
