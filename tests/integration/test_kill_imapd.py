#!/usr/bin/env python3
"""kill -9 of an imapd worker: the master restarts it and a new login works within 2 s."""

import imaplib
import os
import signal
import time

import harness
from harness import make_message


class KillImapd(harness.ApplianceTest):
    # One worker, so a working login proves the restart rather than another worker.
    appliance_args = {"imap_workers": 1}

    def test_restart_after_kill9(self):
        self.app.deliver("demo", make_message(1))
        before = self.app.processes("imapd")
        self.assertEqual(len(before), 1, before)
        self.assertEqual(before[0].get("name"), "imapd#0")
        old_pid = self.app.pid_of("imapd")
        old_restarts = int(before[0].get("restarts", 0))
        victim = self.closing(self.app.imap())
        victim.select("INBOX")

        os.kill(old_pid, signal.SIGKILL)
        t0 = time.monotonic()

        def login():
            c = self.closing(self.app.imap())
            typ, data = c.select("INBOX")
            ok = typ == "OK" and data == [b"1"]
            c.logout()
            return ok

        harness.wait_until(login, 2.0, 0.02, "a new IMAP login after kill -9 of imapd")
        took = time.monotonic() - t0
        self.assertLess(took, 2.0)

        # The session on the killed worker is gone (connection closed), not hung.
        with self.assertRaises((imaplib.IMAP4.abort, OSError, EOFError)):
            victim.noop()

        def restarted():
            procs = self.app.processes("imapd")
            p = procs[0]
            return (p.get("state") == "running" and int(p.get("pid", 0)) not in (0, old_pid)
                    and int(p.get("restarts", 0)) >= old_restarts + 1) and p

        p = harness.wait_until(restarted, 5, 0.05, "status to show the restarted imapd")
        self.assertGreaterEqual(int(p["restarts"]), 1)
        self.assertTrue(p.get("last_exit"), "status names how the worker died: %r" % p)
        self.assertTrue("9" in p["last_exit"] or "KILL" in p["last_exit"].upper(), p["last_exit"])
        self.assertIn(str(old_pid), self.app.log_text(), "the master logs the death")

    def test_repeated_kills_are_survived(self):
        for _ in range(3):
            pid = harness.wait_until(lambda: self.app.pid_of("imapd"), 5, 0.05, "running imapd")
            os.kill(pid, signal.SIGKILL)
            harness.wait_until(lambda: not harness.pid_alive(pid), 2, 0.01, "imapd to die")

            def login():
                c = self.closing(self.app.imap())
                c.logout()
                return True

            harness.wait_until(login, 5, 0.05, "login after repeated kill")
        p = self.app.processes("imapd")[0]
        self.assertGreaterEqual(int(p["restarts"]), 3)
        # Other services were not disturbed.
        self.app.deliver("demo", make_message(2))
        pop = self.closing(self.app.pop3())
        self.assertEqual(pop.stat()[0], 1)
        pop.quit()


if __name__ == "__main__":
    harness.main()
