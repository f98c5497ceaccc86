#!/usr/bin/env python3
"""IMAP4rev1 compliance runner: plays the case files in cases/ against a real Postern.

One appliance (two imapd workers, so two sessions may sit in different processes) serves
every case; each case gets a fresh user, so its INBOX starts empty and its mailbox list is
its own. The case format is described in README.md beside this file.

    run.py                 every case
    run.py fetch- list     only cases whose file name contains one of the words
    run.py -v ...          also print the whole conversation of failing cases

Prints one PASS / FAIL line per case and exits 1 if any case failed. Only python3's
standard library; the server is started by ../harness.py like every integration test.
"""

import base64
import codecs
import contextlib
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import harness  # noqa: E402

CASES = os.path.join(HERE, "cases")
FIXTURES = os.path.join(HERE, "fixtures")
PASSWORD = "compliance-pw"
POLL_SECONDS = 5.0      # how long a "~>" step retries
READ_TIMEOUT = 10.0     # one response


class CaseError(Exception):
    """A case failed: the message says which step and why."""


# ---- canonical text ---------------------------------------------------------------------
#
# Responses are compared as text in which every string (quoted or literal: the two forms
# are interchangeable, RFC 3501 4.3) is written {{content}}, the content escaped so that it
# fits on one line: "\\" for a backslash, \r \n, \xNN for other control octets and for
# octets that are not UTF-8.

def escape_octets(data, in_string=True):
    out = []
    for ch in data.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\" if in_string else "\\")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02x" % (o - 0xDC00))
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    return "".join(out)


def syntax_violations(raw):
    """What in one response breaks RFC 3501's string rules, whatever the case expects:
    a quoted string may hold only 7-bit octets other than CR, LF and NUL (QUOTED-CHAR),
    a literal no NUL (CHAR8). Returns a list of complaints."""
    out = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i:i + 1]
        if c == b'"':
            j = i + 1
            while j < n and raw[j:j + 1] != b'"':
                j += 2 if raw[j:j + 1] == b"\\" else 1
            if j >= n:
                break  # human text with a stray quote
            body = raw[i + 1:j]
            if any(b >= 0x80 or b in (0, 10, 13) for b in body):
                out.append("quoted string with 8-bit or CR/LF/NUL octets: %r" % body[:60])
            i = j + 1
            continue
        m = re.match(rb"~?\{(\d+)\+?\}\r\n", raw[i:])
        if c in (b"{", b"~") and m:
            start = i + m.end()
            size = int(m.group(1))
            if c == b"{" and b"\x00" in raw[start:start + size]:
                out.append("NUL octet in a literal")
            i = start + size
            continue
        i += 1
    return out


def canonical_response(raw):
    """bytes of one response (line + literals, CRLFs included) -> canonical text."""
    out = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i:i + 1]
        if c == b'"':
            j = i + 1
            buf = bytearray()
            while j < n and raw[j:j + 1] != b'"':
                if raw[j:j + 1] == b"\\" and j + 1 < n:
                    j += 1
                buf += raw[j:j + 1]
                j += 1
            if j >= n:  # unbalanced quote (human text): keep as it is
                out.append(escape_octets(raw[i:], in_string=False).replace("\\r\\n", ""))
                break
            out.append("{{" + escape_octets(bytes(buf)) + "}}")
            i = j + 1
            continue
        m = re.match(rb"~?\{(\d+)\+?\}\r\n", raw[i:])
        if c in (b"{", b"~") and m:
            size = int(m.group(1))
            start = i + m.end()
            out.append("{{" + escape_octets(raw[start:start + size]) + "}}")
            i = start + size
            continue
        if raw[i:i + 2] == b"\r\n":
            i += 2
            continue
        out.append(escape_octets(c, in_string=False))
        i += 1
    return "".join(out)


# ---- case files -------------------------------------------------------------------------

