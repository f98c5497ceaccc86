#!/usr/bin/env python3
"""Two IMAP sessions on one mailbox see each other's changes (flags, expunges, new mail)."""

import re

import harness
from harness import make_message


class TwoSessions(harness.ApplianceTest):
    appliance_args = {"imap_workers": 2}

    def noop_updates(self, imap):
        """NOOP; returns the untagged EXISTS / EXPUNGE / FETCH data it brought."""
        imap.untagged_responses.clear()
        typ, _ = imap.noop()
        self.assertEqual(typ, "OK")
        got = {k: list(imap.untagged_responses.get(k, [])) for k in ("EXISTS", "EXPUNGE", "FETCH")}
        imap.untagged_responses.clear()  # else imaplib hands them to the next command too
        return got

    def poll(self, imap, key, timeout=3):
        """NOOP until `key` updates arrive (the change travels through stored's Watch)."""
        got = {}

        def attempt():
            upd = self.noop_updates(imap)
            for k, v in upd.items():
                got.setdefault(k, []).extend(v)
            return got.get(key)

        harness.wait_until(attempt, timeout, 0.05, "%s update via NOOP" % key)
        return got

    def test_sessions_see_each_others_changes(self):
        for i in (1, 2, 3):
            self.app.deliver("demo", make_message(i))
        a = self.closing(self.app.imap())
        b = self.closing(self.app.imap())
        self.assertEqual(a.select("INBOX")[1], [b"3"])
        self.assertEqual(b.select("INBOX")[1], [b"3"])

        # B sets a flag -> A's NOOP shows FETCH FLAGS for that message.
        self.assertEqual(b.store("2", "+FLAGS", "(\\Flagged)")[0], "OK")
        got = self.poll(a, "FETCH")
        self.assertTrue(any(re.match(rb"2 \(.*FLAGS \([^)]*\\Flagged", f) for f in got["FETCH"]),
                        got)
        self.assertEqual(got["EXPUNGE"], [])

        # B expunges message 1 -> A's NOOP shows * 1 EXPUNGE.
        b.store("1", "+FLAGS", "(\\Deleted)")
        self.assertEqual(b.expunge()[1], [b"1"])
        got = self.poll(a, "EXPUNGE")
        self.assertEqual(got["EXPUNGE"], [b"1"])
        # A's numbering follows: the flagged message is now number 1.
        typ, data = a.fetch("1", "(FLAGS)")
        self.assertIn(b"\\Flagged", data[0])

        # A new delivery -> both sessions see * 3 EXISTS.
        self.app.deliver("demo", make_message(4))
        got = self.poll(a, "EXISTS")
        self.assertEqual(got["EXISTS"][-1], b"3")
        got = self.poll(b, "EXISTS")
        self.assertEqual(got["EXISTS"][-1], b"3")
        typ, data = a.fetch("3", "(BODY.PEEK[])")
        self.assertEqual(harness.untraced(harness.fetch_literal(data)), make_message(4))

        # A's flag change reaches B too (the other direction).
        a.store("3", "+FLAGS", "(\\Seen)")
        got = self.poll(b, "FETCH")
        self.assertTrue(any(f.startswith(b"3 (") and b"\\Seen" in f for f in got["FETCH"]), got)
        a.logout()
        b.logout()

    def test_session_in_other_mailbox_unaffected(self):
        self.app.deliver("demo", make_message(1))
        a = self.closing(self.app.imap())
        b = self.closing(self.app.imap())
        a.create("Other")
        self.assertEqual(a.select("Other")[1], [b"0"])
        b.select("INBOX")
        b.store("1", "+FLAGS", "(\\Deleted)")
        b.expunge()
        upd = self.noop_updates(a)
        self.assertEqual(upd["EXPUNGE"], [])
        self.assertEqual(upd["FETCH"], [])


if __name__ == "__main__":
    harness.main()
