#!/usr/bin/env python3
"""Bad input gets BAD / -ERR with a reason, and the session continues; nothing crashes."""

import socket

import harness
from harness import RawClient


class BadInput(harness.ApplianceTest):
    def assert_alive(self, c):
        _, tagged = c.command("NOOP")
        self.assertRegex(tagged, rb"^r\d+ OK")

    def assert_workers_not_restarted(self):
        for p in self.app.processes():
            self.assertEqual(int(p.get("restarts", 0)), 0, p)

    def test_unknown_command_is_tagged_bad(self):
        for login in (False, True):
            c = self.closing(self.app.raw_imap(login=login))
            untagged, tagged = c.command("FROBNICATE now")
            self.assertRegex(tagged, rb"^r\d+ BAD .+\r\n$")
            self.assert_alive(c)
            # A command that exists but with malformed arguments.
            _, tagged = c.command("FETCH")
            self.assertRegex(tagged, rb"^r\d+ BAD ")
            self.assert_alive(c)
        c.send("\r\n")  # an empty line: a BAD, or ignored
        untagged, tagged = c.command("NOOP")
        for line in untagged:
            self.assertRegex(line, rb"^\S+ BAD ")
        self.assertRegex(tagged, rb"^r\d+ OK")
        self.assert_workers_not_restarted()

    def test_overlong_line_is_bad_and_next_command_works(self):
        c = self.closing(self.app.raw_imap())
        tag = c.tag()
        c.send(tag + " NOOP " + "x" * 200_000)  # no CRLF yet: well over the line limit
        c.send("\r\n")
        line = c.readline(timeout=10)
        while line.startswith(b"* ") and b" BAD" not in line:
            line = c.readline(timeout=10)
        self.assertRegex(line, rb"^(%s|\*) BAD .+" % tag.encode())
        self.assert_alive(c)
        self.assert_workers_not_restarted()

    def test_oversize_literal_is_bad_without_continuation(self):
        c = self.closing(self.app.raw_imap())
        tag = c.tag()
        c.send(tag + " APPEND INBOX {999999999}\r\n")
        line = c.readline(timeout=10)
        self.assertFalse(line.startswith(b"+"), "server invited a 1 GB literal: %r" % line)
        self.assertRegex(line, rb"^%s (BAD|NO) .+" % tag.encode())
        self.assert_alive(c)
        # A non-synchronising literal over the limit: refused too (the connection may be
        # closed, RFC 7888 section 4, but nothing else may happen).
        tag = c.tag()
        c.send(tag + " APPEND INBOX {999999999+}\r\n")
        try:
            line = c.readline(timeout=10)
            self.assertRegex(line, rb"^(%s|\*) (BAD|NO|BYE) " % tag.encode())
        except harness.Failure:
            pass  # closed: allowed
        self.assert_workers_not_restarted()
        fresh = self.closing(self.app.raw_imap())
        self.assert_alive(fresh)

    def test_binary_garbage_does_not_kill_the_worker(self):
        c = self.closing(self.app.raw_imap(login=False))
        c.send(b"\x00\xff\xfe garbage \x01\x02\r\n")
        line = c.readline(timeout=5)
        self.assertIn(b"BAD", line)
        self.assert_alive(c)
        c.send(b"a1 LOGIN {5}\r\n")  # literal then hang up half way
        c.readline(timeout=5)
        c.send(b"de")
        c.close()
        self.assert_workers_not_restarted()
        self.assert_alive(self.closing(self.app.raw_imap()))

    def test_pop3_garbage_gets_err_and_session_continues(self):
        c = self.closing(RawClient(self.app.pop3_port))
        self.assertTrue(c.readline().startswith(b"+OK"))
        for bad in (b"FOO", b"STAT", b"RETR 1", b"\x00\xffjunk", b"USER", b"X" * 5000):
            c.send(bad + b"\r\n")
            line = c.readline(timeout=5)
            self.assertTrue(line.startswith(b"-ERR"), (bad[:20], line))
        c.send(b"CAPA\r\n")
        self.assertTrue(c.readline().startswith(b"+OK"))
        while c.readline() != b".\r\n":
            pass
        c.send(b"USER demo\r\n")
        self.assertTrue(c.readline().startswith(b"+OK"))
        c.send(b"PASS demo\r\n")
        self.assertTrue(c.readline().startswith(b"+OK"))
        for bad in (b"RETR 99", b"RETR abc", b"DELE 0", b"TOP 1", b"LIST -1", b"BOGUS"):
            c.send(bad + b"\r\n")
            line = c.readline(timeout=5)
            self.assertTrue(line.startswith(b"-ERR"), (bad, line))
        c.send(b"STAT\r\n")
        self.assertEqual(c.readline(), b"+OK 0 0\r\n")
        c.send(b"QUIT\r\n")
        self.assertTrue(c.readline().startswith(b"+OK"))
        self.assert_workers_not_restarted()

    def test_lmtp_garbage(self):
        c = self.closing(self.app.raw_lmtp())
        code, _ = c.cmd("\x01\x02 junk")
        self.assertTrue(500 <= code < 600)
        code, _ = c.cmd("DATA")
        self.assertTrue(500 <= code < 600)
        code, _ = c.cmd("LHLO " + "h" * 3000)
        self.assertTrue(code == 250 or 500 <= code < 600)
        self.assertEqual(c.cmd("NOOP")[0], 250)
        self.assert_workers_not_restarted()

    def test_client_that_never_reads(self):
        # A client that floods commands and never reads must not wedge the worker.
        s = socket.create_connection((harness.HOST, self.app.imap_port), timeout=5)
        s.setblocking(False)
        payload = b"a NOOP\r\n" * 20000
        try:
            s.send(payload)
        except BlockingIOError:
            pass
        other = self.closing(self.app.raw_imap())
        self.assert_alive(other)
        s.close()


if __name__ == "__main__":
    harness.main()
