#!/usr/bin/env python3
"""RFC 2449 LOGIN-DELAY: advertised in CAPA and enforced across pop3d processes by the master."""

import time

import harness
from harness import RawPop3


class LoginDelay(harness.ApplianceTest):
    appliance_args = {"pop3_workers": 2, "extra_config": {"pop3.login_delay": "2"}}

    def test_second_login_too_soon_is_refused(self):
        p = self.closing(RawPop3(self.app.pop3_port))
        self.assertIn(b"LOGIN-DELAY 2\r\n", p.capa())
        self.assertTrue(p.login().startswith(b"+OK"))
        self.assertTrue(p.cmd("QUIT").startswith(b"+OK"))
        q = self.closing(RawPop3(self.app.pop3_port))
        r = q.login()
        self.assertTrue(r.startswith(b"-ERR [LOGIN-DELAY]"), r)
        self.assertEqual(self.app.counters().get("refused.login_delay", 0), 1)
        time.sleep(2.2)
        z = self.closing(RawPop3(self.app.pop3_port))
        self.assertTrue(z.login().startswith(b"+OK"))


if __name__ == "__main__":
    harness.main()
