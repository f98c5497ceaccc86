#!/usr/bin/env python3
"""TLS: implicit TLS (imaps, pop3s), STARTTLS / STLS with `openssl s_client` and python's
imaplib / poplib, TLS 1.0 and 1.1 refused, the self-signed certificate and its logged
fingerprint, certificate reload, and the plaintext policy for untrusted clients
(127.0.0.2: LOGINDISABLED / PRIVACYREQUIRED, USER hidden) before and after TLS."""

import hashlib
import imaplib
import os
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import unittest

import harness
from harness import HOST, TIMEOUT

UNTRUSTED = "127.0.0.2"
HAVE_OPENSSL = shutil.which("openssl") is not None


def client_context(cafile=None):
    """Verifies against the appliance's own certificate when cafile is given (no host name:
    the self-signed certificate names the machine's host name)."""
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if not cafile:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def sha256_colons(der):
    return ":".join("%02X" % b for b in hashlib.sha256(der).digest())


class ImapFrom(imaplib.IMAP4):
    """imaplib.IMAP4 connecting from a given local address (an untrusted client)."""

    def __init__(self, port, source):
        self._source = source
        super().__init__(HOST, port, timeout=TIMEOUT)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self._source, 0))


class Pop3From(poplib.POP3):
    def __init__(self, port, source):
        self._source = source
        super().__init__(HOST, port, timeout=TIMEOUT)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self._source, 0))


def s_client(port, *args, data=b"", timeout=20):
    """Runs openssl s_client against 127.0.0.1:port; returns (exit code, stdout, stderr).
    `data` has LF line ends (-crlf sends CRLF); -ign_eof reads until the server closes, so
    it should end with LOGOUT / QUIT."""
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-crlf", "-ign_eof",
           "-servername", "localhost"] + list(args)
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


