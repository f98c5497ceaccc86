#!/usr/bin/env python3
"""Named listeners (virtual servers) with their own limits and rules, and domain access rules
decided by forward-confirmed reverse DNS (127.0.0.1 is "localhost" both ways in /etc/hosts)."""

import os

import harness
from test_access import AccessBase, first_line


def named_port(app, name):
    with open(os.path.join(app.run_dir, "ports")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4 and parts[3] == name:
                return int(parts[2])
    raise AssertionError("listener %s not in the ports file" % name)


class VirtualServers(AccessBase):
    appliance_args = {"extra_config": {
        "listener.corp.protocol": "imap",
        "listener.corp.address": "127.0.0.1:0",
        "listener.corp.max_connections": "2",
        "listener.corp.max_connections_per_ip": "1",
        "listener.corp.deny": "127.0.0.6/32",
        "trusted_networks": "::1/128",
    }}

    def test_own_cap_ip_limit_and_rules(self):
        port = named_port(self.app, "corp")
        s1, l1 = first_line(port, "127.0.0.2")
        self.closing(s1)
        self.assertTrue(l1.startswith(b"* OK"), l1)
        s2, l2 = first_line(port, "127.0.0.2")  # per-IP 1 on this listener
        self.closing(s2)
        self.assertEqual(l2, b"* BYE [UNAVAILABLE] Too many connections from your address (limit 1)\r\n")
        s3, l3 = first_line(port, "127.0.0.3")
        self.closing(s3)
        self.assertTrue(l3.startswith(b"* OK"), l3)
        s4, l4 = first_line(port, "127.0.0.4")  # the listener's own cap of 2
        self.closing(s4)
        self.assertTrue(l4.startswith(b"* BYE [UNAVAILABLE] Connection limit of this service reached"), l4)
        # The ordinary listener is not affected by corp's cap or rules.
        self.assert_allowed("imap", "127.0.0.6")
        s5, l5 = first_line(port, "127.0.0.6")
        self.closing(s5)
        self.assertTrue(l5.startswith(b"* BYE [UNAVAILABLE] Access denied"), l5)
        rules = self.rules()
        self.assertIn(("deny 127.0.0.6/32 listener=corp", "config"), rules)
        who = self.app.ctl_json("who")["sessions"]
        self.assertEqual(sorted(s["listener"] for s in who if s["listener"] == "corp"), ["corp", "corp"])


class DomainRules(AccessBase):
    def test_confirmed_name_denied(self):
        # Turned on by a live reload (the harness's readiness probe comes from 127.0.0.1).
        self.app.settings.update({"access.dns": "true", "access.deny_domains": "localhost"})
        self.app.write_config()
        self.assertEqual(self.app.ctl("reload").returncode, 0)
        line = self.assert_denied("imap", "127.0.0.1")
        self.assertEqual(line, b"* BYE [UNAVAILABLE] Access denied for your host\r\n")
        self.assert_denied("pop3", "127.0.0.1")
        # 127.0.0.2 has no confirmed name: only allow lists would refuse it.
        self.assert_allowed("imap", "127.0.0.2")
        self.assertIn("host=localhost", self.app.log_text())


if __name__ == "__main__":
    harness.main()
