"""Shared by the two-way sync tests with real IMAP clients (test_clients_mbsync.py,
test_clients_offlineimap.py): a deterministic set of realistic messages, a seeded
server, and snapshots of both sides (the server over imaplib, a local Maildir tree)
in one comparable form: {mailbox: {Message-ID: (maildir flag letters, bytes)}}.

Maildir stores messages with LF line ends; the snapshot of a local file is converted
to CRLF and stripped of the header the client adds to find its own uploads (mbsync's
X-TUID), so it compares byte for byte with BODY[] on the server.
"""

import base64
import contextlib
import hashlib
import imaplib
import os
import re
import shutil
import subprocess
import tempfile
import time

import harness
from harness import Failure, crlf

# IMAP system flag -> Maildir info letter (https://cr.yp.to/proto/maildir.html).
FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S",
                "\\Deleted": "T"}
LETTER_FLAGS = {v: k for k, v in FLAG_LETTERS.items()}
CLIENT_HEADERS = re.compile(rb"(?im)^(?:X-TUID|X-OfflineIMAP): [^\r\n]*\r\n")
# POSTERN_SYNC_DEBUG=1: the clients log their whole protocol exchange (kept in the temp dir).
DEBUG = bool(os.environ.get("POSTERN_SYNC_DEBUG"))
DATE = "Thu, 05 Mar 2026 09:%02d:00 +0100"


def _attachment(n):
    """Deterministic binary data (not compressible, every byte value)."""
    out = b""
    seed = b"postern-%d" % n
    while len(out) < 6000:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(range(256)) + out


