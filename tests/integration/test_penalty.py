#!/usr/bin/env python3
"""Brute-force penalty (master/penalty.h): failed logins from one address are answered
after growing delays (2, 4, 8 s), the N-th blocks the address (new connections refused,
its sessions not logged in closed), trusted_networks are exempt, a success decays the
count, other sessions keep running while one waits, posternctl penalty list / clear."""

import time

import harness
from harness import RawClient, RawImap, RawPop3

ATTACKER = "127.0.0.5"   # not in trusted_networks (127.0.0.1/32, ::1/128)
FAILED = b"NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"


def timed_failure(client, text="LOGIN demo wrong"):
    """Sends a failing LOGIN; returns (seconds until the tagged answer, tagged line)."""
    t0 = time.monotonic()
    _, tagged = client.command(text, timeout=30)
    return time.monotonic() - t0, tagged


class Penalty(harness.ApplianceTest):
    appliance_args = {"imap_workers": 1, "pop3_workers": 1,
                      "extra_config": {"auth.penalty_max_failures": "3",
                                       "auth.penalty_block_time": "60"}}

    def entries(self, *args):
        return self.app.ctl_json("penalty", "list", *args)["entries"]

    def test_delays_grow_then_the_address_is_blocked_and_cleared(self):
        # Logged in before the attack: a block never closes it.
        ok = self.closing(RawImap(self.app.imap_port, source=ATTACKER))
        ok.login()
        c = self.closing(RawImap(self.app.imap_port, source=ATTACKER))

        took, tagged = timed_failure(c)
        self.assertTrue(tagged.endswith(FAILED), tagged)
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 3.5)

        # While the second failure waits 4 s, the same worker serves everyone else at once.
        tag = c.tag()
        c.send("%s LOGIN demo wrong\r\n" % tag)
        t0 = time.monotonic()
        time.sleep(0.3)
        other = self.closing(RawImap(self.app.imap_port))
        other.login()
        _, t = other.command("NOOP")
        self.assertTrue(t.endswith(b"OK NOOP completed.\r\n") or b" OK " in t, t)
        self.assertLess(time.monotonic() - t0, 1.5, "another session was held up by a penalty delay")
        _, tagged = c.read_until_tagged(tag, timeout=30)
        took = time.monotonic() - t0
        self.assertTrue(tagged.endswith(FAILED), tagged)
        self.assertGreaterEqual(took, 3.9)
        self.assertLess(took, 5.5)

        e = self.entries()
        self.assertEqual([x["address"] for x in e], [ATTACKER])
        self.assertEqual(e[0]["failures"], 2)
        self.assertEqual(e[0]["blocked_seconds"], "0")
        text = self.app.ctl("penalty", "list").stdout
        self.assertIn(ATTACKER, text)

        # The third failure (POP3 counts in the same table) blocks the address at once.
        p = self.closing(RawPop3(self.app.pop3_port, source=ATTACKER))
        self.assertTrue(p.cmd("USER demo").startswith(b"+OK"))
        t0 = time.monotonic()
        p.send("PASS wrong\r\n")
        harness.wait_until(lambda: int(self.entries()[0]["blocked_seconds"]) > 0, 5, 0.05, "the block")
        e = self.entries(ATTACKER)
        self.assertEqual(len(e), 1)
        self.assertGreater(int(e[0]["blocked_seconds"]), 50)
        self.assertEqual(e[0]["blocks"], 1)
        self.assertEqual(e[0]["total_failures"], "3")

        reason = b"Too many failed logins from your address, try again in "
        imap = RawClient(self.app.imap_port, source=ATTACKER)
        line = imap.readline()
        self.assertTrue(line.startswith(b"* BYE [UNAVAILABLE] " + reason), line)
        self.assertIsNotNone(imap.rest_until_eof(5))
        imap.close()
        pop = RawClient(self.app.pop3_port, source=ATTACKER)
        line = pop.readline()
        self.assertTrue(line.startswith(b"-ERR [SYS/TEMP] " + reason), line)
        pop.close()
        # The attacker's session that had not logged in is closed with the same words...
        rest = c.rest_until_eof(5)
        self.assertIsNotNone(rest, "the blocked address's unauthenticated session stayed open")
        self.assertIn(b"* BYE [UNAVAILABLE] " + reason, rest)
        # ...the failing one after its answer (8 s)...
        rest = p.rest_until_eof(15)
        self.assertIsNotNone(rest)
        self.assertTrue(rest.startswith(b"-ERR [AUTH] Authentication failed\r\n"), rest)
        self.assertGreaterEqual(time.monotonic() - t0, 7.9)
        # ...and the one logged in before stays.
        _, t = ok.command("NOOP")
        self.assertIn(b" OK ", t)
        # Other addresses are not affected.
        fresh = self.closing(RawImap(self.app.imap_port, source="127.0.0.6"))
        self.assertTrue(fresh.greeting.startswith(b"* OK"), fresh.greeting)
        status = self.app.ctl_json("status")["counters"]
        self.assertGreaterEqual(int(status.get("refused.penalty", 0)), 2)
        self.assertEqual(int(status.get("penalty.blocks", 0)), 1)

        # posternctl penalty clear lifts the block at once.
        r = self.app.ctl("penalty", "clear", ATTACKER)
        self.assertIn("1 penalty entry cleared", r.stdout)
        self.assertEqual(self.entries(), [])
        back = self.closing(RawImap(self.app.imap_port, source=ATTACKER))
        self.assertTrue(back.greeting.startswith(b"* OK"), back.greeting)
        back.login()

    def test_trusted_networks_are_exempt(self):
        c = self.closing(RawImap(self.app.imap_port))  # 127.0.0.1
        for _ in range(4):  # more than auth.penalty_max_failures
            took, tagged = timed_failure(c)
            self.assertTrue(tagged.endswith(FAILED), tagged)
            self.assertLess(took, 1.8, "a trusted client's failures must not grow")
        self.assertEqual(self.entries(), [])
        again = self.closing(RawImap(self.app.imap_port))
        again.login()

    def test_a_success_halves_the_count(self):
        c = self.closing(RawImap(self.app.imap_port, source="127.0.0.7"))
        took, _ = timed_failure(c)
        self.assertGreaterEqual(took, 1.9)
        c.login()  # right password: 1 failure -> 0
        self.assertEqual(self.entries(), [])
        c2 = self.closing(RawImap(self.app.imap_port, source="127.0.0.7"))
        took, _ = timed_failure(c2)
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 3.5, "the success should have forgiven the earlier failure")

    def test_penalty_clear_arguments(self):
        p = self.closing(RawPop3(self.app.pop3_port, source="127.0.0.8"))
        self.assertTrue(p.cmd("USER nobody-here").startswith(b"+OK"))
        self.assertEqual(p.cmd("PASS x", timeout=10), b"-ERR [AUTH] Authentication failed\r\n")
        self.assertEqual([x["address"] for x in self.entries("127.0.0.0/24")], ["127.0.0.8"])
        self.assertEqual(self.entries("10.0.0.0/8"), [])
        r = self.app.ctl("penalty", "clear", "not-an-address", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not-an-address", r.stderr)
        r = self.app.ctl("penalty", "list", "127.0.0.1/8", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("host bits", r.stderr)
        self.assertEqual(self.app.ctl_json("penalty", "clear", "all")["cleared"], 1)
        self.assertEqual(self.entries(), [])


if __name__ == "__main__":
    harness.main()
