#!/usr/bin/env python3
"""LMTP (RFC 2033): per-recipient replies, size limit, bad commands."""

import smtplib

import harness
from harness import make_message, untraced

LIMIT = 20000


class Lmtp(harness.ApplianceTest):
    appliance_args = {"extra_config": {"message_size_limit": str(LIMIT)}}

    def setUp(self):
        super().setUp()
        self.app.ctl("user", "add", "bob", "--password", "bobpw")

    def inbox_count(self, user, password):
        imap = self.closing(self.app.imap(user, password))
        typ, data = imap.select("INBOX")
        self.assertEqual(typ, "OK")
        n = int(data[0])
        imap.logout()
        return n

    def test_one_reply_per_recipient_after_data(self):
        c = self.closing(self.app.raw_lmtp())
        self.assertEqual(c.greeting[0], 220)
        code, text = c.cmd("LHLO test.local")
        self.assertEqual(code, 250, text)
        self.assertEqual(c.cmd("MAIL FROM:<sender@example.org>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<demo@example.org>")[0], 250)
        code, text = c.cmd("RCPT TO:<nosuchuser@example.org>")
        self.assertEqual(code, 550, text)
        self.assertEqual(c.cmd("RCPT TO:<bob>")[0], 250)
        (code, text), replies = c.data(make_message(1, body=".dot line\nbye\n"), 2)
        self.assertEqual(code, 354, text)
        self.assertEqual([r[0] for r in replies], [250, 250], replies)
        self.assertEqual(c.cmd("NOOP")[0], 250)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        self.assertEqual(self.inbox_count("demo", "demo"), 1)
        self.assertEqual(self.inbox_count("bob", "bobpw"), 1)
        imap = self.closing(self.app.imap())
        imap.select("INBOX")
        body = harness.fetch_literal(imap.fetch("1", "(BODY.PEEK[])")[1])
        self.assertEqual(untraced(body), make_message(1, body=".dot line\nbye\n"),
                         "dot-unstuffed on receipt")

    def test_smtplib_reports_refused_recipient(self):
        c = self.closing(self.app.lmtp())
        refused = c.sendmail("sender@example.org", ["demo", "ghost@example.org"], make_message(2))
        self.assertEqual(list(refused), ["ghost@example.org"])
        self.assertEqual(refused["ghost@example.org"][0], 550)
        c.quit()
        self.assertEqual(self.inbox_count("demo", "demo"), 1)

    def test_all_recipients_unknown(self):
        c = self.closing(self.app.lmtp())
        with self.assertRaises(smtplib.SMTPRecipientsRefused):
            c.sendmail("sender@example.org", ["ghost1", "ghost2"], make_message(3))

    def test_message_over_size_limit_refused_552(self):
        c = self.closing(self.app.raw_lmtp())
        c.cmd("LHLO test.local")
        c.cmd("MAIL FROM:<sender@example.org>")
        self.assertEqual(c.cmd("RCPT TO:<demo>")[0], 250)
        big = make_message(4, body=("y" * 76 + "\n") * (LIMIT // 77 + 50))
        self.assertGreater(len(big), LIMIT)
        (code, _), replies = c.data(big, 1)
        self.assertEqual(code, 354)
        self.assertEqual(replies[0][0], 552, replies)
        # The session goes on: a message within the limit is accepted.
        self.assertEqual(c.cmd("RSET")[0], 250)
        c.cmd("MAIL FROM:<sender@example.org>")
        self.assertEqual(c.cmd("RCPT TO:<demo>")[0], 250)
        (code, _), replies = c.data(make_message(5), 1)
        self.assertEqual(replies[0][0], 250, replies)
        c.cmd("QUIT")
        self.assertEqual(self.inbox_count("demo", "demo"), 1)

    def test_declared_size_over_limit_refused_at_mail_from(self):
        c = self.closing(self.app.raw_lmtp())
        code, text = c.cmd("LHLO test.local")
        if b"SIZE" not in text:
            self.skipTest("no SIZE extension advertised")
        code, text = c.cmd("MAIL FROM:<sender@example.org> SIZE=%d" % (LIMIT * 10))
        self.assertEqual(code, 552, text)

    def test_bad_command_5xx_and_session_continues(self):
        c = self.closing(self.app.raw_lmtp())
        self.assertEqual(c.cmd("LHLO test.local")[0], 250)
        code, text = c.cmd("XYZZY plugh")
        self.assertTrue(500 <= code < 600, text)
        code, text = c.cmd("RCPT TO:<demo>")  # out of sequence: no MAIL yet
        self.assertTrue(500 <= code < 600, text)
        code, text = c.cmd("MAIL TO:<demo>")  # not MAIL FROM
        self.assertTrue(500 <= code < 600, text)
        self.assertEqual(c.cmd("NOOP")[0], 250)
        c.cmd("MAIL FROM:<sender@example.org>")
        self.assertEqual(c.cmd("RCPT TO:<demo>")[0], 250)
        (_, _), replies = c.data(make_message(6), 1)
        self.assertEqual(replies[0][0], 250)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        self.assertEqual(self.inbox_count("demo", "demo"), 1)


if __name__ == "__main__":
    harness.main()
