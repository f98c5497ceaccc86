#!/usr/bin/env python3
"""Real POP3 clients from Debian against the appliance: fetchmail (keep, then flush),
getmail6 (leave on server, only new mail) and curl pop3:// (LIST, UIDL, RETR, AUTH PLAIN).
Each delivered message must be byte for byte what the server's RETR sends, in the
client's own line-end convention, with only the client's own trace header added."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import make_message

MESSAGES = [
    make_message(1),
    make_message(2, subject="dots", body=".hidden\n..two dots\n.\nend\n"),
    make_message(3, body=("y" * 76 + "\n") * 40),
]
FETCHMAIL_TRACE = re.compile(rb"Received: from 127\.0\.0\.1 \[127\.0\.0\.1\]\n(?:\t[^\n]*\n)*")


def read_dir(path):
    """The files of `path` in name order, as bytes."""
    out = []
    for name in sorted(os.listdir(path)):
        with open(os.path.join(path, name), "rb") as f:
            out.append(f.read())
    return out


def write_mda(path, out_dir):
    """A delivery command that stores each message it reads as the next numbered file."""
    os.makedirs(out_dir, exist_ok=True)
    with open(path, "w") as f:
        f.write('#!/bin/sh\nn=$(ls "%s" | wc -l)\ncat > "%s/$(printf %%03d $n)"\n' % (out_dir, out_dir))
    os.chmod(path, 0o755)


def have(tool):
    return shutil.which(tool) is not None


class Pop3Clients(harness.ApplianceTest):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="pst-pop3c-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.dir, True)
        for m in MESSAGES:
            self.app.deliver("demo", m)

    # --- helpers ------------------------------------------------------------------------
    def server_copies(self):
        """What RETR sends for each message now, CRLF as on the wire, and the UIDLs."""
        pop = self.closing(self.app.pop3())
        out = [b"\r\n".join(pop.retr(i + 1)[1]) + b"\r\n" for i in range(pop.stat()[0])]
        uidls = [u.split()[1] for u in pop.uidl()[1]]
        pop.quit()
        return out, uidls

    def server_count(self):
        pop = harness.wait_until(lambda: self.closing(self.app.pop3()), 3, 0.05, "POP3 login")
        n = pop.stat()[0]
        pop.quit()
        return n

    def fetchmail(self, options, expect_rc=0):
        out = os.path.join(self.dir, "fetched")
        mda = os.path.join(self.dir, "mda.sh")
        write_mda(mda, out)
        rc = os.path.join(self.dir, "fetchmailrc")
        with open(rc, "w") as f:
            f.write("set no bouncemail\n"
                    "poll 127.0.0.1 with protocol POP3 port %d uidl auth password\n"
                    '  user "demo" there with password "demo" is "demo" here\n'
                    "  options %s sslproto ''\n"
                    '  mda "%s"\n' % (self.app.pop3_port, options, mda))
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=self.dir, FETCHMAILHOME=self.dir)
        r = subprocess.run(["fetchmail", "-f", rc, "-v", "--nosyslog", "--pidfile",
                            os.path.join(self.dir, "fetchmail.pid")],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, expect_rc, r.stdout + r.stderr)
        return read_dir(out), r.stdout

    def assertFetchmailCopy(self, delivered, server):
        # fetchmail hands the MDA LF line ends and adds its own Received header.
        stripped, n = FETCHMAIL_TRACE.subn(b"", delivered, count=1)
        self.assertEqual(n, 1, delivered[:300])
        self.assertEqual(stripped, server.replace(b"\r\n", b"\n"))

    # --- fetchmail ----------------------------------------------------------------------
    @unittest.skipUnless(have("fetchmail"), "fetchmail is not installed (apt-get install fetchmail)")
    def test_fetchmail_keep_then_flush(self):
        server, _ = self.server_copies()
        got, log = self.fetchmail("keep")
        self.assertEqual(len(got), 3, log)
        for d, s in zip(got, server):
            self.assertFetchmailCopy(d, s)
        self.assertEqual(self.server_count(), 3, "keep leaves the messages on the server")
        # Stable UIDLs: a second keep run downloads nothing (fetchmail exits 1: no mail).
        got, log = self.fetchmail("keep", expect_rc=1)
        self.assertEqual(len(got), 3, log)

        # A new message, then a flush run: only the new one is downloaded, all are deleted.
        self.app.deliver("demo", make_message(4, subject="fourth"))
        server4, _ = self.server_copies()
        got, log = self.fetchmail("no keep flush")
        self.assertEqual(len(got), 4, log)
        self.assertFetchmailCopy(got[3], server4[3])
        self.assertIn("DELE", log)
        self.assertEqual(self.server_count(), 0, "flush deleted every message")

    @unittest.skipUnless(have("fetchmail"), "fetchmail is not installed (apt-get install fetchmail)")
    def test_fetchmail_no_keep_deletes_after_download(self):
        server, _ = self.server_copies()
        got, log = self.fetchmail("no keep")
        self.assertEqual(len(got), 3, log)
        for d, s in zip(got, server):
            self.assertFetchmailCopy(d, s)
        self.assertEqual(self.server_count(), 0)

    # --- getmail6 -----------------------------------------------------------------------
    @unittest.skipUnless(have("getmail"), "getmail6 is not installed (apt-get install getmail6)")
    def test_getmail_leaves_mail_and_fetches_only_new(self):
        server, _ = self.server_copies()
        # An external MDA rather than a Maildir: getmail refuses Maildir delivery as root.
        out = os.path.join(self.dir, "got")
        mda = os.path.join(self.dir, "getmail-mda.sh")
        write_mda(mda, out)
        rc = os.path.join(self.dir, "getmailrc")
        with open(rc, "w") as f:
            f.write("[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = %d\n"
                    "username = demo\npassword = demo\n\n"
                    "[destination]\ntype = MDA_external\npath = %s\nunixfrom = false\n"
                    "allow_root_commands = true\n\n"
                    "[options]\ndelete = false\nread_all = false\ndelivered_to = false\n"
                    "received = false\nverbose = 2\n" % (self.app.pop3_port, mda))

        def run():
            r = subprocess.run(["getmail", "--getmaildir", self.dir, "--rcfile", rc],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            return read_dir(out), r.stdout

        got, log = run()
        # getmail hands the MDA LF line ends and, with received/delivered_to off, adds nothing.
        self.assertEqual(got, [s.replace(b"\r\n", b"\n") for s in server], log)
        self.assertEqual(self.server_count(), 3)
        self.app.deliver("demo", make_message(5, subject="fifth"))
        server5, _ = self.server_copies()
        got, log = run()
        self.assertEqual(len(got), 4, log)
        self.assertEqual(got[3], server5[3].replace(b"\r\n", b"\n"), "only the new message")

    # --- curl ---------------------------------------------------------------------------
    def curl(self, path, *extra):
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "demo:demo"] + list(extra)
                           + ["pop3://127.0.0.1:%d/%s" % (self.app.pop3_port, path)],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    @unittest.skipUnless(have("curl"), "curl is not installed")
    def test_curl_list_uidl_retr(self):
        server, uidls = self.server_copies()
        # curl reads CAPA and logs in with AUTH LOGIN (it prefers LOGIN to PLAIN; no SCRAM).
        self.assertEqual(self.curl(""),
                         b"".join(b"%d %d\r\n" % (i + 1, len(s)) for i, s in enumerate(server)))
        for i, s in enumerate(server):
            # curl undoes the dot-stuffing: the body is exactly the stored message.
            self.assertEqual(self.curl(str(i + 1)), s)
        self.assertEqual(self.curl("", "--sasl-ir"),
                         b"".join(b"%d %d\r\n" % (i + 1, len(s)) for i, s in enumerate(server)))
        self.assertEqual(self.curl("", "-X", "UIDL"),
                         b"".join(b"%d %s\r\n" % (i + 1, u) for i, u in enumerate(uidls)))
        self.assertEqual(self.server_count(), 3)


if __name__ == "__main__":
    harness.main()
