#!/usr/bin/env python3
"""Access control: allow/deny CIDR rules (config and live), deny wins, protocol scope, persistence."""

import os
import time

import harness
from harness import first_line, RawImap

IMAP_REFUSED = b"* BYE [UNAVAILABLE]"
POP3_REFUSED = b"-ERR [SYS/TEMP]"
LMTP_REFUSED = b"421 4.3.2"


class AccessBase(harness.ApplianceTest):
    def line(self, proto, source):
        port = {"imap": self.app.imap_port, "pop3": self.app.pop3_port, "lmtp": self.app.lmtp_port}[proto]
        s, line = first_line(port, source)
        self.closing(s)
        return line

    def assert_allowed(self, proto, source):
        want = {"imap": b"* OK", "pop3": b"+OK", "lmtp": b"220"}[proto]
        line = self.line(proto, source)
        self.assertTrue(line.startswith(want), "%s from %s: want %r, got %r" % (proto, source, want, line))

    def assert_denied(self, proto, source):
        want = {"imap": IMAP_REFUSED, "pop3": POP3_REFUSED, "lmtp": LMTP_REFUSED}[proto]
        line = self.line(proto, source)
        self.assertTrue(line.startswith(want), "%s from %s: want %r, got %r" % (proto, source, want, line))
        return line

    def rules(self):
        return [(r["rule"], r["source"]) for r in self.app.ctl_json("access", "list")["rules"]]


