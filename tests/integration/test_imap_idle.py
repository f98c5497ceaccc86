#!/usr/bin/env python3
"""IDLE: a session in IDLE is told of a new delivery within one second."""

import re
import time

import harness
from harness import make_message


class Idle(harness.ApplianceTest):
    appliance_args = {"imap_workers": 2}

    def start_idle(self, c):
        c.send("i1 IDLE\r\n")
        line = c.readline(timeout=5)
        self.assertTrue(line.startswith(b"+"), line)

    def wait_exists(self, c, want, limit):
        """Reads untagged lines until '* want EXISTS'; returns the seconds it took."""
        t0 = time.monotonic()
        while True:
            left = limit - (time.monotonic() - t0)
            if left <= 0:
                self.fail("no '* %d EXISTS' within %.1fs" % (want, limit))
            line = c.readline(timeout=left)
            if re.match(rb"\* %d EXISTS\r\n" % want, line):
                return time.monotonic() - t0

    def test_idle_sees_delivery_within_one_second(self):
        self.app.deliver("demo", make_message(1))
        c = self.closing(self.app.raw_imap())
        untagged, tagged = c.command("SELECT INBOX")
        self.assertIn(b"* 1 EXISTS\r\n", untagged)
        self.assertIn(b" OK", tagged)
        self.start_idle(c)

        for n in (2, 3):
            # Time from the LMTP 250 (the message is durable) to the EXISTS line.
            lm = self.closing(self.app.lmtp())
            lm.sendmail("sender@example.org", ["demo"], make_message(n))
            t_ack = time.monotonic()
            took = self.wait_exists(c, n, 3.0)
            took_from_ack = time.monotonic() - t_ack
            lm.quit()
            self.assertLess(took_from_ack, 1.0, "EXISTS %.3fs after LMTP 250 (took %.3f)"
                            % (took_from_ack, took))

        c.send("DONE\r\n")
        line = c.readline(timeout=5)
        while line.startswith(b"*"):
            line = c.readline(timeout=5)
        self.assertTrue(line.startswith(b"i1 OK"), line)
        # The session continues normally after IDLE.
        _, tagged = c.command("NOOP")
        self.assertIn(b" OK", tagged)
        _, tagged = c.command("LOGOUT")
        self.assertIn(b" OK", tagged)

    def test_idle_sees_flag_change_and_expunge_from_other_session(self):
        for n in (1, 2):
            self.app.deliver("demo", make_message(n))
        c = self.closing(self.app.raw_imap())
        c.command("SELECT INBOX")
        self.start_idle(c)
        other = self.closing(self.app.imap())
        other.select("INBOX")
        other.store("2", "+FLAGS", "(\\Seen)")
        line = c.readline(timeout=2)
        self.assertRegex(line, rb"^\* 2 FETCH \(.*FLAGS \(.*\\Seen")
        other.store("1", "+FLAGS", "(\\Deleted)")
        other.expunge()
        line = c.readline(timeout=2)
        while line.startswith(b"* 1 FETCH"):  # the \Deleted flag change may come first
            line = c.readline(timeout=2)
        self.assertEqual(line, b"* 1 EXPUNGE\r\n")
        c.send("DONE\r\n")
        line = c.readline(timeout=5)
        self.assertTrue(line.startswith(b"i1 OK"), line)
        other.logout()


if __name__ == "__main__":
    harness.main()