class Step:
    def __init__(self, lineno, kind, session, text):
        self.lineno = lineno
        self.kind = kind        # "cmd", "poll", "raw", "greeting", "sleep", "closed", "connect", "login"
        self.session = session
        self.text = text
        self.expect = []        # ("in-order" | "anywhere" | "never", pattern text)
        self.tagged = None      # pattern text for the tagged line (after the tag)
        self.exact = False      # the untagged responses must be exactly the listed ones
        self.continuations = []  # lines to send at each "+" from the server


class Case:
    def __init__(self, path):
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.title = ""
        self.divergence = None
        self.xfail = None        # a known server bug: reported, does not fail the run
        self.setup = []          # (lineno, command text) run in the setup session
        self.states = {}         # session number -> ("noauth"|"auth"|"selected"|"examined", mailbox)
        self.steps = []
        self.blocks = {}
        self.parse()

    def parse(self):
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        i = 0
        step = None
        while i < len(lines):
            raw = lines[i]
            lineno = i + 1
            i += 1
            line = raw.rstrip("\r")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.match(r"^block (\S+)(.*)$", line)
            if m:
                name, opts = m.group(1), m.group(2).split()
                body = []
                while i < len(lines) and lines[i].rstrip("\r") != "end":
                    body.append(lines[i].rstrip("\r"))
                    i += 1
                if i >= len(lines):
                    raise CaseError("%s:%d: block %s has no 'end'" % (self.path, lineno, name))
                i += 1
                if "escaped" in opts:
                    data = b"".join(codecs.escape_decode(b.encode("utf-8"))[0] + b"\r\n" for b in body)
                else:
                    data = "".join(b + "\r\n" for b in body).encode("utf-8")
                if "noeol" in opts and data.endswith(b"\r\n"):
                    data = data[:-2]
                self.blocks[name] = data
                continue
            m = re.match(r"^(title|divergence|xfail|setup|s(\d)):\s*(.*)$", line)
            if m:
                key, val = m.group(1), m.group(3)
                if key == "title":
                    self.title = val
                elif key == "divergence":
                    self.divergence = (self.divergence + " " + val) if self.divergence else val
                elif key == "xfail":
                    self.xfail = (self.xfail + " " + val) if self.xfail else val
                elif key == "setup":
                    self.setup.append((lineno, val))
                else:
                    parts = val.split(None, 1)
                    state = parts[0].lower()
                    if state not in ("noauth", "auth", "selected", "examined"):
                        raise CaseError("%s:%d: unknown state %r" % (self.path, lineno, state))
                    self.states[int(m.group(2))] = (state, parts[1] if len(parts) > 1 else "INBOX")
                continue
            m = re.match(r"^(\d?)(>|~>|!>|=>)\s?(.*)$", line)
            if m:
                kind = {">": "cmd", "~>": "poll", "!>": "raw", "=>": "exact"}[m.group(2)]
                step = Step(lineno, "cmd" if kind == "exact" else kind, int(m.group(1) or 1), m.group(3))
                step.exact = kind == "exact"
                self.steps.append(step)
                continue
            m = re.match(r"^(\d?)(sleep|closed|connect|login|greeting)\b\s*(.*)$", line)
            if m:
                step = Step(lineno, m.group(2), int(m.group(1) or 1), m.group(3))
                self.steps.append(step)
                if m.group(2) != "greeting":
                    step = None
                continue
            m = re.match(r"^(<~|<!|<|=|\+>)\s?(.*)$", line)
            if m and step is not None:
                kind, pat = m.group(1), m.group(2)
                if kind == "=":
                    step.tagged = pat
                elif kind == "+>":
                    step.continuations.append(pat)
                else:
                    step.expect.append(({"<": "in-order", "<~": "anywhere", "<!": "never"}[kind], pat))
                continue
            raise CaseError("%s:%d: cannot parse %r" % (self.path, lineno, line))
        self.states.setdefault(1, ("selected", "INBOX"))
        for s in self.steps:
            if s.session not in self.states:
                self.states[s.session] = self.states[1]

    def block(self, name, variables=None):
        """Block NAME's octets, {$x} replaced by variable x; or fixture:NAME's message."""
        if name.startswith("fixture:"):
            return fixture(name[len("fixture:"):])
        if name not in self.blocks:
            raise CaseError("no block %r" % name)
        data = self.blocks[name]
        if variables:
            for k, v in variables.items():
                data = data.replace(b"{$" + k.encode() + b"}", v.encode("utf-8"))
        return data