def _b64(data):
    text = base64.b64encode(data).decode()
    return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def corpus():
    """name -> message bytes (CRLF). Names double as Message-ID local parts."""
    m = {}

    def head(name, subject, minute, extra=""):
        return ("From: Alice Example <alice@example.org>\nTo: Demo <demo@example.org>\n"
                "Subject: %s\nDate: %s\nMessage-ID: <%s@sync.test>\nMIME-Version: 1.0\n%s"
                % (subject, DATE % minute, name, extra))

    m["plain"] = crlf(head("plain", "Plain ASCII", 1,
                           "Content-Type: text/plain; charset=us-ascii\n")
                      + "\nHi,\n\nthis is plain text.\n.\n..dots\nFrom the start of a line.\n")
    m["alternative"] = crlf(head(
        "alternative", "Multipart alternative", 2,
        'Content-Type: multipart/alternative; boundary="alt-1"\n')
        + "\nThis is a multi-part message in MIME format.\n"
        "--alt-1\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        "Gr=C3=BC=C3=9Fe aus M=C3=BCnchen, a soft=\nbreak.\n"
        "--alt-1\nContent-Type: text/html; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        "<html><body><p>Gr=C3=BC=C3=9Fe aus <b>M=C3=BCnchen</b></p></body></html>\n"
        "--alt-1--\n")
    m["eightbit"] = crlf(head(
        "eightbit", "=?UTF-8?Q?Caf=C3=A9_cr=C3=A8me?=", 3,
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n").encode()
        + "\nCafé crème, naïve façade, Ærøskøbing, 日本語のテキスト, emoji 🙂.\n"
          "Zweite Zeile mit Umlauten: äöü ÄÖÜ ß.\n".encode())
    att = _attachment(4)
    m["attachment"] = crlf(head(
        "attachment", "Report with attachment", 4,
        'Content-Type: multipart/mixed; boundary="mix-4"\n')
        + "\n--mix-4\nContent-Type: text/plain; charset=us-ascii\n\nThe report is attached.\n\n"
        "--mix-4\nContent-Type: application/pdf; name=\"report.pdf\"\n"
        "Content-Disposition: attachment; filename=\"report.pdf\"\n"
        "Content-Transfer-Encoding: base64\n\n"
        + _b64(att) + "\n--mix-4--\n")
    inner = ("From: Bob <bob@example.net>\nTo: Alice <alice@example.org>\nSubject: Original\n"
             "Date: Wed, 04 Mar 2026 18:00:00 +0000\nMessage-ID: <inner@example.net>\n\n"
             "The original text.\n")
    m["forward"] = crlf(head(
        "forward", "Fwd: Original", 5, 'Content-Type: multipart/mixed; boundary="fwd-5"\n')
        + "\n--fwd-5\nContent-Type: text/plain\n\nSee below.\n\n--fwd-5\n"
        "Content-Type: message/rfc822\nContent-Disposition: inline\n\n" + inner + "\n--fwd-5--\n")
    m["long"] = crlf(head("long", "A long message", 6, "Content-Type: text/plain\n") + "\n"
                     + "".join("line %05d %s\n" % (i, "x" * (i % 70)) for i in range(3000)))
    m["list1"] = crlf(head("list1", "[postern-dev] Release plan", 7,
                           "List-Id: <postern-dev.example.org>\nContent-Type: text/plain\n")
                      + "\nPlan for the release.\n")
    m["list2"] = crlf(head("list2", "Re: [postern-dev] Release plan", 8,
                           "List-Id: <postern-dev.example.org>\nIn-Reply-To: <list1@sync.test>\n"
                           "Content-Type: text/plain\n") + "\n> Plan for the release.\nAgreed.\n")
    m["old"] = crlf(head("old", "Archived invoice", 9,
                         'Content-Type: multipart/mixed; boundary="b9"\n')
                    + "\n--b9\nContent-Type: text/plain\n\nInvoice attached.\n--b9\n"
                    "Content-Type: application/octet-stream; name=\"inv.bin\"\n"
                    "Content-Transfer-Encoding: base64\n\n" + _b64(_attachment(9)[:1000])
                    + "\n--b9--\n")
    m["sent"] = crlf(head("sent", "Re: Plain ASCII", 11, "Content-Type: text/plain\n")
                     + "\n> this is plain text.\nThanks!\n")
    m["entwurf"] = crlf(head("entwurf", "Entwurf", 12, "Content-Type: text/plain; charset=utf-8\n"
                             "Content-Transfer-Encoding: 8bit\n").encode()
                        + "\nNoch nicht fertig \u2026\n".encode())
    m["junk"] = crlf(head("junk", "To be deleted", 10, "Content-Type: text/plain\n") + "\nbye\n")
    return m


def new_message(name, subject, minute=30):
    """A message written by a test later on (server delivery or a local file)."""
    return crlf("From: Carol <carol@example.com>\nTo: demo@example.org\nSubject: %s\n"
                "Date: %s\nMessage-ID: <%s@sync.test>\nContent-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n\nNew message %s, with 8-bit: \u00e9t\u00e9.\n"
                % (subject, DATE % minute, name, name))


def message_id(msg):
    header = msg.split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"(?im)^Message-ID:\s*<([^>]+)>", header)
    if not m:
        raise Failure("message without Message-ID: %r" % msg[:300])
    return m.group(1).decode()


# --- the server ---------------------------------------------------------------------------
# "Entw&APw-rfe" is "Entwürfe" in modified UTF-7 (RFC 3501 5.1.3); neither client
# decodes it (mbsync 1.4, offlineimap without utf8foldernames): the Maildir has that name.
# Trash stays empty.
FOLDERS = ["Archive/2026", "Lists/postern-dev", "Sent Items", "Entw&APw-rfe", "Trash"]
PLACEMENT = {  # name -> (mailbox, IMAP flags set before the first sync)
    "plain": ("INBOX", ["\\Seen"]),
    "alternative": ("INBOX", ["\\Seen", "\\Flagged"]),
    "eightbit": ("INBOX", []),
    "attachment": ("INBOX", ["\\Seen", "\\Answered"]),
    "forward": ("INBOX", ["\\Draft"]),
    "long": ("INBOX", []),
    "list1": ("Lists/postern-dev", ["\\Seen"]),
    "list2": ("Lists/postern-dev", []),
    "old": ("Archive/2026", ["\\Seen", "\\Answered", "\\Flagged"]),
    "junk": ("Archive/2026", ["\\Seen", "\\Deleted"]),
    "sent": ("Sent Items", ["\\Seen"]),
    "entwurf": ("Entw&APw-rfe", ["\\Draft"]),
}


