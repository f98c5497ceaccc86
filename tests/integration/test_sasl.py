#!/usr/bin/env python3
"""SASL (common/sasl) against the real appliance, with a SCRAM client written here with
hashlib/hmac only (RFC 5802, RFC 7677), not Postern's code:

- IMAP AUTHENTICATE SCRAM-SHA-256 / SCRAM-SHA-1, with and without SASL-IR (RFC 4959),
  the server signature checked; PLAIN with SASL-IR, LOGIN, "*" cancel (BAD);
- SCRAM-SHA-256-PLUS over TLS 1.2 with python's get_channel_binding('tls-unique'), IMAP and
  POP3; a wrong binding fails; TLS 1.3 offers only tls-exporter (python has none);
- POP3 AUTH (RFC 5034) with initial responses, the CAPA SASL list;
- SCRAM without TLS from an untrusted client while PLAIN is refused;
- unknown user and wrong password: the same answer, the same time, made-up SCRAM salts
  that stay the same;
- posternctl user import-passwd of every scheme (hashes made here with openssl, mkpasswd,
  argon2 and hashlib), login with the old password, the upgrade to scrypt + SCRAM keys
  (posternctl user show), SCRAM refused before the upgrade and working after it.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import harness
from harness import HOST, TIMEOUT

UNTRUSTED = "127.0.0.2"


# --- an independent SCRAM client -----------------------------------------------------------
class ScramClient:
    """RFC 5802 client side. cb_type None: gs2 flag "n" (or `flag`); else "p=<cb_type>"."""

    def __init__(self, hashname, user, password, cb_type=None, cb_data=b"", flag="n", authzid=""):
        self.h = hashname
        self.user = user.replace("=", "=3D").replace(",", "=2C")
        self.password = password.encode()
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        authz = "a=" + authzid.replace("=", "=3D").replace(",", "=2C") if authzid else ""
        self.gs2 = ("p=%s" % cb_type if cb_type else flag) + "," + authz + ","
        self.cb_data = cb_data
        self.expected_v = None

    def first(self):
        self.bare = "n=%s,r=%s" % (self.user, self.cnonce)
        return (self.gs2 + self.bare).encode()

    def final(self, server_first):
        sf = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in sf.split(","))
        assert attrs["r"].startswith(self.cnonce), sf
        self.iterations = int(attrs["i"])
        self.salt = base64.b64decode(attrs["s"])
        salted = hashlib.pbkdf2_hmac(self.h, self.password, self.salt, self.iterations)
        client_key = hmac.new(salted, b"Client Key", self.h).digest()
        stored_key = hashlib.new(self.h, client_key).digest()
        without = "c=%s,r=%s" % (base64.b64encode(self.gs2.encode() + self.cb_data).decode(), attrs["r"])
        auth_message = ",".join([self.bare, sf, without]).encode()
        signature = hmac.new(stored_key, auth_message, self.h).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", self.h).digest()
        self.expected_v = b"v=" + base64.b64encode(hmac.new(server_key, auth_message, self.h).digest())
        return (without + ",p=" + base64.b64encode(proof).decode()).encode()


def b64(data):
    return base64.b64encode(data).decode()


class Conn:
    """A line client over a plain or TLS socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise harness.Failure("closed by server; have %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until_tagged(self, tag):
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag.encode() + b" "):
                return untagged, line
            untagged.append(line)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tls_context(max_version=None, min_version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if max_version:
        ctx.maximum_version = max_version
    if min_version:
        ctx.minimum_version = min_version
    return ctx


def imap_scram(conn, tag, mech, client, sasl_ir=False):
    """Runs AUTHENTICATE; returns (tagged line, server signature matched)."""
    if sasl_ir:
        conn.send("%s AUTHENTICATE %s %s\r\n" % (tag, mech, b64(client.first())))
    else:
        conn.send("%s AUTHENTICATE %s\r\n" % (tag, mech))
        line = conn.line()
        assert line == b"+ ", line
        conn.send(b64(client.first()) + "\r\n")
    line = conn.line()
    if not line.startswith(b"+ "):
        return line, False
    conn.send(b64(client.final(base64.b64decode(line[2:]))) + "\r\n")
    line = conn.line()
    if not line.startswith(b"+ "):
        return line, False
    matched = base64.b64decode(line[2:]) == client.expected_v
    conn.send("\r\n")  # additional data with success: an empty answer
    _, tagged = conn.until_tagged(tag)
    return tagged, matched


def pop3_scram(conn, mech, client):
    conn.send("AUTH %s %s\r\n" % (mech, b64(client.first())))
    line = conn.line()
    if not line.startswith(b"+ "):
        return line, False
    conn.send(b64(client.final(base64.b64decode(line[2:]))) + "\r\n")
    line = conn.line()
    if not line.startswith(b"+ "):
        return line, False
    matched = base64.b64decode(line[2:]) == client.expected_v
    conn.send("\r\n")
    return conn.line(), matched


class SaslTest(harness.ApplianceTest):
    def imap(self, source=None):
        sock = socket.create_connection((HOST, self.app.imap_port), timeout=TIMEOUT,
                                        source_address=(source, 0) if source else None)
        c = self.closing(Conn(sock))
        self.greeting = c.line()
        return c

    def imaps(self, **tls):
        sock = socket.create_connection((HOST, self.app.imaps_port), timeout=TIMEOUT)
        c = self.closing(Conn(tls_context(**tls).wrap_socket(sock)))
        self.greeting = c.line()
        return c

    def pop3(self, source=None):
        sock = socket.create_connection((HOST, self.app.pop3_port), timeout=TIMEOUT,
                                        source_address=(source, 0) if source else None)
        c = self.closing(Conn(sock))
        self.assertTrue(c.line().startswith(b"+OK"))
        return c

    def pop3s(self, **tls):
        sock = socket.create_connection((HOST, self.app.pop3s_port), timeout=TIMEOUT)
        c = self.closing(Conn(tls_context(**tls).wrap_socket(sock)))
        self.assertTrue(c.line().startswith(b"+OK"))
        return c

    def capa(self, conn):
        conn.send("CAPA\r\n")
        lines = []
        while True:
            line = conn.line()
            if line == b".":
                return lines
            lines.append(line.decode())


class ImapSasl(SaslTest):
    def test_capabilities_list_every_mechanism(self):
        self.imap()
        caps = self.greeting.decode()
        self.assertIn("AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=PLAIN AUTH=LOGIN]", caps)
        self.assertNotIn("-PLUS", caps)  # no TLS, no channel binding
        self.assertIn("SASL-IR", caps)

    def test_scram_sha256_and_sha1_with_an_independent_client(self):
        for mech, h in (("SCRAM-SHA-256", "sha256"), ("SCRAM-SHA-1", "sha1")):
            for ir in (False, True):
                with self.subTest(mech=mech, sasl_ir=ir):
                    c = self.imap()
                    client = ScramClient(h, "demo", "demo")
                    tagged, matched = imap_scram(c, "a", mech, client, sasl_ir=ir)
                    self.assertRegex(tagged, rb"^a OK \[CAPABILITY IMAP4rev1 [^\]]*\] Logged in$")
                    self.assertTrue(matched, "the server signature (v=) is wrong")
                    self.assertEqual(client.iterations, 10000)
                    c.send("b SELECT INBOX\r\n")
                    self.assertTrue(c.until_tagged("b")[1].startswith(b"b OK"))
        self.assertIn("mech=SCRAM-SHA-1", self.app.log_text())

    def test_scram_names_case_escapes_and_authzid(self):
        c = self.imap()
        tagged, matched = imap_scram(c, "a", "scram-sha-256", ScramClient("sha256", "DEMO", "demo", authzid="Demo"))
        self.assertTrue(tagged.startswith(b"a OK"), tagged)
        self.assertTrue(matched)
        # "=2C" is a comma: "de,mo" is nobody, and fails like a wrong password.
        tagged, _ = imap_scram(self.imap(), "b", "SCRAM-SHA-1", ScramClient("sha1", "de,mo", "demo"))
        self.assertEqual(tagged, b"b NO [AUTHENTICATIONFAILED] Authentication failed.")
        # No proxy authorisation.
        c = self.imap()
        c.send("c AUTHENTICATE SCRAM-SHA-256 %s\r\n" % b64(ScramClient("sha256", "demo", "demo", authzid="root").first()))
        self.assertEqual(c.until_tagged("c")[1], b"c NO [AUTHORIZATIONFAILED] Acting as another user is not allowed")

    def test_plain_with_sasl_ir_login_and_cancel(self):
        c = self.imap()
        c.send("a AUTHENTICATE PLAIN %s\r\n" % b64(b"\0demo\0demo"))
        self.assertTrue(c.until_tagged("a")[1].startswith(b"a OK [CAPABILITY "))

        c = self.imap()
        c.send("a AUTHENTICATE LOGIN\r\n")
        self.assertEqual(c.line(), b"+ " + b64(b"Username:").encode())
        c.send(b64(b"demo") + "\r\n")
        self.assertEqual(c.line(), b"+ " + b64(b"Password:").encode())
        c.send(b64(b"demo") + "\r\n")
        self.assertTrue(c.until_tagged("a")[1].startswith(b"a OK [CAPABILITY "))

        c = self.imap()
        c.send("a AUTHENTICATE SCRAM-SHA-256\r\n")
        self.assertEqual(c.line(), b"+ ")
        c.send("*\r\n")
        self.assertEqual(c.until_tagged("a")[1], b"a BAD AUTHENTICATE cancelled")
        # Cancelled in the middle of SCRAM, after the server's first message.
        c.send("b AUTHENTICATE SCRAM-SHA-1 %s\r\n" % b64(ScramClient("sha1", "demo", "demo").first()))
        self.assertTrue(c.line().startswith(b"+ "))
        c.send("*\r\n")
        self.assertEqual(c.until_tagged("b")[1], b"b BAD AUTHENTICATE cancelled")
        c.send("c NOOP\r\n")
        self.assertTrue(c.until_tagged("c")[1].startswith(b"c OK"))

    def test_unknown_user_and_wrong_password_look_and_take_the_same(self):
        answers, times, salts = {}, {}, {}
        for who in ("demo", "nobody", "demo", "nobody"):
            c = self.imap()
            client = ScramClient("sha256", who, "wrong")
            start = time.monotonic()
            tagged, _ = imap_scram(c, "a", "SCRAM-SHA-256", client)
            times.setdefault(who, []).append(time.monotonic() - start)
            answers.setdefault(who, set()).add(tagged)
            salts.setdefault(who, set()).add((client.salt, client.iterations))
        self.assertEqual(answers["demo"], {b"a NO [AUTHENTICATIONFAILED] Authentication failed."})
        self.assertEqual(answers["nobody"], answers["demo"])
        # The made-up salt of an unknown user stays the same, like a real one, with the
        # same iteration count.
        self.assertEqual(len(salts["nobody"]), 1)
        self.assertEqual(len(salts["demo"]), 1)
        self.assertEqual(next(iter(salts["nobody"]))[1], next(iter(salts["demo"]))[1])
        self.assertLess(abs(sum(times["demo"]) - sum(times["nobody"])), 1.0, times)

        # PLAIN: the same answer for both too.
        for who in ("demo", "nobody"):
            c = self.imap()
            c.send("a AUTHENTICATE PLAIN %s\r\n" % b64(b"\0" + who.encode() + b"\0wrong"))
            self.assertEqual(c.until_tagged("a")[1], b"a NO [AUTHENTICATIONFAILED] Authentication failed.")

    def test_malformed_scram_is_bad_and_mechanism_unknown_is_no(self):
        c = self.imap()
        c.send("a AUTHENTICATE SCRAM-SHA-256 %s\r\n" % b64(b"n,,n=demo,r="))
        self.assertEqual(c.until_tagged("a")[1], b"a BAD Invalid AUTHENTICATE response")
        c.send("b AUTHENTICATE SCRAM-SHA-256-PLUS\r\n")
        self.assertEqual(c.until_tagged("b")[1], b"b NO [CANNOT] Unsupported authentication mechanism")
        c.send("c AUTHENTICATE PLAIN !!!\r\n")
        self.assertEqual(c.until_tagged("c")[1], b"c BAD Invalid base64 in AUTHENTICATE response")


class ChannelBinding(SaslTest):
    def test_imap_scram_plus_over_tls12_with_tls_unique(self):
        c = self.imaps(max_version=ssl.TLSVersion.TLSv1_2)
        self.assertIn(b"AUTH=SCRAM-SHA-256-PLUS", self.greeting)
        self.assertIn(b"AUTH=SCRAM-SHA-1-PLUS", self.greeting)
        cb = c.sock.get_channel_binding("tls-unique")
        self.assertTrue(cb)
        for mech, h in (("SCRAM-SHA-256-PLUS", "sha256"), ("SCRAM-SHA-1-PLUS", "sha1")):
            with self.subTest(mech=mech):
                c = self.imaps(max_version=ssl.TLSVersion.TLSv1_2)
                cb = c.sock.get_channel_binding("tls-unique")
                client = ScramClient(h, "demo", "demo", cb_type="tls-unique", cb_data=cb)
                tagged, matched = imap_scram(c, "a", mech, client)
                self.assertTrue(tagged.startswith(b"a OK [CAPABILITY "), tagged)
                self.assertTrue(matched)

    def test_a_wrong_binding_fails_and_y_is_a_downgrade(self):
        c = self.imaps(max_version=ssl.TLSVersion.TLSv1_2)
        client = ScramClient("sha256", "demo", "demo", cb_type="tls-unique", cb_data=b"\0" * 12)
        tagged, _ = imap_scram(c, "a", "SCRAM-SHA-256-PLUS", client)
        self.assertEqual(tagged, b"a NO [AUTHENTICATIONFAILED] Authentication failed.")
        # "y": the client thinks the server cannot bind, but it advertised -PLUS.
        client = ScramClient("sha256", "demo", "demo", flag="y")
        tagged, _ = imap_scram(c, "b", "SCRAM-SHA-256", client)
        self.assertEqual(tagged, b"b NO [AUTHENTICATIONFAILED] Authentication failed.")
        # Without binding over TLS: fine.
        tagged, _ = imap_scram(c, "c", "SCRAM-SHA-256", ScramClient("sha256", "demo", "demo"))
        self.assertTrue(tagged.startswith(b"c OK"), tagged)

    def test_tls13_offers_plus_but_not_tls_unique(self):
        # TLS 1.3 binds with tls-exporter (RFC 9266), which python's ssl cannot export;
        # tls-unique is not defined there and is refused.
        c = self.imaps(min_version=ssl.TLSVersion.TLSv1_3)
        self.assertIn(b"AUTH=SCRAM-SHA-256-PLUS", self.greeting)
        client = ScramClient("sha256", "demo", "demo", cb_type="tls-unique", cb_data=b"x" * 12)
        tagged, _ = imap_scram(c, "a", "SCRAM-SHA-256-PLUS", client)
        self.assertEqual(tagged, b"a NO [AUTHENTICATIONFAILED] Authentication failed.")

    def test_pop3_scram_plus_over_tls12(self):
        c = self.pop3s(max_version=ssl.TLSVersion.TLSv1_2)
        sasl = [l for l in self.capa(c) if l.startswith("SASL ")]
        self.assertEqual(sasl, ["SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN"])
        cb = c.sock.get_channel_binding("tls-unique")
        line, matched = pop3_scram(c, "SCRAM-SHA-256-PLUS",
                                   ScramClient("sha256", "demo", "demo", cb_type="tls-unique", cb_data=cb))
        self.assertTrue(line.startswith(b"+OK"), line)
        self.assertTrue(matched)


class Pop3Sasl(SaslTest):
    def test_capa_and_auth_list(self):
        c = self.pop3()
        self.assertIn("SASL SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN", self.capa(c))
        c.send("AUTH\r\n")
        lines = []
        while True:
            line = c.line()
            if line == b".":
                break
            lines.append(line)
        self.assertEqual(lines, [b"+OK", b"SCRAM-SHA-256", b"SCRAM-SHA-1", b"PLAIN", b"LOGIN"])

    def test_scram_plain_login(self):
        for mech, h in (("SCRAM-SHA-256", "sha256"), ("SCRAM-SHA-1", "sha1")):
            c = self.pop3()
            line, matched = pop3_scram(c, mech, ScramClient(h, "demo", "demo"))
            self.assertTrue(line.startswith(b"+OK"), line)
            self.assertTrue(matched)
            c.send("QUIT\r\n")
            self.assertTrue(c.line().startswith(b"+OK"))
        c = self.pop3()
        c.send("AUTH PLAIN %s\r\n" % b64(b"\0demo\0demo"))  # RFC 5034 initial response
        self.assertTrue(c.line().startswith(b"+OK"))
        c.send("QUIT\r\n")
        c.line()
        c = self.pop3()
        c.send("AUTH LOGIN\r\n")
        self.assertEqual(c.line(), b"+ " + b64(b"Username:").encode())
        c.send(b64(b"demo") + "\r\n")
        self.assertEqual(c.line(), b"+ " + b64(b"Password:").encode())
        c.send(b64(b"demo") + "\r\n")
        self.assertTrue(c.line().startswith(b"+OK"))

    def test_wrong_and_unknown_the_same_and_cancel(self):
        answers = set()
        for who in ("demo", "nobody"):
            c = self.pop3()
            line, _ = pop3_scram(c, "SCRAM-SHA-256", ScramClient("sha256", who, "bad"))
            answers.add(line)
        self.assertEqual(answers, {b"-ERR [AUTH] Authentication failed"})
        c = self.pop3()
        c.send("AUTH SCRAM-SHA-1\r\n")
        self.assertEqual(c.line(), b"+ ")
        c.send("*\r\n")
        self.assertEqual(c.line(), b"-ERR Authentication cancelled")


class PlaintextPolicy(SaslTest):
    appliance_args = {"extra_config": {"auth.allow_plaintext": "false"}}

    def test_untrusted_without_tls_scram_yes_plain_no(self):
        c = self.imap(source=UNTRUSTED)
        self.assertIn(b"AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 LOGINDISABLED]", self.greeting)
        self.assertNotIn(b"AUTH=PLAIN", self.greeting)
        c.send("a AUTHENTICATE PLAIN %s\r\n" % b64(b"\0demo\0demo"))
        self.assertTrue(c.until_tagged("a")[1].startswith(b"a NO [PRIVACYREQUIRED]"))
        c.send("b AUTHENTICATE LOGIN\r\n")
        self.assertTrue(c.until_tagged("b")[1].startswith(b"b NO [PRIVACYREQUIRED]"))
        tagged, matched = imap_scram(c, "c", "SCRAM-SHA-256", ScramClient("sha256", "demo", "demo"))
        self.assertTrue(tagged.startswith(b"c OK"), tagged)
        self.assertTrue(matched)

        p = self.pop3(source=UNTRUSTED)
        p.send("AUTH PLAIN %s\r\n" % b64(b"\0demo\0demo"))
        self.assertEqual(p.line(), b"-ERR [AUTH] Plaintext authentication is disallowed without TLS")
        line, matched = pop3_scram(p, "SCRAM-SHA-1", ScramClient("sha1", "demo", "demo"))
        self.assertTrue(line.startswith(b"+OK"), line)


@unittest.skipUnless(shutil.which("mbsync") and os.path.exists("/usr/lib/x86_64-linux-gnu/sasl2/libscram.so"),
                     "mbsync (isync) or Cyrus SASL's SCRAM plugin (libsasl2-modules) is missing")
class MbsyncScram(SaslTest):
    """A second independent SCRAM client: Cyrus SASL's, through mbsync."""

    def test_mbsync_logs_in_with_scram(self):
        tmp = tempfile.mkdtemp(prefix="pst-sasl-mbsync-", dir="/tmp")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.makedirs(os.path.join(tmp, "mail"))
        for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
            conf = os.path.join(tmp, "mbsyncrc")
            with open(conf, "w") as f:
                f.write("IMAPAccount postern\nHost %s\nPort %d\nUser demo\nPass demo\n"
                        "SSLType None\nAuthMechs %s\nTimeout 20\n\n"
                        "IMAPStore remote\nAccount postern\n\n"
                        "MaildirStore local\nPath %s/mail/\nInbox %s/mail/INBOX\n\n"
                        "Channel postern\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\n"
                        "SyncState *\n" % (HOST, self.app.imap_port, mech, tmp, tmp))
            r = subprocess.run(["mbsync", "-c", conf, "-a"], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("mech=%s" % mech, self.app.log_text())


# --- posternctl user import-passwd ---------------------------------------------------------
def run_out(cmd, data=None):
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise harness.Failure("%s: %s" % (cmd, r.stderr))
    return r.stdout.decode().strip()


def make_hashes():
    """{user: (dovecot field, password)} for every scheme we can make here; and notes."""
    out, notes = {}, []
    if shutil.which("openssl"):
        out["u-sha512"] = ("{SHA512-CRYPT}" + run_out(["openssl", "passwd", "-6", "pw-sha512"]), "pw-sha512")
        out["u-sha256"] = ("{SHA256-CRYPT}" + run_out(["openssl", "passwd", "-5", "pw-sha256"]), "pw-sha256")
    else:
        notes.append("openssl missing: no SHA-crypt hashes")
    if shutil.which("mkpasswd"):
        out["u-bcrypt"] = ("{BLF-CRYPT}" + run_out(["mkpasswd", "-m", "bcrypt", "-R", "5", "pw-bcrypt"]), "pw-bcrypt")
    else:
        notes.append("mkpasswd (package whois) missing: {BLF-CRYPT} not tested")
    if shutil.which("argon2"):
        h = run_out(["argon2", "somesaltsomesalt", "-id", "-e", "-m", "12", "-t", "2", "-p", "1"], b"pw-argon2")
        out["u-argon2"] = ("{ARGON2ID}" + h, "pw-argon2")
    else:
        notes.append("argon2 (package argon2) missing: {ARGON2ID} not tested")
    salt = os.urandom(8)
    digest = hashlib.sha512(b"pw-ssha512" + salt).digest()
    out["u-ssha512"] = ("{SSHA512}" + base64.b64encode(digest + salt).decode(), "pw-ssha512")
    out["u-plain"] = ("{PLAIN}pw-plain", "pw-plain")
    return out, notes


class ImportPasswd(SaslTest):
    def show(self, user):
        return self.app.ctl_json("user", "show", user)

    def login_plain(self, user, password):
        c = self.imap()
        c.send("a LOGIN %s %s\r\n" % (user, password))
        return c.until_tagged("a")[1]

    def test_import_every_scheme_then_upgrade_at_login(self):
        users, notes = make_hashes()
        for n in notes:
            print("note:", n)
        with tempfile.NamedTemporaryFile("w", suffix=".passwd", delete=False) as f:
            f.write("# exported from dovecot\n\n")
            for user, (field, _) in users.items():
                f.write("%s:%s:1000:1000::/home/%s::\n" % (user, field, user))
            path = f.name
        self.addCleanup(os.unlink, path)
        r = self.app.ctl("user", "import-passwd", path)
        for user, (field, _) in users.items():
            self.assertRegex(r.stdout, r"line \d+: %s: imported \(" % re.escape(user))
            hash_part = field.split("}", 1)[1]
            self.assertNotIn(hash_part, r.stdout)
            self.assertNotIn(hash_part, r.stderr)
        self.assertIn("%d imported, 0 skipped" % len(users), r.stdout)
        log_before = self.app.log_text()
        for user, (field, _) in users.items():
            self.assertNotIn(field.split("}", 1)[1], log_before)

        for user, (field, password) in users.items():
            with self.subTest(user=user):
                scheme = field[1:field.index("}")]
                shown = self.show(user)
                self.assertNotIn(field.split("}", 1)[1], json.dumps(shown))
                if scheme == "PLAIN":
                    # Known in the clear: hashed natively at import, SCRAM at once.
                    self.assertEqual(shown["password_scheme"], "SCRYPT")
                    self.assertEqual(shown["scram"], ["SCRAM-SHA-1", "SCRAM-SHA-256"])
                else:
                    self.assertEqual(shown["password_scheme"], scheme)
                    self.assertEqual(shown.get("scram", []), [])
                    # SCRAM cannot work before the upgrade: fails like a wrong password.
                    tagged, _ = imap_scram(self.imap(), "s", "SCRAM-SHA-256",
                                           ScramClient("sha256", user, password))
                    self.assertEqual(tagged, b"s NO [AUTHENTICATIONFAILED] Authentication failed.")
                    # A wrong password does not upgrade anything.
                    self.assertTrue(self.login_plain(user, "wrong").startswith(b"a NO"))
                    self.assertEqual(self.show(user)["password_scheme"], scheme)
                # The old password logs in (LOGIN, then POP3 USER/PASS and PLAIN go the same way).
                self.assertTrue(self.login_plain(user, password).startswith(b"a OK"), user)
                shown = self.show(user)
                self.assertEqual(shown["password_scheme"], "SCRYPT")
                self.assertEqual(shown["scram"], ["SCRAM-SHA-1", "SCRAM-SHA-256"])
                tagged, matched = imap_scram(self.imap(), "s", "SCRAM-SHA-1", ScramClient("sha1", user, password))
                self.assertTrue(tagged.startswith(b"s OK"), tagged)
                self.assertTrue(matched)
                self.assertTrue(self.login_plain(user, password).startswith(b"a OK"))
        log = self.app.log_text()
        self.assertIn("SCRAM not possible for this user until the next PLAIN/LOGIN login", log)
        self.assertIn("password hash upgraded at login", log)

    def test_skipped_lines_are_reported_and_existing_users_kept(self):
        lines = [
            "demo:{PLAIN}taken-over",            # exists
            "weird:{MD5-CRYPT}$1$abc$defghijk",  # unsupported scheme
            "nohash",                            # no password field
            "bad user:{PLAIN}x",                 # invalid name
            "fine:{PLAIN}fine-pw",
        ]
        r = self.app.ctl("--json", "user", "import-passwd", "-", input="\n".join(lines) + "\n", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        out = json.loads(r.stdout)
        results = {x["line"]: x for x in out["results"]}
        self.assertEqual(sorted(results), [1, 2, 3, 4, 5])
        self.assertFalse(results[1]["imported"])
        self.assertIn("exists", results[1]["detail"])
        self.assertIn("unsupported scheme", results[2]["detail"])
        self.assertFalse(results[3]["imported"])
        self.assertEqual(results[4]["detail"], "invalid user name")
        self.assertTrue(results[5]["imported"])
        self.assertNotIn("$1$abc$defghijk", r.stdout)
        self.assertTrue(self.login_plain("demo", "demo").startswith(b"a OK"))
        self.assertTrue(self.login_plain("fine", "fine-pw").startswith(b"a OK"))
        # --replace takes over the existing user's password.
        r = self.app.ctl("user", "import-passwd", "-", "--replace", input="demo:{PLAIN}taken-over\n")
        self.assertIn("line 1: demo: imported (password replaced", r.stdout)
        self.assertTrue(self.login_plain("demo", "taken-over").startswith(b"a OK"))


if __name__ == "__main__":
    unittest.main()
