#!/usr/bin/env python3
"""Privileges (master/privileges.h): every child runs with no_new_privs and no ambient
capabilities; a master started as root runs postern-stored and the workers as
unprivileged users (here daemon / nobody, group nogroup, which Debian always has), the
workers cannot open the LMDB files, still get the TLS key (also after a reload) and are
restarted as the same user; the admin socket admits only root, the master's user and
members of admin_group (SO_PEERCRED), with a clear message for everyone else; a missing
account stops the start. The root-only tests are skipped when not run as root."""

import grp
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest

import harness

CAP_NET_BIND_SERVICE = 10
CAP_SETPCAP = 8


def status(pid):
    """/proc/<pid>/status as a dict of the first value of each field (str)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/comm" % d) as f:
                comm = f.read().strip()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append((int(d), comm))
    return kids


def caps(st, field):
    return int(st[field], 16)


def account(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def group_id(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def as_user(uid, gid, groups=()):
    def become():
        os.setgroups(list(groups))
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    return become


def can_open(path, uid, gid):
    """Exit code of a child that tries to open `path` with exactly these credentials:
    0 opened, 13 permission denied, other: something else went wrong."""
    pid = os.fork()
    if pid == 0:
        try:
            as_user(uid, gid)()
            with open(path, "rb"):
                pass
            os._exit(0)
        except PermissionError:
            os._exit(13)
        except BaseException:  # noqa: BLE001 - reported through the exit code
            os._exit(2)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st)


def need_root(test):
    if os.geteuid() != 0:
        test.skipTest("needs root")
    for name in ("daemon", "nobody", "bin", "sys"):
        if account(name) is None:
            test.skipTest("no account %s" % name)
    if group_id("nogroup") is None:
        test.skipTest("no group nogroup")


class RootAppliance(harness.Appliance):
    """An appliance whose temp dir the unprivileged children can pass through."""

    def start(self, timeout=15):
        self.tmp = tempfile.mkdtemp(prefix="pst-", dir="/tmp")
        os.chmod(self.tmp, 0o711)
        self.data_dir = os.path.join(self.tmp, "d")
        self.run_dir = os.path.join(self.data_dir, "run")
        self.admin_socket = os.path.join(self.run_dir, "admin.sock")
        self.config_path = os.path.join(self.tmp, "postern.conf")
        self.log_path = os.path.join(self.tmp, "master.log")
        self.write_config()
        os.chmod(self.config_path, 0o644)
        return self._launch(timeout, "wb")


class EveryChild(harness.ApplianceTest):
    """Whoever starts it: no_new_privs and no ambient capabilities in every child."""

    def test_children_have_no_new_privs_and_no_ambient_capabilities(self):
        kids = children_of(self.app.proc.pid)
        self.assertEqual(sorted(c for _, c in kids),
                         ["postern-imapd", "postern-lmtpd", "postern-pop3d", "postern-stored"])
        for pid, comm in kids:
            st = status(pid)
            self.assertEqual(st["NoNewPrivs"], "1", comm)
            self.assertEqual(caps(st, "CapAmb"), 0, comm)
            if os.geteuid() != 0:
                self.assertEqual(caps(st, "CapEff"), 0, comm)
                self.assertEqual(caps(st, "CapPrm"), 0, comm)


class NonRootMaster(unittest.TestCase):
    """A master started as another user with CAP_NET_BIND_SERVICE (what the SysV script and
    older units do) keeps it; its children do not get it."""

    def test_capability_is_not_passed_on(self):
        if os.geteuid() != 0 or not shutil.which("setpriv") or account("nobody") is None:
            self.skipTest("needs root, setpriv and the account nobody")
        nobody = account("nobody")
        tmp = tempfile.mkdtemp(prefix="pst-", dir="/tmp")
        os.chmod(tmp, 0o711)
        data = os.path.join(tmp, "d")
        os.mkdir(data, 0o750)
        os.chown(data, nobody.pw_uid, nobody.pw_gid)
        conf = os.path.join(tmp, "postern.conf")
        with open(conf, "w") as f:
            f.write("data_dir = %s\n" % data)
            for k in ("imap", "pop3", "lmtp", "imaps", "pop3s"):
                f.write("%s.listen = 127.0.0.1:0\n" % k)
            f.write("imap.workers = 1\npop3.workers = 1\nlmtp.workers = 1\n")
        os.chmod(conf, 0o644)
        log = open(os.path.join(tmp, "master.log"), "wb")
        p = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=%d" % nobody.pw_gid, "--clear-groups",
                              "--inh-caps=-all,+net_bind_service", "--ambient-caps=-all,+net_bind_service",
                              "--bounding-set=-all,+net_bind_service", harness.MASTER, "--config", conf],
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            harness.wait_until(lambda: len(children_of(p.pid)) == 4 and
                               os.path.exists(os.path.join(data, "run", "ports")), 15, 0.05, "4 children")
            master = status(p.pid)
            self.assertTrue(caps(master, "CapEff") & (1 << CAP_NET_BIND_SERVICE), master["CapEff"])
            for pid, comm in children_of(p.pid):
                st = status(pid)
                self.assertEqual(st["Uid"].split()[0], str(nobody.pw_uid), comm)
                self.assertEqual(st["NoNewPrivs"], "1", comm)
                for field in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
                    self.assertEqual(caps(st, field), 0, "%s %s" % (comm, field))
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                self.assertEqual(p.wait(15), 0)
            finally:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                log.close()
        shutil.rmtree(tmp, ignore_errors=True)


class RootMaster(harness.ApplianceTest):
    """Started as root: stored as daemon, the workers as nobody, both with group nogroup."""

    def setUp(self):
        need_root(self)
        self.daemon, self.nobody, self.bin, self.sys = (account(n) for n in ("daemon", "nobody", "bin", "sys"))
        self.nogroup = group_id("nogroup")
        self.app = RootAppliance(extra_config={"user": "daemon", "group": "nogroup", "worker_user": "nobody",
                                               "admin_group": "nogroup"})
        self.app.start()
        self._closers = []

    def test_children_run_unprivileged_and_workers_cannot_open_the_store(self):
        kids = dict((c, pid) for pid, c in children_of(self.app.proc.pid))
        self.assertEqual(sorted(kids), ["postern-imapd", "postern-lmtpd", "postern-pop3d", "postern-stored"])
        master_bnd_drops = caps(status(self.app.proc.pid), "CapEff") & (1 << CAP_SETPCAP)
        for comm, pid in kids.items():
            st = status(pid)
            want = self.daemon.pw_uid if comm == "postern-stored" else self.nobody.pw_uid
            self.assertEqual(st["Uid"].split(), [str(want)] * 4, comm)
            self.assertEqual(st["Gid"].split(), [str(self.nogroup)] * 4, comm)
            self.assertEqual(st["Groups"], "", comm)
            self.assertEqual(st["NoNewPrivs"], "1", comm)
            for field in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
                self.assertEqual(caps(st, field), 0, "%s %s" % (comm, field))
            if master_bnd_drops:
                self.assertEqual(caps(st, "CapBnd"), 0, comm)

        store = os.path.join(self.app.data_dir, "store")
        mdb = os.path.join(store, "data.mdb")
        s = os.stat(store)
        self.assertEqual((s.st_uid, s.st_mode & 0o777), (self.daemon.pw_uid, 0o700))
        self.assertEqual(can_open(mdb, self.daemon.pw_uid, self.nogroup), 0, "stored's user must open the store")
        self.assertEqual(can_open(mdb, self.nobody.pw_uid, self.nogroup), 13, "a worker could open data.mdb")
        key = os.path.join(self.app.data_dir, "tls", "key.pem")
        self.assertEqual(can_open(key, self.nobody.pw_uid, self.nogroup), 13, "a worker could read the TLS key")

        # ...and yet they serve: a login over implicit TLS (the key came from the master).
        imap = self._imaps()
        self.assertEqual(imap.login("demo", "demo")[0], "OK")
        imap.logout()
        pop = harness.RawPop3(self.app.pop3_port)
        self.assertTrue(pop.login().startswith(b"+OK"))
        pop.close()

        # A killed worker comes back as the same user.
        os.kill(kids["postern-imapd"], signal.SIGKILL)
        harness.wait_until(lambda: [p for p, c in children_of(self.app.proc.pid)
                                    if c == "postern-imapd" and p != kids["postern-imapd"]], 10, 0.05,
                           "a new imapd")
        new = [p for p, c in children_of(self.app.proc.pid) if c == "postern-imapd"][0]
        self.assertEqual(status(new)["Uid"].split()[0], str(self.nobody.pw_uid))

    def _imaps(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = harness.imaplib.IMAP4_SSL(harness.HOST, self.app.imaps_port, ssl_context=ctx, timeout=harness.TIMEOUT)
        return c

    def test_reload_swaps_a_certificate_only_root_can_read(self):
        cert = os.path.join(self.app.tmp, "new-cert.pem")
        key = os.path.join(self.app.tmp, "new-key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-subj", "/CN=reloaded.test", "-days", "2", "-keyout", key, "-out", cert],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(key, 0o600)
        self.assertEqual(can_open(key, self.nobody.pw_uid, self.nogroup), 13)
        first = self._imaps()
        before = first.sock.getpeercert(binary_form=True)
        first.shutdown()
        settings = dict(self.app.settings, **{"tls.cert_file": cert, "tls.key_file": key})
        self.app.write_config(settings)
        os.chmod(self.app.config_path, 0o644)
        r = self.app.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(cert) as f:
            want = ssl.PEM_cert_to_DER_cert(f.read())

        def served():
            c = self._imaps()
            try:
                return c.sock.getpeercert(binary_form=True) == want
            finally:
                c.shutdown()
        harness.wait_until(served, 10, 0.1, "the new certificate")
        self.assertNotEqual(before, want)
        c = self._imaps()
        c.login("demo", "demo")
        c.logout()

    def test_admin_socket_admits_root_the_admin_group_and_nobody_else(self):
        sock = os.stat(self.app.admin_socket)
        self.assertEqual((sock.st_gid, sock.st_mode & 0o777), (self.nogroup, 0o660))

        def ctl(uid, gid, groups=()):
            return subprocess.run([harness.CTL, "--socket", self.app.admin_socket, "status"], capture_output=True,
                                  text=True, timeout=20, preexec_fn=as_user(uid, gid, groups))

        self.assertEqual(self.app.ctl("status").returncode, 0)  # root
        r = ctl(self.bin.pw_uid, self.nogroup)  # primary group = admin_group
        self.assertEqual(r.returncode, 0, r.stderr)
        r = ctl(self.sys.pw_uid, self.sys.pw_gid, [self.nogroup])  # supplementary group
        self.assertEqual(r.returncode, 0, r.stderr)
        # The workers' user shares the group, but the master refuses it by its uid.
        r = ctl(self.nobody.pw_uid, self.nogroup)
        self.assertEqual(r.returncode, 1)
        self.assertIn("posternctl: permission denied: this user may not use the Postern admin socket", r.stderr)
        with open(self.app.log_path) as f:
            self.assertIn("admin socket: caller refused", f.read())
        # Everyone else cannot even connect; posternctl says why.
        r = ctl(self.sys.pw_uid, self.sys.pw_gid)
        self.assertEqual(r.returncode, 1)
        self.assertIn("posternctl: permission denied on %s" % self.app.admin_socket, r.stderr)


class MissingAccount(unittest.TestCase):
    def test_root_with_a_missing_user_refuses_to_start(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        tmp = tempfile.mkdtemp(prefix="pst-", dir="/tmp")
        conf = os.path.join(tmp, "postern.conf")
        with open(conf, "w") as f:
            f.write("data_dir = %s/d\nuser = no-such-user-h3\n" % tmp)
            for k in ("imap", "pop3", "lmtp", "imaps", "pop3s"):
                f.write("%s.listen = 127.0.0.1:0\n" % k)
        r = subprocess.run([harness.MASTER, "--config", conf], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("the user 'no-such-user-h3' (user) does not exist", r.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main()