def seed_server(app, test):
    """Delivers the corpus with LMTP, files it into FOLDERS with UID MOVE, sets flags.
    Returns {name: message as delivered}."""
    msgs = corpus()
    for name in PLACEMENT:  # in this order: UIDs ascend with it
        app.deliver("demo", msgs[name])
    imap = app.imap()
    try:
        for f in FOLDERS:
            test.assertEqual(imap.create('"%s"' % f)[0], "OK", f)
        test.assertEqual(imap.select("INBOX")[0], "OK")
        for name, (box, flags) in PLACEMENT.items():
            uid = find_uid(imap, name)
            if flags:
                typ, data = imap.uid("STORE", str(uid), "+FLAGS.SILENT", "(%s)" % " ".join(flags))
                test.assertEqual(typ, "OK", data)
            if box != "INBOX":
                typ, data = imap.uid("MOVE", str(uid), '"%s"' % box)
                test.assertEqual(typ, "OK", data)
        imap.logout()
    finally:
        _close(imap)
    return msgs


def _close(imap):
    with contextlib.suppress(OSError):  # already closed by LOGOUT
        imap.shutdown()


def find_uid(imap, name):
    typ, data = imap.uid("SEARCH", "HEADER", "Message-ID", "<%s@sync.test>" % name)
    if typ != "OK" or not data or not data[0].split():
        raise Failure("no message %s in the selected mailbox: %r %r" % (name, typ, data))
    return int(data[0].split()[0])


def parse_list_name(line):
    m = re.match(rb'\(([^)]*)\) (?:"[^"]*"|NIL) (.*)$', line)
    if not m:
        raise Failure("odd LIST line %r" % line)
    name = m.group(2)
    if name.startswith(b'"'):
        name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
    return m.group(1).decode(), name.decode()


def server_snapshot(app, with_uids=False):
    """{mailbox: {Message-ID: (letters, BODY[])}} of every selectable mailbox; with_uids:
    also {mailbox: (UIDVALIDITY, UIDNEXT, {Message-ID: UID})}."""
    imap = app.imap()
    snap, uids = {}, {}
    try:
        typ, data = imap.list()
        if typ != "OK":
            raise Failure("LIST failed: %r" % data)
        for line in data:
            attrs, box = parse_list_name(line)
            if "\\Noselect" in attrs:
                continue
            typ, data = imap.select('"%s"' % box, readonly=True)
            if typ != "OK":
                raise Failure("EXAMINE %s failed: %r" % (box, data))
            msgs, ids = {}, {}
            if int(data[0]) > 0:
                typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
                if typ != "OK":
                    raise Failure("UID FETCH in %s failed: %r" % (box, data))
                for item in data:
                    if not isinstance(item, tuple):
                        continue
                    meta, body = item
                    flags = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split()
                    uid = int(re.search(rb"UID (\d+)", meta).group(1))
                    letters = "".join(sorted(FLAG_LETTERS[f] for f in flags if f in FLAG_LETTERS))
                    mid = message_id(body)
                    if mid in msgs:
                        raise Failure("%s twice in %s on the server" % (mid, box))
                    msgs[mid] = (letters, body)
                    ids[mid] = uid
            snap[box] = msgs
            status = imap.status('"%s"' % box, "(UIDVALIDITY UIDNEXT)")[1][0]
            uv = int(re.search(rb"UIDVALIDITY (\d+)", status).group(1))
            un = int(re.search(rb"UIDNEXT (\d+)", status).group(1))
            uids[box] = (uv, un, ids)
        imap.logout()
    finally:
        _close(imap)
    return (snap, uids) if with_uids else snap


