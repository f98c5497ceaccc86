#!/usr/bin/env python3
"""POP3 with poplib: exact octets, dot-stuffing, TOP, and deletion only in UPDATE state."""

import poplib
import socket
import time

import harness
from harness import make_message, untraced

DOTTED = make_message(2, subject="dots", body=".hidden\n..two dots\n.\nend\n")


class Pop3(harness.ApplianceTest):
    def deliver_three(self):
        msgs = [make_message(1), DOTTED, make_message(3, body=("x" * 76 + "\n") * 70)]
        for m in msgs:
            self.app.deliver("demo", m)
        return msgs

    def pop3_retry(self):
        """A POP3 login, retried briefly: the maildrop may still be locked by a session
        whose client just vanished."""
        return harness.wait_until(lambda: self.closing(self.app.pop3()), 3, 0.1, "POP3 login")

    def test_stat_list_uidl_retr_exact_bytes(self):
        msgs = self.deliver_three()
        pop = self.closing(self.app.pop3())
        # What RETR gives is what LMTP was sent, after the trace fields delivery added.
        stored = []
        for i, m in enumerate(msgs, 1):
            resp, lines, octets = pop.retr(i)
            self.assertTrue(resp.startswith(b"+OK"))
            stored.append(b"\r\n".join(lines) + b"\r\n")
            self.assertEqual(untraced(stored[-1]), m, "RETR %d round trip" % i)
            self.assertEqual(octets, len(stored[-1]), "RETR %d octets" % i)

        self.assertEqual(pop.stat(), (3, sum(len(m) for m in stored)))
        resp, listing, _ = pop.list()
        self.assertTrue(resp.startswith(b"+OK"))
        self.assertEqual(listing, [b"%d %d" % (i, len(m)) for i, m in enumerate(stored, 1)])
        self.assertEqual(pop.list(2), b"+OK 2 %d" % len(stored[1]))

        resp, uidls, _ = pop.uidl()
        uids = [u.split()[1] for u in uidls]
        self.assertEqual([int(u.split()[0]) for u in uidls], [1, 2, 3])
        self.assertEqual(len(set(uids)), 3, "UIDLs are unique")
        for u in uids:
            self.assertTrue(0 < len(u) <= 70 and all(0x21 <= c <= 0x7E for c in u), u)
        self.assertEqual(pop.uidl(2).split()[-1], uids[1])

        # The dot-stuffed lines came back exactly.
        resp, lines, _ = pop.retr(2)
        self.assertIn(b".hidden", lines)
        self.assertIn(b"..two dots", lines)
        self.assertIn(b".", lines)

        # UIDLs are stable across sessions.
        pop.quit()
        pop2 = self.closing(self.pop3_retry())
        self.assertEqual([u.split()[1] for u in pop2.uidl()[1]], uids)
        pop2.quit()

    def test_top(self):
        self.deliver_three()
        pop = self.closing(self.app.pop3())
        stored = b"\r\n".join(pop.retr(2)[1]) + b"\r\n"
        header, body = stored.split(b"\r\n\r\n", 1)
        body_lines = body.split(b"\r\n")
        resp, lines, _ = pop.top(2, 0)
        self.assertTrue(resp.startswith(b"+OK"))
        self.assertEqual(b"\r\n".join(lines) + b"\r\n", header + b"\r\n\r\n")
        resp, lines, _ = pop.top(2, 2)
        self.assertEqual(b"\r\n".join(lines) + b"\r\n",
                         header + b"\r\n\r\n" + b"\r\n".join(body_lines[:2]) + b"\r\n")
        with self.assertRaises(poplib.error_proto):
            pop.top(9, 0)
        pop.quit()

    def test_dele_then_quit_removes(self):
        msgs = self.deliver_three()
        pop = self.closing(self.app.pop3())
        self.assertTrue(pop.dele(2).startswith(b"+OK"))
        # Deleted messages are hidden in this session already...
        self.assertEqual(pop.stat()[0], 2)
        with self.assertRaises(poplib.error_proto):
            pop.retr(2)
        self.assertTrue(pop.quit().startswith(b"+OK"))
        # ...and gone after QUIT (UPDATE state).
        pop2 = self.closing(self.pop3_retry())
        self.assertEqual(pop2.stat()[0], 2)
        self.assertEqual(untraced(b"\r\n".join(pop2.retr(1)[1]) + b"\r\n"), msgs[0])
        self.assertEqual(untraced(b"\r\n".join(pop2.retr(2)[1]) + b"\r\n"), msgs[2])
        pop2.quit()
        imap = self.closing(self.app.imap())
        self.assertEqual(imap.select("INBOX")[1], [b"2"])
        imap.logout()

    def test_dele_then_rset_keeps(self):
        self.deliver_three()
        pop = self.closing(self.app.pop3())
        pop.dele(1)
        pop.dele(3)
        self.assertEqual(pop.stat()[0], 1)
        self.assertTrue(pop.rset().startswith(b"+OK"))
        self.assertEqual(pop.stat()[0], 3)
        pop.quit()
        pop2 = self.closing(self.pop3_retry())
        self.assertEqual(pop2.stat()[0], 3)
        pop2.quit()

    def test_dropped_connection_keeps_messages(self):
        self.deliver_three()
        pop = self.app.pop3()
        pop.dele(1)
        pop.dele(2)
        # Vanish without QUIT. shutdown() first: poplib's makefile() keeps the
        # descriptor open after close(), and the server (and its maildrop
        # lock) would never learn that the client went away.
        pop.sock.shutdown(socket.SHUT_RDWR)
        pop.sock.close()
        time.sleep(0.2)
        pop2 = self.closing(self.pop3_retry())
        self.assertEqual(pop2.stat()[0], 3)
        pop2.quit()

    def test_bad_password_refused(self):
        pop = self.closing(self.app.pop3(login=False))
        pop.user("demo")
        with self.assertRaises(poplib.error_proto):
            pop.pass_("wrong")


if __name__ == "__main__":
    harness.main()