class LiveRules(AccessBase):
    def test_deny_one_address(self):
        self.assertEqual(self.rules(), [])
        self.assertIn("no access rules", self.app.ctl("access", "list").stdout)
        before = self.app.counters()
        # A session already logged in from that address is not cut by a new rule.
        old = self.closing(RawImap(self.app.imap_port, source="127.0.0.2"))
        old.login()
        r = self.app.ctl("access", "deny", "127.0.0.2/32")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.rules(), [("deny 127.0.0.2/32", "live")])
        self.assertIn("deny 127.0.0.2/32", self.app.ctl("access", "list").stdout)
        for proto in ("imap", "pop3", "lmtp"):
            self.assert_denied(proto, "127.0.0.2")
            self.assert_allowed(proto, "127.0.0.3")
        # Refused before any authentication: the connection is closed after the refusal.
        s, line = first_line(self.app.imap_port, "127.0.0.2")
        self.closing(s)
        s.settimeout(5)
        self.assertEqual(s.recv(100), b"")
        self.assertEqual(self.app.counters().get("refused.access", 0) - before.get("refused.access", 0), 4)
        self.assertTrue(any("127.0.0.2" in l and "refused" in l and "proto=imap" in l and "denied" in l.lower()
                            for l in self.app.log_text().splitlines()), "the refusal is logged with the reason")
        self.assertIn(b"OK", old.command("NOOP")[1])

        # remove: the address may connect again. The rule text is canonicalised.
        r = self.app.ctl("access", "remove", "deny", "127.0.0.2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.rules(), [])
        self.assert_allowed("imap", "127.0.0.2")
        r = self.app.ctl("access", "remove", "deny", "127.0.0.2/32", check=False)
        self.assertNotEqual(r.returncode, 0, "removing a rule that is not there")
        self.assertTrue((r.stderr + r.stdout).strip())

    def test_subnet_and_json(self):
        res = self.app.ctl_json("access", "deny", "127.0.0.0/29")
        self.assertTrue(res["result"]["ok"])
        self.assertEqual([r["rule"] for r in res["rules"]], ["deny 127.0.0.0/29"])
        for ip in ("127.0.0.2", "127.0.0.7"):
            self.assert_denied("imap", ip)
        self.assert_allowed("imap", "127.0.0.8")
        # 127.0.0.1 is in the subnet too: trusted_networks does not exempt from access rules.
        s, line = first_line(self.app.imap_port, "127.0.0.1")
        self.closing(s)
        self.assertTrue(line.startswith(IMAP_REFUSED), line)
        self.app.ctl("access", "remove", "deny 127.0.0.0/29")

    def test_protocol_scoped_rule(self):
        self.app.ctl("access", "deny", "127.0.0.5/32", "protocol=pop3")
        self.assertEqual(self.rules(), [("deny 127.0.0.5/32 protocol=pop3", "live")])
        self.assert_allowed("imap", "127.0.0.5")
        self.assert_allowed("lmtp", "127.0.0.5")
        self.assert_denied("pop3", "127.0.0.5")
        self.assert_allowed("pop3", "127.0.0.6")

    def test_listener_scoped_rule(self):
        self.app.ctl("access", "deny", "127.0.0.5/32", "listener=imap0")
        self.assert_denied("imap", "127.0.0.5")
        self.assert_allowed("pop3", "127.0.0.5")
        self.app.ctl("access", "remove", "deny 127.0.0.5/32 listener=imap0")
        self.app.ctl("access", "deny", "127.0.0.5/32", "listener=pop30")
        self.assert_allowed("imap", "127.0.0.5")
        self.assert_denied("pop3", "127.0.0.5")

    def test_live_allow_list(self):
        self.app.ctl("access", "allow", "127.0.0.3/32")
        self.app.ctl("access", "allow", "127.0.0.1/32")
        self.assert_allowed("imap", "127.0.0.3")
        self.assert_allowed("imap", "127.0.0.1")
        self.assert_denied("imap", "127.0.0.4")
        # deny wins over allow.
        self.app.ctl("access", "deny", "127.0.0.3")
        self.assert_denied("imap", "127.0.0.3")

    def test_bad_rules_refused_with_a_message(self):
        cases = [
            (("deny", "10.1.2.3/8"), "10.0.0.0/8"),       # host bits set: names the network meant
            (("deny", "300.1.2.3/32"), "300.1.2.3"),
            (("deny", "127.0.0.2/33"), "127.0.0.2/33"),
            (("deny", "not-an-address"), "not-an-address"),
            (("deny", "127.0.0.2/32", "protocol=smtp"), "smtp"),
            (("deny", "127.0.0.2/32", "colour=blue"), "colour"),
            (("allow", "::1/129"), "::1/129"),
        ]
        for args, want in cases:
            r = self.app.ctl("access", *args, check=False)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(want, r.stderr + r.stdout, args)
        r = self.app.ctl("access", "remove", "deny", "garbage", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue((r.stderr + r.stdout).strip())
        self.assertEqual(self.rules(), [], "nothing was added")
        # A duplicate is refused too.
        self.app.ctl("access", "deny", "127.0.0.9/32")
        r = self.app.ctl("access", "deny", "127.0.0.9", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(self.rules()), 1)
        # IPv6 rules are accepted.
        self.app.ctl("access", "deny", "2001:DB8::/32")
        self.assertIn(("deny 2001:db8::/32", "live"), self.rules())

    def test_rules_survive_restart(self):
        self.app.ctl("access", "deny", "127.0.0.2/32")
        self.app.ctl("access", "deny", "127.0.0.5/32", "protocol=pop3")
        path = os.path.join(self.app.data_dir, "access.rules")
        self.assertTrue(os.path.exists(path))
        self.app.restart()
        self.assertEqual(self.rules(), [("deny 127.0.0.2/32", "live"), ("deny 127.0.0.5/32 protocol=pop3", "live")])
        self.assert_denied("imap", "127.0.0.2")
        self.assert_denied("pop3", "127.0.0.5")
        self.assert_allowed("imap", "127.0.0.5")
        self.app.ctl("access", "remove", "deny 127.0.0.2/32")
        self.app.restart()
        self.assertEqual(self.rules(), [("deny 127.0.0.5/32 protocol=pop3", "live")])
        self.assert_allowed("imap", "127.0.0.2")


class ConfigAllow(AccessBase):
    appliance_args = {"extra_config": {"access.allow": "127.0.0.3/32, 127.0.0.1/32"}}

    def test_allow_list_from_config(self):
        rules = self.rules()
        self.assertIn(("allow 127.0.0.3/32", "config"), rules)
        self.assertIn(("allow 127.0.0.1/32", "config"), rules)
        self.assert_allowed("imap", "127.0.0.3")
        self.assert_allowed("pop3", "127.0.0.3")
        for proto in ("imap", "pop3", "lmtp"):
            self.assert_denied(proto, "127.0.0.4")
        # deny wins over allow: a live deny of an allowed address.
        self.app.ctl("access", "deny", "127.0.0.3/32")
        self.assert_denied("imap", "127.0.0.3")
        self.assert_allowed("imap", "127.0.0.1")
        # A live allow adds to the config's allow list.
        self.app.ctl("access", "allow", "127.0.0.4/32")
        self.assert_allowed("imap", "127.0.0.4")
        # Config rules are not removed by `access remove`.
        r = self.app.ctl("access", "remove", "allow 127.0.0.3/32", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(("allow 127.0.0.3/32", "config"), self.rules())


class ConfigDenyWins(AccessBase):
    appliance_args = {"extra_config": {"access.allow": "127.0.0.0/24",
                                       "access.deny": "127.0.0.6/32"}}

    def test_deny_wins_in_config(self):
        self.assert_allowed("imap", "127.0.0.5")
        self.assert_denied("imap", "127.0.0.6")
        self.assert_denied("pop3", "127.0.0.6")

    def test_reload_changes_config_rules(self):
        self.assert_denied("imap", "127.0.0.6")
        self.app.settings["access.deny"] = "127.0.0.7/32"
        self.app.write_config()
        self.app.ctl("reload")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.line("imap", "127.0.0.6").startswith(IMAP_REFUSED):
            time.sleep(0.05)
        self.assert_allowed("imap", "127.0.0.6")
        self.assert_denied("imap", "127.0.0.7")


if __name__ == "__main__":
    harness.main()