def server_dates(app):
    """{mailbox: {Message-ID: INTERNALDATE as a Unix time}} of every selectable mailbox."""
    imap = app.imap()
    out = {}
    try:
        for line in imap.list()[1]:
            attrs, box = parse_list_name(line)
            if "\\Noselect" in attrs:
                continue
            typ, data = imap.select('"%s"' % box, readonly=True)
            out[box] = {}
            if typ != "OK" or int(data[0]) == 0:
                continue
            typ, data = imap.fetch("1:*", "(INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for item in data:
                if isinstance(item, tuple):
                    when = imaplib.Internaldate2tuple(item[0])
                    if when is None:
                        raise Failure("no INTERNALDATE in %r" % (item[0],))
                    out[box][message_id(item[1])] = int(time.mktime(when))
        imap.logout()
    finally:
        _close(imap)
    return out


# --- the local Maildir tree ----------------------------------------------------------------
def maildir_boxes(root):
    """{mailbox name: path} of every Maildir (a directory with cur/ new/ tmp/) under root;
    names use "/" for nesting."""
    boxes = {}
    for dirpath, dirnames, _ in os.walk(root):
        if all(os.path.isdir(os.path.join(dirpath, d)) for d in ("cur", "new", "tmp")):
            rel = os.path.relpath(dirpath, root)
            boxes[rel.replace(os.sep, "/")] = dirpath
        dirnames[:] = [d for d in dirnames if d not in ("cur", "new", "tmp")]
    return boxes


def maildir_files(path):
    """[(subdir, filename)] of the messages of one Maildir."""
    return sorted((sub, f) for sub in ("new", "cur") for f in os.listdir(os.path.join(path, sub))
                  if not f.startswith("."))


def letters_of(filename):
    if ":2," not in filename:
        return ""
    return "".join(sorted(c for c in filename.split(":2,", 1)[1] if c in LETTER_FLAGS))


def without_client_header(data):
    """Without the header a client adds to messages it copies, to find them later
    (mbsync's X-TUID, offlineimap's X-OfflineIMAP): it is in what the client uploads too."""
    return CLIENT_HEADERS.sub(b"", data, count=1)


def local_message(data):
    """A Maildir file's bytes in wire form: CRLF, without the client's bookkeeping header."""
    return without_client_header(crlf(data))


def local_snapshot(root):
    """{mailbox: {Message-ID: (letters, bytes)}} of the Maildir tree."""
    snap = {}
    for box, path in maildir_boxes(root).items():
        msgs = {}
        for sub, f in maildir_files(path):
            with open(os.path.join(path, sub, f), "rb") as fh:
                data = local_message(fh.read())
            mid = message_id(data)
            if mid in msgs:
                raise Failure("%s twice in local %s" % (mid, box))
            msgs[mid] = (letters_of(f), data)
        snap[box] = msgs
    return snap


def local_mtimes(root):
    """{mailbox: {Message-ID: mtime of the file}}."""
    out = {}
    for box, path in maildir_boxes(root).items():
        out[box] = {}
        for sub, f in maildir_files(path):
            p = os.path.join(path, sub, f)
            with open(p, "rb") as fh:
                out[box][message_id(local_message(fh.read()))] = int(os.stat(p).st_mtime)
    return out


def local_file(root, box, name):
    """(directory, filename) of the local copy of message `name` in `box`."""
    path = maildir_boxes(root)[box]
    for sub, f in maildir_files(path):
        with open(os.path.join(path, sub, f), "rb") as fh:
            if message_id(crlf(fh.read())) == "%s@sync.test" % name:
                return os.path.join(path, sub), f
    raise Failure("no local file for %s in %s" % (name, box))


def set_local_letters(root, box, name, letters):
    """Renames the local copy of `name` to carry exactly `letters` (moving it to cur/)."""
    d, f = local_file(root, box, name)
    base = f.split(":2,", 1)[0]
    new = os.path.join(os.path.dirname(d), "cur", base + ":2," + "".join(sorted(letters)))
    os.rename(os.path.join(d, f), new)


ARRIVAL = 1772699580  # 2026-03-05 08:33:00 UTC


def add_local_message(root, box, data, letters=""):
    """Writes a new message into a Maildir (creating it), as a mail reader would: LF ends."""
    path = maildir_boxes(root).get(box) or os.path.join(root, *box.split("/"))
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    name = "%d.M%dP%d.testhost" % (time.time(), time.time_ns() % 1000000, os.getpid())
    sub = "cur" if letters else "new"
    if letters:
        name += ":2," + "".join(sorted(letters))
    tmp = os.path.join(path, "tmp", name.split(":")[0])
    with open(tmp, "wb") as fh:
        fh.write(data.replace(b"\r\n", b"\n"))
    # An arrival time in the past, as for mail that was moved from elsewhere: mbsync
    # uploads it as the INTERNALDATE (APPEND date-time).
    os.utime(tmp, (ARRIVAL, ARRIVAL))
    os.rename(tmp, os.path.join(path, sub, name))


def file_listing(root):
    """Every file under root with its size and mtime: to see that a sync changed nothing."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            st = os.stat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns)
    return out


# --- the common scenario -------------------------------------------------------------------
def want_first():
    """The state of both sides after the first sync (without expunge)."""
    want = {box: {} for box in ["INBOX"] + FOLDERS}
    for name, (box, flags) in PLACEMENT.items():
        want[box]["%s@sync.test" % name] = "".join(sorted(FLAG_LETTERS[f] for f in flags))
    return want


def change_both_sides(test, app, root, delivered, new_folder="Local/Notes"):
    """Between two syncs: flags changed on the server, a new server folder with an APPENDed
    message, a new delivery; locally a flag added, a file deleted, a file trashed (T), a new
    message and a new folder (`new_folder`) with a message. Adds the delivery to
    `delivered`; returns {(mailbox, name): bytes} of the messages that the test wrote, for
    assert_state."""
    imap = app.imap()
    try:
        test.assertEqual(imap.select("INBOX")[0], "OK")
        for name, op, flag in (("eightbit", "+FLAGS", "\\Seen"), ("long", "+FLAGS", "\\Flagged"),
                               ("plain", "-FLAGS", "\\Seen")):
            typ, data = imap.uid("STORE", str(find_uid(imap, name)), op, "(%s)" % flag)
            test.assertEqual(typ, "OK", data)
        test.assertEqual(imap.select('"Lists/postern-dev"')[0], "OK")
        # Changed on both sides: \Answered here, \Flagged locally; both survive.
        typ, data = imap.uid("STORE", str(find_uid(imap, "list1")), "+FLAGS", "(\\Answered)")
        test.assertEqual(typ, "OK", data)
        test.assertEqual(imap.create("Projects")[0], "OK")
        project = new_message("proj1", "Project kickoff", 31)
        test.assertEqual(imap.append("Projects", "(\\Seen)", None, project)[0], "OK")
        imap.logout()
    finally:
        _close(imap)
    delivered["server-new"] = new_message("server-new", "Arrived between syncs", 32)
    app.deliver("demo", delivered["server-new"])

    set_local_letters(root, "INBOX", "attachment", "FRS")
    d, f = local_file(root, "INBOX", "forward")
    os.remove(os.path.join(d, f))
    set_local_letters(root, "Lists/postern-dev", "list1", "FS")
    set_local_letters(root, "Lists/postern-dev", "list2", "ST")
    local_new = new_message("local-new", "Written locally", 33)
    add_local_message(root, "Lists/postern-dev", local_new, "S")
    note = new_message("note1", "A note in a new local folder", 34)
    add_local_message(root, new_folder, note)
    return {("Lists/postern-dev", "local-new"): local_new, (new_folder, "note1"): note,
            ("Projects", "proj1"): project}


def want_after_changes(new_folder="Local/Notes"):
    """The state of both sides after change_both_sides and a sync that expunges."""
    want = {box: dict(msgs) for box, msgs in WANT_AFTER_CHANGES.items()}
    want[new_folder] = want.pop("Local/Notes")
    return want


WANT_AFTER_CHANGES = {
    "INBOX": {"plain@sync.test": "", "alternative@sync.test": "FS",
              "eightbit@sync.test": "S", "attachment@sync.test": "FRS",
              "long@sync.test": "F", "server-new@sync.test": ""},
    "Sent Items": {"sent@sync.test": "S"},
    "Entw&APw-rfe": {"entwurf@sync.test": "D"},
    "Trash": {},
    "Archive/2026": {"old@sync.test": "FRS"},  # junk (\Deleted) expunged
    "Lists/postern-dev": {"list1@sync.test": "FRS", "local-new@sync.test": "S"},  # list2 trashed
    "Projects": {"proj1@sync.test": "S"},
    "Local/Notes": {"note1@sync.test": ""},
}


# --- comparison -----------------------------------------------------------------------------
def flags_view(snap):
    """{mailbox: {Message-ID: letters}}: the part of a snapshot that is small to print."""
    return {box: {mid: v[0] for mid, v in msgs.items()} for box, msgs in snap.items()}


def assert_same_bytes(test, server, local, delivered=None):
    """Every message has the same bytes on both sides; `delivered` (name -> bytes) are also
    what LMTP was given, after the trace fields delivery added."""
    for box, msgs in server.items():
        for mid, (_, body) in msgs.items():
            if box in local and mid in local[box]:
                test.assertEqual(local[box][mid][1], without_client_header(body),
                                 "bytes of %s in %s" % (mid, box))
            name = mid.split("@")[0]
            if delivered and name in delivered and mid.endswith("@sync.test"):
                test.assertEqual(harness.untraced(body), delivered[name],
                                 "server copy of %s is what was delivered" % name)


def assert_state(test, app, root, want, delivered, written=None, client="the client"):
    """Both sides hold exactly `want` (flags per Message-ID per mailbox), with the same
    bytes; the server's copies are what was delivered or written (`written`:
    {(mailbox, name): bytes}). Returns the server snapshot."""
    server = server_snapshot(app)
    local = local_snapshot(root)
    test.assertEqual(flags_view(server), want, "server after sync")
    test.assertEqual(flags_view(local), want, "local Maildirs after sync")
    assert_same_bytes(test, server, local, delivered)
    for (box, name), data in (written or {}).items():
        mid = "%s@sync.test" % name
        test.assertEqual(without_client_header(server[box][mid][1]), data,
                         "server copy of %s (what %s uploaded or the test wrote)" % (name, client))
    return server


def run_client(argv, timeout, what, log_path):
    """Runs a sync client, appending its output to log_path; returns the output; raises
    Failure (with the output's end) on a non-zero exit or after `timeout` seconds."""
    with open(log_path, "ab") as log:
        log.write(("==== %s\n" % " ".join(argv)).encode())
        log.flush()
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               timeout=timeout)
            rc = r.returncode
        except subprocess.TimeoutExpired:
            rc = None
    with open(log_path, "rb") as log:
        text = log.read().decode("utf-8", "replace")
    out = text[text.rindex("==== "):]
    if rc is None:
        raise Failure("%s did not finish within %ss (log: %s):\n%s" % (what, timeout, log_path,
                                                                       out[-6000:]))
    if rc != 0:
        raise Failure("%s exited %d (log: %s):\n%s" % (what, rc, log_path, out[-6000:]))
    return out


def have(tool):
    return shutil.which(tool) is not None


class MaildirClientTest(harness.ApplianceTest):
    """An appliance and a scratch directory holding the client's local Maildir tree
    (self.mail), kept for inspection when a test fails or POSTERN_KEEP_TMP is set."""
    dir_prefix = "pst-sync-"

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix=self.dir_prefix, dir="/tmp")
        self.addCleanup(self.cleanup_dir)
        self.mail = os.path.join(self.dir, "mail")
        os.makedirs(self.mail)

    def cleanup_dir(self):
        if self._test_failed() or os.environ.get("POSTERN_KEEP_TMP"):
            print("kept %s for inspection" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