_fixtures = {}


def fixture(name):
    """A message from fixtures/<name>.eml, line ends made CRLF (bytes kept as they are)."""
    if name not in _fixtures:
        path = os.path.join(FIXTURES, name + ".eml")
        with open(path, "rb") as f:
            data = f.read()
        _fixtures[name] = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return _fixtures[name]


# ---- patterns ---------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{(\*|n|n:\w+|a|a:\w+|\$\w+)\}")


def compile_pattern(text, case, variables):
    """An expectation line -> regex over canonical text. Placeholders:
    {*} anything, {n} a number, {n:x} a number remembered as x, {a} / {a:x} one token,
    {$x} the value of x, {{block}} a string whose content is the named block (or
    fixture:NAME). Quoted strings are compared by content, like literals."""
    out = []
    groups = set()
    i = 0
    n = len(text)

    def placeholder(m):
        p = m.group(1)
        if p == "*":
            return ".*?"
        if p == "n":
            return r"\d+"
        if p == "a":
            return r"[^ ()\[\]]+"
        if p.startswith("$"):
            if p[1:] not in variables:
                raise CaseError("variable %s used before it was captured" % p[1:])
            return re.escape(variables[p[1:]])
        kind, name = p.split(":")
        if name in groups:
            raise CaseError("variable %s captured twice in one line" % name)
        groups.add(name)
        return "(?P<%s>%s)" % (name, r"\d+" if kind == "n" else r"[^ ()\[\]]+")

    def inner(s, quoted):
        """Literal text with placeholders; in quoted strings IMAP escapes are undone."""
        res = []
        k = 0
        while k < len(s):
            m = PLACEHOLDER.match(s, k)
            if m:
                res.append(placeholder(m))
                k = m.end()
                continue
            ch = s[k]
            if quoted and ch == "\\" and k + 1 < len(s):
                k += 1
                ch = s[k]
            res.append(re.escape(escape_octets(ch.encode("utf-8"), in_string=quoted)))
            k += 1
        return "".join(res)

    while i < n:
        if text.startswith("{{", i):
            j = text.find("}}", i)
            if j < 0:
                raise CaseError("unclosed {{ in %r" % text)
            out.append(re.escape("{{" + escape_octets(case.block(text[i + 2:j], variables)) + "}}"))
            i = j + 2
            continue
        if text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                out.append(inner(text[i:], False))
                break
            out.append(re.escape("{{") + inner(text[i + 1:j], True) + re.escape("}}"))
            i = j + 1
            continue
        m = PLACEHOLDER.match(text, i)
        if m:
            out.append(placeholder(m))
            i = m.end()
            continue
        out.append(re.escape(text[i]))
        i += 1
    return re.compile("^" + "".join(out) + r"\Z", re.S)


# ---- sessions ---------------------------------------------------------------------------

