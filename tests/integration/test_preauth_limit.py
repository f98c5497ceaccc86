#!/usr/bin/env python3
"""limits.max_preauth_per_ip: connections from one address that have not logged in yet.

IMAP and POP3 count together; a login frees the slot; LMTP is not counted; other
addresses and trusted_networks are unaffected. Clients bind to 127.0.0.5 and up to act as
other addresses; 127.0.0.1 is in the default trusted_networks.
"""

import harness
from harness import closed_by_server, first_line, RawImap, RawPop3, Lmtp

ATTACKER = "127.0.0.5"
OTHER = "127.0.0.6"


def refusal(limit):
    return b"Too many connections from your address that have not logged in (limit %d)\r\n" % limit


class PreauthBase(harness.ApplianceTest):
    def imap(self, source):
        c = self.closing(RawImap(self.app.imap_port, source=source))
        self.assertTrue(c.greeting.startswith(b"* OK"), (source, c.greeting))
        return c

    def pop3(self, source):
        p = self.closing(RawPop3(self.app.pop3_port, source=source))
        self.assertTrue(p.greeting.startswith(b"+OK"), (source, p.greeting))
        return p

    def refused(self, proto, source, limit):
        """Asserts the exact refusal of a new `proto` connection from `source`, then EOF."""
        port = self.app.imap_port if proto == "imap" else self.app.pop3_port
        want = (b"* BYE [UNAVAILABLE] " if proto == "imap" else b"-ERR [SYS/TEMP] ") + refusal(limit)
        s, line = first_line(port, source)
        self.closing(s)
        self.assertEqual(line, want, "%s from %s" % (proto, source))
        self.assertTrue(closed_by_server(s), "the refused connection is closed")

    def greets(self, proto, source):
        """True if a new connection from `source` is admitted (it stays open)."""
        port = self.app.imap_port if proto == "imap" else self.app.pop3_port
        s, line = first_line(port, source)
        self.closing(s)
        return line.startswith(b"* OK" if proto == "imap" else b"+OK")

    def limits(self):
        return {l["key"]: (l["value"], l["source"]) for l in self.app.ctl_json("limits", "show")["limits"]}


class Preauth(PreauthBase):
    appliance_args = {"extra_config": {"limits.max_preauth_per_ip": "4"}}

    def test_idle_connections_then_refusal_login_frees_a_slot(self):
        before = self.app.counters().get("refused.preauth_per_ip", 0)
        held = [self.imap(ATTACKER) for _ in range(4)]  # N idle, never logging in
        self.refused("imap", ATTACKER, 4)
        self.refused("pop3", ATTACKER, 4)  # IMAP and POP3 count together
        # LMTP never logs in and is not counted (the MTA delivers without authenticating).
        lmtp = self.closing(Lmtp(self.app.lmtp_port, source=ATTACKER))
        self.assertEqual(lmtp.greeting[0], 220)
        # Another address is unaffected; the trusted one is exempt.
        others = [self.imap(OTHER) for _ in range(4)]
        trusted = [self.imap("127.0.0.1") for _ in range(8)]
        self.assertEqual(self.app.counters().get("refused.preauth_per_ip", 0) - before, 2)
        self.assertTrue(any("connection refused" in l and ATTACKER in l and "not logged in" in l
                            for l in self.app.log_text().splitlines()), "the refusal is logged with the address")
        # A wrong password does not free the slot.
        _, tagged = held[0].command("LOGIN demo wrong", timeout=20)
        self.assertIn(b"NO", tagged)
        self.refused("imap", ATTACKER, 4)
        # A login does: the logged-in connection no longer counts.
        held[0].login()
        self.assertTrue(self.greets("imap", ATTACKER), "a slot after the login")
        self.refused("imap", ATTACKER, 4)
        self.assertIn(b"OK", held[0].command("NOOP")[1], "the logged-in session works")
        # So does a hang-up (the worker reports it; the master frees the slot).
        held[1].close()
        harness.wait_until(lambda: self.greets("pop3", ATTACKER), 5, 0.05, "a slot after a hang-up")
        self.refused("pop3", ATTACKER, 4)
        for c in others + trusted:
            self.assertIn(b"OK", c.command("NOOP")[1])

    def test_pop3_login_frees_a_slot(self):
        pops = [self.pop3(ATTACKER) for _ in range(2)]
        imaps = [self.imap(ATTACKER) for _ in range(2)]
        self.refused("pop3", ATTACKER, 4)
        self.assertTrue(pops[0].login().startswith(b"+OK"))
        self.assertTrue(self.greets("imap", ATTACKER))
        self.refused("imap", ATTACKER, 4)
        self.assertTrue(pops[0].cmd("STAT").startswith(b"+OK"))
        self.assertEqual(len(imaps), 2)

    def test_live_change_show_reset_and_trusted_networks(self):
        self.assertEqual(self.limits()["limits.max_preauth_per_ip"], ("4", "config"))
        held = [self.imap(ATTACKER) for _ in range(3)]
        self.app.ctl("limits", "set", "limits.max_preauth_per_ip=2")
        self.assertEqual(self.limits()["limits.max_preauth_per_ip"], ("2", "live"))
        self.refused("imap", ATTACKER, 2)  # over the lowered limit: new ones refused ...
        for c in held:
            self.assertIn(b"OK", c.command("NOOP")[1])  # ... the sessions stay
        self.app.ctl("limits", "set", "limits.max_preauth_per_ip=0")  # 0: no limit
        more = [self.imap(ATTACKER) for _ in range(5)]
        self.app.ctl("limits", "reset", "limits.max_preauth_per_ip")
        self.assertEqual(self.limits()["limits.max_preauth_per_ip"], ("4", "config"))
        self.refused("imap", ATTACKER, 4)
        r = self.app.ctl("limits", "set", "limits.max_preauth_per_ip=1001", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("0-1000", r.stdout + r.stderr)
        # Live trusted_networks exempt the address at once.
        self.app.ctl("limits", "set", "trusted_networks=127.0.0.1/32 %s/32" % ATTACKER)
        self.imap(ATTACKER)
        self.app.ctl("limits", "reset", "trusted_networks")
        self.refused("imap", ATTACKER, 4)
        # A config reload changes it too.
        self.app.settings["limits.max_preauth_per_ip"] = "20"
        self.app.write_config()
        self.app.ctl("reload")
        self.assertEqual(self.limits()["limits.max_preauth_per_ip"], ("20", "config"))
        self.imap(ATTACKER)
        self.assertEqual(len(more), 5)


class Default(PreauthBase):
    def test_default_is_ten(self):
        self.assertEqual(self.limits()["limits.max_preauth_per_ip"], ("10", "config"))
        held = [self.imap(ATTACKER) for _ in range(6)] + [self.pop3(ATTACKER) for _ in range(4)]
        self.refused("imap", ATTACKER, 10)
        self.assertEqual(len(held), 10)


if __name__ == "__main__":
    harness.main()
