#!/usr/bin/env python3
"""POP3 maildrop lock across workers, kill -9 of a worker in TRANSACTION, AUTH PLAIN, CAPA,
snapshot semantics against IMAP, \\Seen at QUIT and too many bad commands."""

import base64
import imaplib
import os
import poplib
import signal
import socket
import time

import harness
from harness import make_message

IN_USE = b"-ERR [IN-USE] Maildrop already locked\r\n"
# STLS: a TLS certificate is always loaded (self-signed when none is configured).
CAPA = (b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN\r\nSTLS\r\nRESP-CODES\r\n"
        b"PIPELINING\r\nAUTH-RESP-CODE\r\nEXPIRE NEVER\r\nLOGIN-DELAY 0\r\nIMPLEMENTATION Postern\r\n.\r\n")


def drop(pop):
    """Vanishes without QUIT (shutdown: poplib's makefile keeps the descriptor open)."""
    pop.sock.shutdown(socket.SHUT_RDWR)
    pop.sock.close()


class Pop3LockTwoWorkers(harness.ApplianceTest):
    # Two workers: the master hands the second connection to the other (least-loaded) one.
    appliance_args = {"pop3_workers": 2}

    def test_second_login_in_use_until_quit(self):
        first = self.closing(self.app.pop3())
        second = self.closing(harness.RawPop3(self.app.pop3_port))
        self.assertTrue(second.cmd("USER demo").startswith(b"+OK"))
        self.assertEqual(second.cmd("PASS demo"), IN_USE)
        plain = base64.b64encode(b"\0demo\0demo").decode()
        self.assertEqual(second.cmd("AUTH PLAIN " + plain), IN_USE)
        # Still in AUTHORIZATION: it may try again once the first one is done.
        self.assertTrue(first.quit().startswith(b"+OK"))
        self.assertTrue(second.cmd("AUTH PLAIN " + plain).startswith(b"+OK Logged in"))
        self.assertEqual(second.cmd("QUIT"), b"+OK Postern POP3 signing off\r\n")

    def test_disconnect_frees_the_lock(self):
        self.app.deliver("demo", make_message(1))
        first = self.app.pop3()
        first.dele(1)
        drop(first)
        pop = harness.wait_until(lambda: self.closing(self.app.pop3()), 3, 0.05, "login after a drop")
        self.assertEqual(pop.stat()[0], 1, "a dropped connection deletes nothing")
        pop.quit()


class Pop3KillWorker(harness.ApplianceTest):
    appliance_args = {"pop3_workers": 1}

    def test_kill9_in_transaction_deletes_nothing_and_frees_the_lock(self):
        for i in range(3):
            self.app.deliver("demo", make_message(i + 1))
        victim = self.closing(self.app.pop3())
        victim.dele(1)
        victim.dele(2)
        pid = self.app.pid_of("pop3d")
        os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()

        def login():
            try:
                return self.closing(self.app.pop3())
            except (poplib.error_proto, OSError) as e:
                if b"IN-USE" in str(e).encode():
                    raise harness.Failure("maildrop still locked: %s" % e)
                return None  # the worker is not back yet

        pop = harness.wait_until(login, 5, 0.05, "a POP3 login after kill -9 of pop3d")
        # Far below the 60 s lease: the restarted worker freed its predecessor's locks.
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(pop.stat()[0], 3, "a killed worker deletes nothing")
        pop.quit()
        self.assertIn("released stale maildrop locks", self.app.log_text())


class Pop3Protocol(harness.ApplianceTest):
    def test_capa_and_auth_plain_exact_bytes(self):
        c = self.closing(harness.RawPop3(self.app.pop3_port))
        self.assertEqual(c.greeting, b"+OK Postern POP3 ready.\r\n")
        c.send("CAPA\r\n")
        self.assertEqual(b"".join(c.readline() for _ in range(CAPA.count(b"\r\n"))), CAPA)
        self.assertEqual(c.cmd("AUTH PLAIN"), b"+ \r\n")
        self.assertEqual(c.cmd("*"), b"-ERR Authentication cancelled\r\n")
        self.assertEqual(c.cmd("AUTH PLAIN"), b"+ \r\n")
        self.assertEqual(c.cmd(base64.b64encode(b"\0demo\0wrong").decode()),
                         b"-ERR [AUTH] Authentication failed\r\n")
        self.assertEqual(c.cmd("AUTH PLAIN"), b"+ \r\n")
        self.assertEqual(c.cmd(base64.b64encode(b"\0demo\0demo").decode()),
                         b"+OK Logged in, 0 messages (0 octets)\r\n")
        self.assertEqual(c.cmd("QUIT"), b"+OK Postern POP3 signing off\r\n")

    def test_message_expunged_by_imap_meanwhile(self):
        for i in range(3):
            self.app.deliver("demo", make_message(i + 1))
        pop = self.closing(harness.RawPop3(self.app.pop3_port))
        self.assertTrue(pop.login().startswith(b"+OK Logged in, 3 messages"))
        self.assertTrue(pop.cmd("DELE 3").startswith(b"+OK"))
        imap = self.closing(self.app.imap())
        imap.select("INBOX")
        imap.store("1,3", "+FLAGS", "(\\Deleted)")
        imap.expunge()
        self.assertEqual(pop.cmd("RETR 1"), b"-ERR [SYS/PERM] Message was deleted by another session\r\n")
        self.assertEqual(pop.cmd("TOP 1 0"), b"-ERR [SYS/PERM] Message was deleted by another session\r\n")
        self.assertTrue(pop.cmd("DELE 2").startswith(b"+OK"))
        # Message 3 is gone already; only message 2 is left to delete.
        self.assertEqual(pop.cmd("QUIT"), b"+OK Postern POP3 signing off (1 messages deleted)\r\n")
        imap.noop()
        self.assertEqual(imap.select("INBOX")[1], [b"0"])
        imap.logout()

    def test_retr_marks_seen_at_quit_top_does_not(self):
        for i in range(2):
            self.app.deliver("demo", make_message(i + 1))
        pop = self.closing(self.app.pop3())
        pop.retr(1)
        pop.top(2, 0)
        imap = self.closing(self.app.imap())
        imap.select("INBOX", readonly=True)
        self.assertEqual(imap.search(None, "SEEN")[1], [b""], "nothing before UPDATE")
        pop.quit()
        # The flag change reaches the IMAP session through the change feed.
        harness.wait_until(lambda: imap.noop() and imap.search(None, "SEEN")[1] == [b"1"], 3, 0.05,
                           "\\Seen on the message RETR fetched")
        imap.logout()
        fresh = self.closing(self.app.imap())
        fresh.select("INBOX", readonly=True)
        self.assertEqual(fresh.search(None, "SEEN")[1], [b"1"])
        fresh.logout()

    def test_too_many_bad_commands_close_the_session(self):
        c = self.closing(harness.RawPop3(self.app.pop3_port))
        for _ in range(19):
            self.assertEqual(c.cmd("BOGUS"), b"-ERR Unknown command\r\n")
        self.assertEqual(c.cmd("X" * 5000), b"-ERR Too many errors, closing connection\r\n")
        with self.assertRaises(harness.Failure):
            c.readline(timeout=5)


if __name__ == "__main__":
    harness.main()