class Session:
    def __init__(self, port, label):
        self.label = label
        self.sock = socket.create_connection((harness.HOST, port), timeout=READ_TIMEOUT)
        self.buf = b""
        self.n = 0
        self.transcript = []
        self.closed = False
        self.greeting = self.read_response()

    def log(self, direction, data):
        self.transcript.append("%s%s %s" % (self.label, direction,
                                            data.decode("utf-8", "replace").rstrip("\r\n")))

    def tag(self):
        self.n += 1
        return "%s%03d" % (self.label, self.n)

    def send(self, data):
        self.log(">", data)
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise CaseError("%s: no response within %.0fs (have %r)"
                            % (self.label, timeout, self.buf[:200])) from None
        except OSError as e:
            self.closed = True
            raise CaseError("%s: connection error: %s" % (self.label, e)) from None
        if not chunk:
            self.closed = True
            raise CaseError("%s: connection closed by server (unread %r)" % (self.label, self.buf[:200]))
        self.buf += chunk

    def read_line(self, timeout=READ_TIMEOUT):
        while b"\r\n" not in self.buf:
            self._fill(timeout)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def read_response(self, timeout=READ_TIMEOUT):
        """One whole response: a line plus the literals it announces."""
        data = self.read_line(timeout)
        while True:
            m = re.search(rb"\{(\d+)\+?\}\r\n$", data)
            if not m:
                break
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill(timeout)
            data += self.buf[:size]
            self.buf = self.buf[size:]
            data += self.read_line(timeout)
        self.log("<", data if len(data) < 2000 else data[:2000] + b"...")
        return data

    def wait_closed(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._fill(max(0.05, deadline - time.monotonic()))
            except CaseError:
                if self.closed:
                    return True
        return False

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()


def split_literals(text, case, variables):
    """A command text -> list of byte pieces; between them the client sends a literal.
    {{block}} / {{fixture:name}} become synchronising literals, {{block+}} non-synchronising
    ones (LITERAL+); {$x} is replaced by the variable's value."""
    def subst(s):
        def var(m):
            if m.group(1) not in variables:
                raise CaseError("variable %s used before it was captured" % m.group(1))
            return variables[m.group(1)]
        return re.sub(r"\{\$(\w+)\}", var, s)

    pieces = []   # (text bytes, literal bytes or None, sync)
    pos = 0
    for m in re.finditer(r"\{\{([^}]+?)(\+?)\}\}", text):
        data = case.block(m.group(1), variables)
        pieces.append((subst(text[pos:m.start()]).encode("utf-8"), data, m.group(2) != "+"))
        pos = m.end()
    pieces.append((subst(text[pos:]).encode("utf-8"), None, True))
    return pieces


def send_command(sess, tag, text, case, variables, continuations):
    """Sends `tag text` (literals included); returns (untagged responses, tagged line).
    Continuation requests that are not for a literal get the next of `continuations`."""
    pieces = split_literals(text, case, variables)
    untagged = []
    conts = list(continuations)
    head = (tag + " ").encode()
    for k, (chunk, lit, sync) in enumerate(pieces):
        data = (head if k == 0 else b"") + chunk
        if lit is None:
            sess.send(data + b"\r\n")
            break
        sess.send(data + (b"{%d}\r\n" % len(lit) if sync else b"{%d+}\r\n" % len(lit)))
        if sync:
            while True:
                r = sess.read_response()
                if r.startswith(b"+"):
                    break
                if r.startswith(tag.encode() + b" "):
                    return untagged, r  # literal refused
                untagged.append(r)
        sess.send(lit)
    while True:
        r = sess.read_response()
        if r.startswith(b"+"):
            if not conts:
                raise CaseError("unexpected continuation request %r" % r)
            line = re.sub(r"\{\$(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), conts.pop(0))
            sess.send(line.encode("utf-8") + b"\r\n")
            continue
        if r.startswith(tag.encode() + b" "):
            return untagged, r
        untagged.append(r)


def login(sess, user):
    tag = sess.tag()
    _, t = send_command(sess, tag, "LOGIN %s %s" % (user, PASSWORD), None, {}, [])
    if not t.startswith((tag + " OK").encode()):
        raise CaseError("%s: LOGIN failed: %r" % (sess.label, t))


# ---- running a case ---------------------------------------------------------------------

def check_step(step, untagged, tagged, tag, case, variables, final=True):
    """Matches one command's responses. Returns None when satisfied, else the reason.
    Captured variables go into `variables` only when everything matched."""
    for r in list(untagged) + [tagged]:
        bad = syntax_violations(r)
        if bad:
            return "protocol syntax violation: %s in %s" % (bad[0], r[:200])
    canon = [canonical_response(r) for r in untagged]
    got = dict(variables)
    # forbidden lines first: they can never be made right by waiting
    for kind, pat in step.expect:
        if kind == "never":
            rx = compile_pattern(pat, case, got)
            for c in canon:
                if rx.match(c):
                    return "forbidden response received: %s" % c
    pos = 0
    used = set()
    for kind, pat in step.expect:
        if kind == "never":
            continue
        rx = compile_pattern(pat, case, got)
        found = None
        rng = range(pos, len(canon)) if kind == "in-order" else range(len(canon))
        for k in rng:
            if k in used:
                continue
            m = rx.match(canon[k])
            if m:
                found = k
                got.update({a: b for a, b in m.groupdict().items() if b is not None})
                break
        if found is None:
            return "missing %s response: %s" % ("(in order)" if kind == "in-order" else "", pat)
        used.add(found)
        if kind == "in-order":
            pos = found + 1
    if step.exact and len(used) != len(canon):
        extra = [canon[k] for k in range(len(canon)) if k not in used]
        return "unexpected untagged responses: %s" % " | ".join(extra)
    if final:
        want = step.tagged if step.tagged is not None else "OK {*}"
        rx = compile_pattern(want, case, got)
        t = canonical_response(tagged)
        prefix = escape_octets(tag.encode()) + " "
        if not t.startswith(prefix):
            return "tagged response has another tag: %s" % t
        m = rx.match(t[len(prefix):])
        if not m:
            return "tagged response %r does not match %r" % (t, want)
        got.update({a: b for a, b in m.groupdict().items() if b is not None})
    variables.clear()
    variables.update(got)
    return None


def open_session(app, case, num, user, sessions):
    sess = Session(app.imap_port, "s%d" % num)
    sessions[num] = sess
    state, mailbox = case.states[num]
    if state == "noauth":
        return sess
    login(sess, user)
    if state in ("selected", "examined"):
        tag = sess.tag()
        _, t = send_command(sess, tag, "%s %s" % ("SELECT" if state == "selected" else "EXAMINE", mailbox),
                            case, {}, [])
        if not t.startswith((tag + " OK").encode()):
            raise CaseError("%s: could not select %s: %r" % (sess.label, mailbox, t))
    return sess


def run_case(app, case, user):
    app.ctl("user", "add", user, "--password", PASSWORD)
    variables = {
        "user": user,
        # AUTHENTICATE PLAIN responses (RFC 4616): authzid NUL authcid NUL password
        "plain": base64.b64encode(b"\0" + user.encode() + b"\0" + PASSWORD.encode()).decode(),
        "plain_wrong": base64.b64encode(b"\0" + user.encode() + b"\0wrong").decode(),
    }
    sessions = {}
    try:
        setup = Session(app.imap_port, "setup")
        sessions[0] = setup
        login(setup, user)
        for lineno, text in case.setup:
            tag = setup.tag()
            _, t = send_command(setup, tag, text, case, variables, [])
            if not t.startswith((tag + " OK").encode()):
                raise CaseError("line %d: setup %r failed: %r" % (lineno, text, t))
        tag = setup.tag()
        send_command(setup, tag, "LOGOUT", case, variables, [])
        setup.close()
        del sessions[0]
        for num in sorted(case.states):
            open_session(app, case, num, user, sessions)
        for step in case.steps:
            try:
                run_step(app, case, step, sessions, user, variables)
            except CaseError as e:
                raise CaseError("line %d (%s): %s" % (step.lineno, step.text or step.kind, e)) from None
    finally:
        transcript = []
        for s in sessions.values():
            transcript.extend(s.transcript)
            s.close()
        case.transcript = transcript


def run_step(app, case, step, sessions, user, variables):
    if step.kind == "sleep":
        time.sleep(float(step.text or "0.2"))
        return
    if step.kind == "connect":
        old = sessions.get(step.session)
        if old:
            old.close()
        open_session(app, case, step.session, user, sessions)
        return
    sess = sessions.get(step.session)
    if sess is None:
        raise CaseError("session %d is not open" % step.session)
    if step.kind == "login":
        login(sess, user)
        return
    if step.kind == "greeting":
        why = check_step(step, [sess.greeting], b"", "", case, variables, final=False)
        if why:
            raise CaseError(why)
        return
    if step.kind == "closed":
        if not sess.wait_closed():
            raise CaseError("session %d was not closed by the server" % step.session)
        return
    if step.kind == "raw":
        text = codecs.escape_decode(step.text.encode("utf-8"))[0]
        tag = text.split(b" ", 1)[0].decode("utf-8", "replace")
        sess.send(text + b"\r\n")
        untagged = []
        while True:
            r = sess.read_response()
            if r.startswith(tag.encode() + b" "):
                break
            if r.startswith(b"+") and step.continuations:
                sess.send(step.continuations.pop(0).encode() + b"\r\n")
                continue
            untagged.append(r)
        why = check_step(step, untagged, r, tag, case, variables)
        if why:
            raise CaseError(why)
        return
    if step.kind == "cmd":
        tag = sess.tag()
        untagged, tagged = send_command(sess, tag, step.text, case, variables, step.continuations)
        why = check_step(step, untagged, tagged, tag, case, variables)
        if why:
            raise CaseError(why)
        return
    if step.kind == "poll":
        # Repeat the command until the expected untagged responses have arrived (another
        # session's change travels through stored's change feed); forbidden responses fail
        # at once, on any attempt.
        deadline = time.monotonic() + POLL_SECONDS
        seen = []
        while True:
            tag = sess.tag()
            untagged, tagged = send_command(sess, tag, step.text, case, variables, step.continuations)
            seen.extend(untagged)
            why = check_step(step, seen, tagged, tag, case, variables)
            if why is None:
                return
            if why.startswith("forbidden") or "tagged response" in why:
                raise CaseError(why)
            if time.monotonic() > deadline:
                raise CaseError("after %.0fs of polling: %s" % (POLL_SECONDS, why))
            time.sleep(0.05)
    raise CaseError("unknown step kind %s" % step.kind)


def main(argv):
    verbose = "-v" in argv
    words = [a for a in argv if a != "-v"]
    files = sorted(f for f in os.listdir(CASES) if f.endswith(".case"))
    if words:
        files = [f for f in files if any(w in f for w in words)]
    cases = []
    broken = []
    for f in files:
        try:
            cases.append(Case(os.path.join(CASES, f)))
        except (CaseError, OSError) as e:
            broken.append((f, str(e)))
    app = harness.Appliance(imap_workers=2)
    app.start()
    passed = failed = xfailed = 0
    failures = []
    commands = set()
    steps = sum(1 for c in cases for s in c.steps if s.kind in ("cmd", "poll", "raw"))
    try:
        for idx, case in enumerate(cases):
            user = "c%03d" % idx
            t0 = time.monotonic()
            for s in case.steps:
                if s.kind in ("cmd", "poll"):
                    words_ = s.text.split()
                    if words_:
                        name = words_[0].upper()
                        commands.add(name + (" " + words_[1].upper() if name == "UID" and len(words_) > 1 else ""))
            try:
                run_case(app, case, user)
                if case.xfail:
                    # A known bug that now behaves: the marker must go.
                    failed += 1
                    failures.append(case.name)
                    print("XPASS %-39s remove the xfail marker (%s)" % (case.name, case.xfail), flush=True)
                    continue
                passed += 1
                note = " (deliberate divergence: %s)" % case.divergence if case.divergence else ""
                print("PASS %-40s %5.2fs%s" % (case.name, time.monotonic() - t0, note), flush=True)
            except (CaseError, OSError, harness.Failure) as e:
                if case.xfail:
                    xfailed += 1
                    print("XFAIL %-39s known server bug: %s\n      (%s)" % (case.name, case.xfail, e), flush=True)
                    continue
                failed += 1
                failures.append(case.name)
                print("FAIL %-40s %s" % (case.name, e), flush=True)
                if verbose:
                    for line in getattr(case, "transcript", []):
                        print("     | " + line[:400])
        for f, why in broken:
            failed += 1
            failures.append(f)
            print("FAIL %-40s case file error: %s" % (f, why))
    finally:
        if failed:
            app.failed = True  # keep the temp dir and log for inspection
        app.stop()
    print("%d cases (%d commands): %d passed, %d failed, %d known server bugs (xfail); commands exercised: %s"
          % (passed + failed + xfailed, steps, passed, failed, xfailed, " ".join(sorted(commands))))
    if failures:
        print("failed: " + " ".join(failures))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
