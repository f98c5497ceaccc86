#!/usr/bin/env python3
"""kill -9 of stored loses no message that LMTP acknowledged; IMAP sessions survive it."""

import imaplib
import os
import poplib
import re
import signal
import time

import harness
from harness import make_message

N = 50


class KillStored(harness.ApplianceTest):
    appliance_args = {"imap_workers": 1, "lmtp_workers": 1}

    def stored_back(self, old_pid):
        def check():
            for p in self.app.processes("stored"):
                pid = int(p.get("pid", 0))
                if p.get("state") == "running" and pid not in (0, old_pid):
                    return p
            return None
        return harness.wait_until(check, 15, 0.05, "stored to be restarted by the master")

    def test_acknowledged_messages_survive_kill9(self):
        # A session that stays open across the outage.
        watcher = self.closing(self.app.imap())
        self.assertEqual(watcher.select("INBOX")[1], [b"0"])

        msgs = [make_message(i, body="payload %d\n%s\n" % (i, "z" * (i * 37))) for i in range(N)]
        lm = self.closing(self.app.lmtp())
        for m in msgs:
            refused = lm.sendmail("sender@example.org", ["demo"], m)
            self.assertEqual(refused, {})
        # The last 250 has just arrived: kill stored now.
        old_pid = self.app.pid_of("stored")
        os.kill(old_pid, signal.SIGKILL)
        outage = []
        # During the outage the session gets NO [UNAVAILABLE] or a late OK; never a drop.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                typ, data = watcher.status("INBOX", "(MESSAGES)")
            except imaplib.IMAP4.abort as e:
                self.fail("IMAP session dropped while stored was down: %s" % e)
            outage.append((typ, data))
            if typ == "OK":
                break
            self.assertEqual(typ, "NO", data)
            self.assertTrue(data[0].startswith(b"[UNAVAILABLE]"), data)
            time.sleep(0.05)
        self.assertEqual(outage[-1][0], "OK", "STATUS never succeeded again: %r" % outage[-5:])
        self.stored_back(old_pid)

        # Every acknowledged message is there, byte for byte, in the same session...
        m = re.search(rb"MESSAGES (\d+)", outage[-1][1][0])
        self.assertEqual(int(m.group(1)), N)
        typ, data = watcher.select("INBOX")
        self.assertEqual((typ, data), ("OK", [str(N).encode()]))
        typ, data = watcher.fetch("1:%d" % N, "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        bodies = [harness.untraced(d[1]) for d in data if isinstance(d, tuple)]
        self.assertEqual(bodies, msgs)
        # ...and in a new one.
        fresh = self.closing(self.app.imap())
        self.assertEqual(fresh.select("INBOX")[1], [str(N).encode()])
        fresh.logout()
        watcher.logout()

        # LMTP works again (new session; the old one may have seen 451 meanwhile).
        self.app.deliver("demo", make_message(N + 1))

    def test_commands_during_outage_get_temporary_errors(self):
        self.app.deliver("demo", make_message(1))
        imap = self.closing(self.app.imap())
        imap.select("INBOX")
        pop = self.closing(self.app.pop3())
        self.assertEqual(pop.stat()[0], 1)
        pid = self.app.pid_of("stored")
        os.kill(pid, signal.SIGKILL)
        harness.wait_until(lambda: not harness.pid_alive(pid), 5, 0.01, "stored to die")
        # Whatever arrives before and during the restart: success or a temporary error;
        # the sessions are never dropped.
        for _ in range(20):
            typ, data = imap.fetch("1", "(FLAGS)")
            self.assertIn(typ, ("OK", "NO"))
            if typ == "NO":
                self.assertTrue(data[0].startswith(b"[UNAVAILABLE]"), data)
            try:
                pop.retr(1)
            except poplib.error_proto as e:
                self.assertTrue(e.args[0].startswith(b"-ERR [SYS/TEMP]"), e.args)
            time.sleep(0.01)
        self.stored_back(pid)

        def fetch_ok():
            typ, data = imap.fetch("1", "(FLAGS)")
            return typ == "OK"

        harness.wait_until(fetch_ok, 10, 0.1, "FETCH to work again in the same session")
        self.assertEqual(pop.noop()[:3], b"+OK")
        pop.quit()
        imap.logout()


if __name__ == "__main__":
    harness.main()