class Tls(harness.ApplianceTest):
    appliance_args = {"extra_config": {"auth.allow_plaintext": "false"}}

    def cert_path(self):
        return os.path.join(self.app.data_dir, "tls", "cert.pem")

    # --- certificate ---------------------------------------------------------------------
    def test_self_signed_certificate_generated_and_fingerprint_logged(self):
        self.assertTrue(os.path.exists(self.cert_path()))
        key = os.path.join(self.app.data_dir, "tls", "key.pem")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        with socket.create_connection((HOST, self.app.imaps_port), timeout=TIMEOUT) as raw:
            with client_context(self.cert_path()).wrap_socket(raw) as tls:
                der = tls.getpeercert(binary_form=True)
                self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))
                self.assertTrue(tls.recv(1024).startswith(b"* OK [CAPABILITY IMAP4rev1 "))
        fp = sha256_colons(der)
        log = self.app.log_text()
        self.assertIn("generated a self-signed TLS certificate", log)
        self.assertIn(fp, log)

    # --- implicit TLS --------------------------------------------------------------------
    @unittest.skipUnless(HAVE_OPENSSL, "openssl is not installed (apt-get install openssl)")
    def test_implicit_tls_imap_with_s_client(self):
        rc, out, err = s_client(self.app.imaps_port, "-brief", data=b"a1 CAPABILITY\na2 LOGOUT\n")
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"Protocol version: TLSv1\.[23]")
        # Over TLS from the start: no STARTTLS, no LOGINDISABLED, AUTH=PLAIN offered.
        self.assertRegex(out, r"\* OK \[CAPABILITY IMAP4rev1 [^\]]* AUTH=PLAIN[^\]]*\] Postern IMAP4rev1 ready")
        caps = re.search(r"\* CAPABILITY (.*)\r?\n", out).group(1).split()
        self.assertNotIn("STARTTLS", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertIn("a2 OK", out)

    @unittest.skipUnless(HAVE_OPENSSL, "openssl is not installed (apt-get install openssl)")
    def test_implicit_tls_pop3_with_s_client(self):
        rc, out, err = s_client(self.app.pop3s_port, "-brief", data=b"CAPA\nUSER demo\nPASS demo\nSTAT\nQUIT\n")
        self.assertEqual(rc, 0, err)
        self.assertIn("+OK Postern POP3 ready.", out)
        capa = out.split("+OK Capability list follows", 1)[1].split("\n.\n", 1)[0]
        self.assertIn("USER", capa)
        self.assertNotIn("STLS", capa)
        self.assertIn("+OK 0 0", out)

    def test_implicit_tls_python_clients_from_untrusted_address(self):
        imap = imaplib.IMAP4_SSL(HOST, self.app.imaps_port, ssl_context=client_context(self.cert_path()),
                                 timeout=TIMEOUT)
        self.closing(imap)
        self.assertNotIn("LOGINDISABLED", imap.capabilities)
        self.assertEqual(imap.login("demo", "demo")[0], "OK")
        pop = poplib.POP3_SSL(HOST, self.app.pop3s_port, context=client_context(self.cert_path()), timeout=TIMEOUT)
        self.closing(pop)
        self.assertTrue(pop.user("demo").startswith(b"+OK"))
        self.assertTrue(pop.pass_("demo").startswith(b"+OK"))

    # --- old protocol versions -------------------------------------------------------------
    @unittest.skipUnless(HAVE_OPENSSL, "openssl is not installed (apt-get install openssl)")
    def test_tls_1_0_and_1_1_refused(self):
        # SECLEVEL=0 lets the client offer the old versions: the refusal is the server's.
        for version in ("-tls1", "-tls1_1"):
            for port in (self.app.imaps_port, self.app.pop3s_port):
                rc, out, err = s_client(port, version, "-cipher", "DEFAULT@SECLEVEL=0", data=b"a LOGOUT\n")
                self.assertNotEqual(rc, 0, "%s on %d: %s" % (version, port, out))
                self.assertNotIn("* OK", out)
                self.assertNotIn("+OK", out)
            rc, out, err = s_client(self.app.imap_port, "-starttls", "imap", version, "-cipher", "DEFAULT@SECLEVEL=0")
            self.assertNotEqual(rc, 0, out)
        # The server is still fine afterwards.
        rc, out, err = s_client(self.app.imaps_port, "-tls1_2", data=b"a LOGOUT\n")
        self.assertEqual(rc, 0, err)
        self.assertIn("a OK", out)
        self.assertIn("TLS handshake failed", self.app.log_text())

    # --- STARTTLS / STLS -------------------------------------------------------------------
    @unittest.skipUnless(HAVE_OPENSSL, "openssl is not installed (apt-get install openssl)")
    def test_starttls_imap_with_s_client(self):
        rc, out, err = s_client(self.app.imap_port, "-starttls", "imap", "-brief",
                                data=b"a1 CAPABILITY\na2 LOGIN demo demo\na3 LOGOUT\n")
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"Protocol version: TLSv1\.[23]")
        caps = re.search(r"\* CAPABILITY (.*)\r?\n", out).group(1).split()
        self.assertNotIn("STARTTLS", caps)
        self.assertIn("AUTH=PLAIN", caps)
        self.assertIn("a2 OK", out)

    @unittest.skipUnless(HAVE_OPENSSL, "openssl is not installed (apt-get install openssl)")
    def test_stls_pop3_with_s_client(self):
        rc, out, err = s_client(self.app.pop3_port, "-starttls", "pop3", "-brief",
                                data=b"CAPA\nUSER demo\nPASS demo\nQUIT\n")
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"Protocol version: TLSv1\.[23]")
        capa = out.split("+OK Capability list follows", 1)[1].split("\n.\n", 1)[0]
        self.assertNotIn("STLS", capa)
        self.assertIn("USER", capa)
        self.assertRegex(out, r"\+OK Logged in")

    def test_imap_untrusted_logindisabled_then_login_after_starttls(self):
        imap = self.closing(ImapFrom(self.app.imap_port, UNTRUSTED))
        self.assertIn("STARTTLS", imap.capabilities)
        self.assertIn("LOGINDISABLED", imap.capabilities)
        self.assertNotIn("AUTH=PLAIN", imap.capabilities)
        typ, data = imap._simple_command("LOGIN", "demo", "demo")
        self.assertEqual((typ, data[-1]),
                         ("NO", b"[PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS; use STARTTLS"))
        typ, data = imap._simple_command("AUTHENTICATE", "PLAIN", "AGRlbW8AZGVtbw==")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[PRIVACYREQUIRED]", data[-1])
        imap.starttls(client_context(self.cert_path()))
        self.assertNotIn("STARTTLS", imap.capabilities)
        self.assertNotIn("LOGINDISABLED", imap.capabilities)
        self.assertIn("AUTH=PLAIN", imap.capabilities)
        self.assertEqual(imap.login("demo", "demo")[0], "OK")
        self.assertEqual(imap.select("INBOX")[0], "OK")
        # A second STARTTLS is refused (and never allowed once logged in).
        typ, data = imap._simple_command("NOOP")
        self.assertEqual(typ, "OK")
        imap.logout()

    def test_imap_trusted_client_may_log_in_without_tls(self):
        imap = self.closing(imaplib.IMAP4(HOST, self.app.imap_port, timeout=TIMEOUT))
        self.assertIn("STARTTLS", imap.capabilities)
        self.assertNotIn("LOGINDISABLED", imap.capabilities)
        self.assertEqual(imap.login("demo", "demo")[0], "OK")

    def test_pop3_untrusted_user_hidden_then_login_after_stls(self):
        pop = self.closing(Pop3From(self.app.pop3_port, UNTRUSTED))
        capa = pop.capa()
        self.assertIn("STLS", capa)
        self.assertNotIn("USER", capa)
        # SCRAM needs no TLS; the plaintext mechanisms are not offered.
        self.assertEqual(capa.get("SASL"), ["SCRAM-SHA-256", "SCRAM-SHA-1"])
        with self.assertRaises(poplib.error_proto) as cm:
            pop.user("demo")
        self.assertIn(b"-ERR [AUTH]", cm.exception.args[0])
        pop.stls(client_context(self.cert_path()))
        capa = pop.capa()
        self.assertNotIn("STLS", capa)
        self.assertIn("USER", capa)
        self.assertTrue(pop.user("demo").startswith(b"+OK"))
        self.assertTrue(pop.pass_("demo").startswith(b"+OK"))
        self.assertTrue(pop.quit().startswith(b"+OK"))

    def test_starttls_discards_pipelined_plaintext(self):
        """CVE-2011-0411: a command sent in the clear behind STARTTLS must not run over TLS."""
        raw = socket.create_connection((HOST, self.app.imap_port), timeout=TIMEOUT,
                                       source_address=(UNTRUSTED, 0))
        f = raw.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        raw.sendall(b"a STARTTLS\r\nb LOGIN demo demo\r\n")
        self.assertEqual(f.readline(), b"a OK Begin TLS negotiation now\r\n")
        tls = client_context(self.cert_path()).wrap_socket(raw)
        tls.sendall(b"c CAPABILITY\r\n")
        tf = tls.makefile("rb")
        first = tf.readline()
        self.assertTrue(first.startswith(b"* CAPABILITY "), first)
        self.assertEqual(tf.readline(), b"c OK CAPABILITY completed\r\n")
        tls.sendall(b"d STARTTLS\r\n")
        self.assertEqual(tf.readline(), b"d BAD TLS is already active\r\n")
        tls.close()

    def test_lmtp_starttls(self):
        raw = socket.create_connection((HOST, self.app.lmtp_port), timeout=TIMEOUT)
        f = raw.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        raw.sendall(b"LHLO test.local\r\n")
        lines = []
        while True:
            line = f.readline()
            lines.append(line)
            if line[3:4] != b"-":
                break
        self.assertIn(b"250-STARTTLS\r\n", lines)
        raw.sendall(b"STARTTLS\r\n")
        self.assertEqual(f.readline(), b"220 2.0.0 Ready to start TLS\r\n")
        tls = client_context(self.cert_path()).wrap_socket(raw)
        tf = tls.makefile("rb")
        tls.sendall(b"MAIL FROM:<a@example.org>\r\n")
        self.assertTrue(tf.readline().startswith(b"503 "), "LHLO is required again after STARTTLS")
        tls.sendall(b"LHLO test.local\r\n")
        lines = []
        while True:
            line = tf.readline()
            lines.append(line)
            if line[3:4] != b"-":
                break
        self.assertNotIn(b"250-STARTTLS\r\n", lines)
        tls.sendall(b"QUIT\r\n")
        self.assertTrue(tf.readline().startswith(b"221 "))
        tls.close()

    # --- reload ----------------------------------------------------------------------------
    @unittest.skipUnless(HAVE_OPENSSL, "openssl is not installed (apt-get install openssl)")
    def test_reload_switches_certificate_and_keeps_sessions(self):
        ctx = client_context()
        old = ctx.wrap_socket(socket.create_connection((HOST, self.app.imaps_port), timeout=TIMEOUT))
        of = old.makefile("rb")
        self.assertTrue(of.readline().startswith(b"* OK"))
        old_fp = sha256_colons(old.getpeercert(binary_form=True))

        cert = os.path.join(self.app.tmp, "new-cert.pem")
        key = os.path.join(self.app.tmp, "new-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-subj", "/CN=reloaded.test", "-days", "2"], check=True, capture_output=True, timeout=60)
        # A bad file refuses the reload; the running certificate stays.
        self.app.settings["tls.cert_file"] = os.path.join(self.app.tmp, "missing.pem")
        self.app.write_config()
        r = self.app.ctl("reload", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.app.settings["tls.cert_file"] = cert
        self.app.settings["tls.key_file"] = key
        self.app.write_config()
        self.app.ctl("reload")

        def new_fp():
            with ctx.wrap_socket(socket.create_connection((HOST, self.app.imaps_port), timeout=TIMEOUT)) as s:
                fp = sha256_colons(s.getpeercert(binary_form=True))
                s.recv(100)
                return fp if fp != old_fp else None

        fp = harness.wait_until(new_fp, 5, 0.1, "the new certificate")
        with open(cert) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        self.assertEqual(fp, sha256_colons(der))
        # The session that started before the reload carries on.
        old.sendall(b"a LOGIN demo demo\r\n")
        self.assertTrue(of.readline().startswith(b"a OK"))
        old.sendall(b"b LOGOUT\r\n")
        self.assertTrue(of.readline().startswith(b"* BYE"))
        old.close()


if __name__ == "__main__":
    harness.main()
