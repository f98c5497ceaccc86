"""The Debian package, end to end: `dpkg-buildpackage -us -uc -b` builds postern_*.deb from
a copy of the source tree; test_install.py checks its contents (POSTERN_DEB mode); then dpkg
installs it into an empty root (`dpkg --root`, maintainer scripts run chrootless with
DPKG_ROOT), which must create the postern account and the data and log directories in that
root and nothing on this host; the appliance starts from the installed files on loopback
ports and serves IMAP, POP3 and LMTP; a reinstall (upgrade) keeps a changed configuration and
the mail store; purge removes the configuration and keeps the mail store.

The package build compiles everything again (minutes), so this runs in CI (CI=true) or with
POSTERN_TEST_DEB=1, and is skipped (exit 77) otherwise. POSTERN_DEB=path uses a built package
instead of building one. Needs root (dpkg --root writes files owned by postern).
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
SKIP = 77
BUILD_TIMEOUT = 40 * 60


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(cmd, **kw)


def copy_source(dest):
    """The tracked and untracked-but-not-ignored files of the checkout (never build/)."""
    r = run(["git", "-C", SOURCE, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    if r.returncode != 0:
        shutil.copytree(SOURCE, dest, ignore=shutil.ignore_patterns("build", "obj-*", ".git"))
        return
    for rel in filter(None, r.stdout.split("\0")):
        src = os.path.join(SOURCE, rel)
        if not os.path.lexists(src):  # deleted in the work tree
            continue
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)


def build_deb(tmp):
    src = os.path.join(tmp, "src", "postern")
    copy_source(src)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=%d" % (os.cpu_count() or 2))
    log = os.path.join(tmp, "dpkg-buildpackage.log")
    with open(log, "w") as f:
        r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, stdout=f,
                           stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT)
    if r.returncode != 0:
        with open(log) as f:
            tail = f.read()[-6000:]
        raise AssertionError("dpkg-buildpackage failed (%d):\n%s" % (r.returncode, tail))
    debs = glob.glob(os.path.join(tmp, "src", "postern_*.deb"))
    if len(debs) != 1:
        raise AssertionError("expected one postern_*.deb, found %r" % debs)
    return debs[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_line(port, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
        return data.decode("latin-1")


class DebPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-deb-")
        os.chmod(cls.tmp, 0o755)
        cls.deb = os.environ.get("POSTERN_DEB") or build_deb(cls.tmp)
        cls.root = os.path.join(cls.tmp, "root")
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"):
            os.makedirs(os.path.join(cls.root, d), exist_ok=True)
        open(os.path.join(cls.root, "var/lib/dpkg/status"), "w").close()
        with open("/etc/passwd") as f:
            cls.host_passwd = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def dpkg(self, *args, env=None):
        # --force-depends: the empty root has no libraries registered (they are the
        # host's); --force-script-chrootless: maintainer scripts run here with DPKG_ROOT.
        cmd = ["dpkg", "--root=" + self.root, "--force-script-chrootless", "--force-depends",
               "--log=" + os.path.join(self.tmp, "dpkg.log")] + list(args)
        return run(cmd, env=dict(os.environ, **(env or {})))

    def p(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def account(self, name, db="passwd"):
        with open(self.p("/etc/" + db)) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if fields[0] == name:
                    return fields
        return None

    def test_1_package_contents(self):
        """test_install.py's layout, man page, unit and SysV checks on the package's files."""
        r = run([sys.executable, os.path.join(HERE, "test_install.py")],
                env=dict(os.environ, POSTERN_DEB=self.deb), timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-4000:] + r.stderr[-4000:])

    def test_2_install_start_upgrade_purge(self):
        r = self.dpkg("-i", self.deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        st = run(["dpkg-query", "--root=" + self.root, "-W", "-f=${db:Status-Abbrev}", "postern"])
        self.assertEqual(st.stdout.strip(), "ii", st.stdout + st.stderr)

        # postinst made the account and the directories in the root, not on this host.
        user = self.account("postern")
        self.assertIsNotNone(user, "postinst did not create the postern user in the root")
        self.assertIsNotNone(self.account("postern", "group"))
        with open("/etc/passwd") as f:
            self.assertEqual(f.read(), self.host_passwd, "the host's /etc/passwd was changed")
        uid, gid = int(user[2]), int(user[3])
        for d in ("/var/lib/postern", "/var/log/postern"):
            s = os.stat(self.p(d))
            self.assertEqual((s.st_uid, s.st_gid), (uid, gid), d)
            self.assertEqual(s.st_mode & 0o777, 0o750, d)
        for f in ("/usr/sbin/postern-master", "/usr/bin/posternctl", "/usr/libexec/postern/postern-imapd",
                  "/etc/postern/postern.conf", "/etc/init.d/postern"):
            self.assertTrue(os.path.exists(self.p(f)), f)

        # The installed appliance starts and serves, from the root's files, on loopback.
        conf = self.p("/etc/postern/conf.d/50-test.conf")
        ports = {k: free_port() for k in ("imap", "pop3", "lmtp")}
        with open(conf, "w") as f:
            f.write("data_dir = %s\nrun_dir = %s\n" % (self.p("/var/lib/postern"), self.p("/run/postern")))
            for k in ("imap", "pop3", "lmtp"):
                f.write("%s.listen = 127.0.0.1:%d\n" % (k, ports[k]))
            f.write("imaps.listen =\npop3s.listen =\n")
            f.write("imap.workers = 1\npop3.workers = 1\nlmtp.workers = 1\ndemo_user = true\n")
            f.write("log.target = file\nlog.file = %s\n" % self.p("/var/log/postern/postern.log"))
            # The account exists in the root only: run as the current user.
            ref = run([self.p("/usr/sbin/postern-master"), "--config-reference"]).stdout
            if "| `user` |" in ref:
                f.write("user =\n")
        errlog = open(os.path.join(self.tmp, "master.stderr"), "w+")
        master = subprocess.Popen([self.p("/usr/sbin/postern-master"), "--config",
                                   self.p("/etc/postern/postern.conf")],
                                  stdout=subprocess.DEVNULL, stderr=errlog,
                                  start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            greetings = {}
            while time.monotonic() < deadline and len(greetings) < 3:
                if master.poll() is not None:
                    errlog.seek(0)
                    self.fail("postern-master exited with %s: %s" % (master.returncode, errlog.read()))
                for k, port in ports.items():
                    if k not in greetings:
                        try:
                            greetings[k] = read_line(port)
                        except OSError:
                            pass
                time.sleep(0.1)
            self.assertTrue(greetings.get("imap", "").startswith("* OK"), greetings)
            self.assertTrue(greetings.get("pop3", "").startswith("+OK"), greetings)
            self.assertTrue(greetings.get("lmtp", "").startswith("220"), greetings)
            r = run([self.p("/usr/bin/posternctl"), "--socket", self.p("/run/postern/admin.sock"), "status"])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(self.p("/var/log/postern/postern.log")) as f:
                log = f.read()
            self.assertIn("master[", log)
            self.assertIn("imapd", log)
        finally:
            errlog.close()
            try:
                os.killpg(master.pid, 15)
                master.wait(20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(master.pid, 9)
                master.wait(5)
        self.assertTrue(os.listdir(self.p("/var/lib/postern")), "no mail store was created")

        # Upgrade (the same version again): the administrator's config and the store stay.
        with open(self.p("/etc/postern/postern.conf"), "a") as f:
            f.write("# changed by the administrator\n")
        r = self.dpkg("-i", self.deb, env={"DEBIAN_FRONTEND": "noninteractive"})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(self.p("/etc/postern/postern.conf")) as f:
            self.assertIn("# changed by the administrator", f.read())
        self.assertTrue(os.path.exists(conf))
        self.assertTrue(os.listdir(self.p("/var/lib/postern")))

        # Purge: configuration and logs go, the mail store stays.
        r = self.dpkg("--purge", "postern")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(self.p("/etc/postern")))
        self.assertFalse(os.path.exists(self.p("/usr/sbin/postern-master")))
        self.assertFalse(os.path.exists(self.p("/var/log/postern")))
        self.assertTrue(os.listdir(self.p("/var/lib/postern")), "purge removed the mail store")
        self.assertIn("was kept", r.stdout + r.stderr)


def main():
    if os.environ.get("POSTERN_DEB") is None and os.environ.get("CI") != "true" \
            and os.environ.get("POSTERN_TEST_DEB") != "1":
        print("skipped: set POSTERN_TEST_DEB=1 (CI does) to build and install the package")
        sys.exit(SKIP)
    if os.geteuid() != 0:
        print("skipped: installing with dpkg --root needs root")
        sys.exit(SKIP)
    for tool in ("dpkg-buildpackage", "dpkg", "systemd-sysusers"):
        if shutil.which(tool) is None and not (tool == "dpkg-buildpackage" and os.environ.get("POSTERN_DEB")):
            print("%s is missing (tools/lib.sh installs it)" % tool)
            sys.exit(1)
    prog = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() and prog.result.testsRun > 0 else 1)


if __name__ == "__main__":
    main()
