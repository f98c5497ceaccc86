#!/usr/bin/env python3
"""offlineimap (offlineimap3, Debian package) against the appliance: a full two-way sync
of every mailbox with a local Maildir tree, with flags. First sync: every message arrives
byte for byte with its flags (\\Seen S, \\Flagged F, \\Answered R, \\Deleted T,
\\Draft D); then changes on both sides (flags, a deleted file, a trashed file, new
messages, new folders on both sides) and a second sync after which both sides hold
exactly the expected state; a third sync with nothing to do changes nothing."""

import os
import re
import unittest

import harness
import sync_clients as sc

TIMEOUT = int(os.environ.get("POSTERN_SYNC_TIMEOUT", "90"))  # seconds per offlineimap run


@unittest.skipUnless(sc.have("offlineimap"),
                     "offlineimap (Debian package offlineimap3) is not installed")
class Offlineimap(sc.MaildirClientTest):
    maxDiff = None
    dir_prefix = "pst-offlineimap-"

    def offlineimap(self, expunge):
        conf = os.path.join(self.dir, "offlineimaprc")
        with open(conf, "w") as f:
            f.write("[general]\naccounts = postern\nmetadata = %s/meta\nmaxsyncaccounts = 1\n\n"
                    "[Account postern]\nlocalrepository = local\nremoterepository = remote\n\n"
                    "[Repository local]\ntype = Maildir\nlocalfolders = %s\nsep = /\n\n"
                    "[Repository remote]\ntype = IMAP\nremotehost = %s\nremoteport = %d\n"
                    "remoteuser = demo\nremotepass = demo\nssl = no\nstarttls = no\n"
                    "auth_mechanisms = LOGIN\nmaxconnections = 2\nholdconnectionopen = no\n"
                    "expunge = %s\ncreatefolders = True\n"
                    % (self.dir, self.mail, harness.HOST, self.app.imap_port, expunge))
        argv = ["offlineimap", "-c", conf, "-o", "-u", "basic" if sc.DEBUG else "quiet"]
        if sc.DEBUG:
            argv += ["-d", "imap,maildir"]
        out = sc.run_client(argv, TIMEOUT, "offlineimap",
                            os.path.join(self.dir, "offlineimap.log"))
        # offlineimap reports some per-message and per-folder failures but exits 0.
        self.assertNotRegex(out, re.compile(r"ERROR|Traceback", re.I), "offlineimap output")
        return out

    def test_two_way_sync_with_flags(self):
        delivered = sc.seed_server(self.app, self)

        # 1. First sync (no expunge yet, so the \Deleted message is pulled as T).
        self.offlineimap("no")
        sc.assert_state(self, self.app, self.mail, sc.want_first(), delivered)

        # 2. Changes on both sides; 3. a second sync, now expunging: both sides end up
        # with exactly the expected state.
        # offlineimap creates a new local folder A/B on the server as A, then A/B, and
        # then fails to find a local folder A ("getfolder() asked for a nonexisting
        # folder"): a client limitation, so the new local folder is a top-level one.
        extra = sc.change_both_sides(self, self.app, self.mail, delivered, "Notes")
        self.offlineimap("yes")
        # offlineimap treats T as a flag like the others (\Deleted on the server) and
        # expunges only what it deletes itself (the removed file): the message trashed
        # locally and the one \Deleted on the server stay, on both sides, with T.
        want = sc.want_after_changes("Notes")
        want["Archive/2026"]["junk@sync.test"] = "ST"
        want["Lists/postern-dev"]["list2@sync.test"] = "ST"
        sc.assert_state(self, self.app, self.mail, want, delivered, extra, "offlineimap")
        server = sc.server_snapshot(self.app, with_uids=True)

        # 4. Nothing changed: a third sync changes nothing on either side.
        before = sc.file_listing(self.mail)
        self.offlineimap("yes")
        self.assertEqual(sc.server_snapshot(self.app, with_uids=True), server,
                         "server after a sync with nothing to do")
        self.assertEqual(sc.file_listing(self.mail), before,
                         "local Maildirs after a sync with nothing to do")


if __name__ == "__main__":
    harness.main()
