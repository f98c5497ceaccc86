#!/usr/bin/env python3
"""mbsync (isync, Debian package) against the appliance: a full two-way sync of every
mailbox with a local Maildir tree, with flags. First sync: every message arrives byte for
byte with its flags (\\Seen S, \\Flagged F, \\Answered R, \\Deleted T, \\Draft D); then
changes on both sides (flags, a deleted file, a trashed file, new messages, new folders
on both sides) and a second sync after which both sides hold exactly the expected state;
a third sync with nothing to do changes nothing on either side."""

import os
import unittest

import harness
import sync_clients as sc

TIMEOUT = 60  # seconds per mbsync run


@unittest.skipUnless(sc.have("mbsync"), "mbsync (Debian package isync) is not installed")
class Mbsync(sc.MaildirClientTest):
    maxDiff = None
    dir_prefix = "pst-mbsync-"

    def mbsync(self, expunge):
        conf = os.path.join(self.dir, "mbsyncrc")
        with open(conf, "w") as f:
            f.write("IMAPAccount postern\nHost %s\nPort %d\nUser demo\nPass demo\n"
                    "SSLType None\nAuthMechs LOGIN\nTimeout 20\n\n"
                    "IMAPStore remote\nAccount postern\n\n"
                    "MaildirStore local\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
                    "Channel postern\nFar :remote:\nNear :local:\nPatterns *\nSync All\n"
                    "Create Both\nRemove None\nExpunge %s\nSyncState *\nCopyArrivalDate yes\n"
                    % (harness.HOST, self.app.imap_port, self.mail, self.mail, expunge))
        argv = ["mbsync", "-c", conf, "-D" if sc.DEBUG else "-V", "-a"]
        out = sc.run_client(argv, TIMEOUT, "mbsync", os.path.join(self.dir, "mbsync.log"))
        return out

    def check_pairs(self, server_uids):
        """mbsync's state (.mbsyncstate: far UIDVALIDITY, then "far-UID near-UID flags"
        lines) pairs every server UID with the local file ...,U=<near UID> holding the
        same message: the server's UIDs and UIDVALIDITY are what mbsync relies on."""
        for box, (uidvalidity, _, ids) in server_uids.items():
            path = sc.maildir_boxes(self.mail)[box]
            with open(os.path.join(path, ".mbsyncstate")) as f:
                head, _, body = f.read().partition("\n\n")
            self.assertIn("FarUidValidity %d\n" % uidvalidity, head + "\n", box)
            pairs = dict(tuple(int(x) for x in line.split()[:2]) for line in body.splitlines())
            near = {}
            for sub, f in sc.maildir_files(path):
                with open(os.path.join(path, sub, f), "rb") as fh:
                    near[int(f.split(",U=")[1].split(":")[0])] = sc.message_id(
                        sc.local_message(fh.read()))
            self.assertEqual({far: near.get(n) for far, n in pairs.items()},
                             {uid: mid for mid, uid in ids.items()}, "UID pairs in %s" % box)

    def test_two_way_sync_with_flags(self):
        delivered = sc.seed_server(self.app, self)

        # 1. First sync (no expunge yet, so the \Deleted message is pulled as T).
        self.mbsync("None")
        sc.assert_state(self, self.app, self.mail, sc.want_first(), delivered)
        self.check_pairs(sc.server_snapshot(self.app, with_uids=True)[1])

        # 2. Changes on both sides; 3. a second sync, now expunging: both sides end up
        # with exactly the expected state.
        extra = sc.change_both_sides(self, self.app, self.mail, delivered)
        self.mbsync("Both")
        sc.assert_state(self, self.app, self.mail, sc.want_after_changes(), delivered, extra,
                        "mbsync")
        server, uids = sc.server_snapshot(self.app, with_uids=True)
        self.check_pairs(uids)
        # CopyArrivalDate: a pulled file's mtime is the server's INTERNALDATE, and an
        # uploaded message's INTERNALDATE is the file's mtime (APPEND with a date-time).
        self.assertEqual(sc.local_mtimes(self.mail), sc.server_dates(self.app),
                         "file times against INTERNALDATE")

        # 4. Nothing changed: a third sync changes nothing on either side.
        before = sc.file_listing(self.mail)
        self.mbsync("Both")
        self.assertEqual(sc.server_snapshot(self.app, with_uids=True), (server, uids),
                         "server after a sync with nothing to do")
        after = sc.file_listing(self.mail)
        messages = lambda listing: {k: v for k, v in listing.items()  # noqa: E731
                                    if "/cur/" in k or "/new/" in k}
        self.assertEqual(messages(after), messages(before),
                         "local messages after a sync with nothing to do")


if __name__ == "__main__":
    harness.main()
