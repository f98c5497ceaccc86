#!/usr/bin/env python3
"""Smoke: mail delivered over LMTP is read and filed over IMAP with imaplib."""

import re

import harness
from harness import crlf, fetch_literal, fetch_meta, make_message, split_trace


class Smoke(harness.ApplianceTest):
    def test_deliver_then_read_and_file_over_imap(self):
        msgs = [make_message(i, body="Body of message %d.\nLine two.\n" % i) for i in (1, 2, 3)]
        for m in msgs:
            self.app.deliver("demo", m)

        imap = self.closing(self.app.imap())
        typ, data = imap.select("INBOX")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"3"], "SELECT INBOX EXISTS")

        # BODY[] is exactly what LMTP received, in CRLF form, after the trace fields that
        # delivery prepends (Return-Path, Received).
        stored = []
        for i, m in enumerate(msgs, 1):
            typ, data = imap.fetch(str(i), "(BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            trace, rest = split_trace(fetch_literal(data))
            self.assertEqual(rest, m, "BODY[] of message %d" % i)
            self.assertTrue(trace.startswith(b"Return-Path: <sender@example.org>\r\nReceived: "),
                            trace)
            stored.append(fetch_literal(data))

        typ, data = imap.fetch("1", "(RFC822.SIZE)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"RFC822.SIZE %d" % len(stored[0]), data[0])

        typ, data = imap.fetch("1", "(FLAGS)")
        self.assertEqual(typ, "OK")
        self.assertNotIn(b"\\Seen", data[0])

        typ, data = imap.store("1", "+FLAGS", "(\\Seen)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"\\Seen", data[0])
        typ, data = imap.fetch("1", "(FLAGS)")
        self.assertIn(b"\\Seen", data[0])

        # UID FETCH: UIDs ascend; UID FETCH of the first UID returns message 1.
        typ, data = imap.fetch("1:3", "(UID)")
        self.assertEqual(typ, "OK")
        uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data if d]
        self.assertEqual(len(uids), 3)
        self.assertEqual(uids, sorted(uids))
        self.assertEqual(len(set(uids)), 3)
        typ, data = imap.uid("FETCH", str(uids[1]), "(UID BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        self.assertEqual(fetch_literal(data), stored[1])
        self.assertIn(b"UID %d" % uids[1], fetch_meta(data))

        # BODY[HEADER] / BODY[TEXT] split at the blank line.
        typ, data = imap.fetch("2", "(BODY.PEEK[HEADER])")
        header, text = stored[1].split(b"\r\n\r\n", 1)
        self.assertEqual(fetch_literal(data), header + b"\r\n\r\n")
        typ, data = imap.fetch("2", "(BODY.PEEK[TEXT])")
        self.assertEqual(fetch_literal(data), text)

        # Mailboxes: CREATE, LIST, RENAME, DELETE.
        self.assertEqual(imap.create("Work")[0], "OK")
        typ, data = imap.list()
        self.assertEqual(typ, "OK")
        names = [self.mailbox_name(d) for d in data]
        self.assertIn("INBOX", names)
        self.assertIn("Work", names)
        self.assertEqual(imap.rename("Work", "Projects")[0], "OK")
        names = [self.mailbox_name(d) for d in imap.list()[1]]
        self.assertIn("Projects", names)
        self.assertNotIn("Work", names)
        self.assertEqual(imap.create("Projects/2024")[0], "OK")
        self.assertEqual(imap.delete("Projects/2024")[0], "OK")
        self.assertEqual(imap.delete("Projects")[0], "OK")
        names = [self.mailbox_name(d) for d in imap.list()[1]]
        self.assertNotIn("Projects", names)
        self.assertEqual(imap.create("Archive")[0], "OK")

        # APPEND into another mailbox, then read it back there.
        appended = make_message(10, subject="appended")
        typ, data = imap.append("Archive", "(\\Flagged)", None, appended)
        self.assertEqual(typ, "OK", data)
        typ, data = imap.status("Archive", "(MESSAGES)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"MESSAGES 1", data[0])

        # COPY message 3 to Archive; EXPUNGE message 1 (\Deleted) from INBOX.
        self.assertEqual(imap.copy("3", "Archive")[0], "OK")
        self.assertEqual(imap.store("1", "+FLAGS", "(\\Deleted)")[0], "OK")
        typ, data = imap.expunge()
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"1"], "EXPUNGE response")
        typ, data = imap.select("INBOX")
        self.assertEqual(data, [b"2"])
        typ, data = imap.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(fetch_literal(data), stored[1], "message 2 is now number 1")

        typ, data = imap.select("Archive")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"2"])
        typ, data = imap.fetch("1", "(FLAGS BODY.PEEK[])")
        self.assertEqual(fetch_literal(data), crlf(appended))
        self.assertIn(b"\\Flagged", fetch_meta(data))
        typ, data = imap.fetch("2", "(BODY.PEEK[])")
        self.assertEqual(fetch_literal(data), stored[2], "copied message")

        typ, data = imap.logout()
        self.assertEqual(typ, "BYE")

    @staticmethod
    def mailbox_name(list_line):
        # (\HasNoChildren) "/" "Work"  or  (\HasNoChildren) "/" Work
        m = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) (.*)$', list_line)
        assert m, list_line
        name = m.group(1)
        if name.startswith(b'"'):
            name = name[1:-1]
        return name.decode()


if __name__ == "__main__":
    harness.main()
