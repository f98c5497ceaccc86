"""The installed tree: `meson install` into a DESTDIR, then check the layout, the man
pages, the systemd unit (systemd-analyze verify) and the SysV script (start, status,
reload, stop on loopback port 0, run against the installed tree via POSTERN_ROOT).

The build directory comes from $POSTERN_BUILD (set by meson), else ../../build. It
must be built: the install runs with --no-rebuild. Only python3's standard library.

With POSTERN_DEB=path/to/postern_*.deb the same checks run on the package's
contents (dpkg -x into a temporary root, Debian paths) instead of meson install:

    POSTERN_DEB=../postern_0.1.0-1_amd64.deb python3 tests/install/test_install.py
"""
import gzip

import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("POSTERN_BUILD") or os.path.join(SOURCE, "build")
DEB = os.environ.get("POSTERN_DEB")
TIMEOUT = 20


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(cmd, **kw)


def read(path):
    with open(path) as f:
        return f.read()


def build_options():
    out = run(["meson", "introspect", "--buildoptions", BUILD], check=True).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


def under(prefix, d):
    return d if os.path.isabs(d) else os.path.join(prefix, d)


class InstallTree(unittest.TestCase):
    """One `meson install --destdir` for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-install-")
        os.chmod(cls.tmp, 0o755)  # the SysV test may run the master as another user
        cls.dest = os.path.join(cls.tmp, "root")
        if DEB:
            r = run(["dpkg-deb", "-x", DEB, cls.dest])
            if r.returncode != 0:
                raise AssertionError("dpkg-deb -x failed:\n%s%s" % (r.stdout, r.stderr))
            os.chmod(cls.dest, 0o755)
            o = {"prefix": "/usr", "sbindir": "sbin", "bindir": "bin", "libexecdir": "libexec",
                 "sysconfdir": "/etc", "mandir": "share/man", "datadir": "share", "localstatedir": "/var"}
            cls.installed = []
            for d, _, files in os.walk(cls.dest):
                for f in files:
                    cls.installed.append(os.path.join(d, f)[len(cls.dest):])
        else:
            r = run(["meson", "install", "--destdir", cls.dest, "--no-rebuild", "-C", BUILD])
            if r.returncode != 0:
                raise AssertionError("meson install failed:\n%s%s" % (r.stdout, r.stderr))
            o = build_options()
            cls.installed = list(json.loads(
                run(["meson", "introspect", "--installed", BUILD], check=True).stdout).values())
        prefix = o["prefix"]
        cls.prefix = prefix
        cls.sbindir = under(prefix, o["sbindir"])
        cls.bindir = under(prefix, o["bindir"])
        cls.libexec = os.path.join(under(prefix, o["libexecdir"]), "postern")
        cls.sysconfdir = under(prefix, o["sysconfdir"])
        cls.mandir = under(prefix, o["mandir"])
        cls.datadir = under(prefix, o["datadir"])
        cls.localstatedir = under(prefix, o["localstatedir"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, p):
        return os.path.join(self.dest, p.lstrip("/"))

    def assertMode(self, p, mode, kind=stat.S_ISREG):
        full = self.path(p)
        self.assertTrue(os.path.lexists(full), "%s is not installed" % p)
        st = os.lstat(full)
        self.assertTrue(kind(st.st_mode), "%s: wrong file type" % p)
        self.assertEqual(stat.S_IMODE(st.st_mode), mode, "%s: mode %o, want %o" % (p, stat.S_IMODE(st.st_mode), mode))

    def installed_to(self, suffix):
        """Where meson installs the file whose destination ends with suffix (unit, sysusers...)."""
        hits = [d for d in self.installed if d.endswith(suffix)]
        self.assertEqual(len(hits), 1, "%s: installed as %r" % (suffix, hits))
        return hits[0]

    # ---- layout

    def test_binaries(self):
        self.assertMode(os.path.join(self.sbindir, "postern-master"), 0o755)
        self.assertMode(os.path.join(self.bindir, "posternctl"), 0o755)
        for kind in ("stored", "imapd", "pop3d", "lmtpd"):
            self.assertMode(os.path.join(self.libexec, "postern-" + kind), 0o755)
        with open(self.path(os.path.join(self.sbindir, "postern-master")), "rb") as f:
            self.assertEqual(f.read(4), b"\x7fELF")
        if self.prefix == "/usr":
            self.assertEqual(self.libexec, "/usr/libexec/postern")
            self.assertEqual(self.bindir, "/usr/bin")
            self.assertEqual(self.sbindir, "/usr/sbin")

    def test_config(self):
        etc = os.path.join(self.sysconfdir, "postern")
        self.assertMode(os.path.join(etc, "postern.conf"), 0o644)
        self.assertMode(os.path.join(etc, "conf.d"), 0o755, stat.S_ISDIR)
        self.assertMode(os.path.join(etc, "conf.d", "README"), 0o644)
        self.assertMode(os.path.join(self.sysconfdir, "default", "postern"), 0o644)
        # The shipped config is valid for the installed master.
        master = self.path(os.path.join(self.sbindir, "postern-master"))
        r = run([master, "--check-config", self.path(os.path.join(etc, "postern.conf"))])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        conf = read(self.path(os.path.join(etc, "postern.conf")))
        self.assertRegex(conf, r"(?m)^data_dir = /var/lib/postern$")
        self.assertRegex(conf, r"(?m)^run_dir = /run/postern$")

    def test_init_script(self):
        p = os.path.join(self.sysconfdir, "init.d", "postern")
        self.assertMode(p, 0o755)
        text = read(self.path(p))
        self.assertIn("### BEGIN INIT INFO", text)
        self.assertIn("### END INIT INFO", text)
        self.assertNotIn("@", re.sub(r"\$@|\"\$@\"", "", text), "unsubstituted @VAR@ in the init script")
        self.assertIn(os.path.join(self.sbindir, "postern-master"), text)
        for action in ("start)", "stop)", "restart)", "reload | force-reload)", "status)"):
            self.assertIn(action, text)
        r = run(["sh", "-n", self.path(p)])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_systemd_files(self):
        unit = self.installed_to("/systemd/system/postern.service")
        self.assertMode(unit, 0o644)
        text = read(self.path(unit))
        self.assertIn("ExecStart=%s --config %s" % (os.path.join(self.sbindir, "postern-master"),
                                                   os.path.join(self.sysconfdir, "postern", "postern.conf")), text)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", text)
        # The master starts as root and runs its children as postern / postern-worker.
        for line in ("ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes", "NoNewPrivileges=yes",
                     "CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_CHOWN CAP_FOWNER "
                     "CAP_DAC_OVERRIDE CAP_KILL",
                     "ReadWritePaths=/var/lib/postern /run/postern"):
            self.assertIn(line, text.splitlines())
        self.assertNotRegex(text, r"(?m)^(User|AmbientCapabilities)=")
        sysusers = self.installed_to("/sysusers.d/postern.conf")
        self.assertRegex(read(self.path(sysusers)), r"(?m)^u postern ")
        self.assertRegex(read(self.path(sysusers)), r"(?m)^u postern-worker -:postern ")
        tmpfiles = self.installed_to("/tmpfiles.d/postern.conf")
        t = read(self.path(tmpfiles))
        self.assertRegex(t, r"(?m)^d /run/postern +07[05]0 postern postern")
        self.assertRegex(t, r"(?m)^d /var/lib/postern +07[05]0 postern postern")

    def test_data_dir(self):
        if DEB:
            self.skipTest("the package leaves /var/lib/postern to postinst")
        self.assertMode(os.path.join(self.localstatedir, "lib", "postern"), 0o755, stat.S_ISDIR)

    def test_bash_completion(self):
        p = os.path.join(self.datadir, "bash-completion", "completions", "posternctl")
        self.assertMode(p, 0o644)
        if not shutil.which("bash"):
            self.skipTest("no bash")

        def complete(*words):
            script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
                      '_posternctl; printf "%s\\n" "${COMPREPLY[@]}"')
            r = run(["bash", "-c", script, "bash", self.path(p), *words])
            self.assertEqual(r.returncode, 0, r.stderr)
            return sorted(x for x in r.stdout.split("\n") if x)

        self.assertIn("user", complete("posternctl", ""))
        self.assertEqual(complete("posternctl", "us"), ["user"])
        self.assertEqual(complete("posternctl", "user", "p"), ["passwd"])
        self.assertEqual(complete("posternctl", "--json", "licence", "i"), ["install", "issue"])
        self.assertEqual(complete("posternctl", "who", "--protocol", "p"), ["pop3"])
        self.assertIn("--mailbox", complete("posternctl", "deliver", "demo", "--"))

    # ---- man pages

    def test_man_pages(self):
        gz = ".gz" if DEB else ""
        pages = ["man8/postern.8" + gz, "man5/postern.conf.5" + gz, "man8/posternctl.8" + gz]
        built = [d for d in self.installed if d.startswith(self.mandir)]
        if not built:
            if shutil.which("scdoc"):
                self.fail("scdoc is installed but the build has no man pages (reconfigure the build dir)")
            self.skipTest("scdoc not found at configure time: no man pages")
        for page in pages:
            p = os.path.join(self.mandir, page)
            self.assertMode(p, 0o644)
            if gz:
                with gzip.open(self.path(p), "rt") as f:
                    self.assertIn(".TH", f.read())
            else:
                self.assertIn(".TH", read(self.path(p)))
        self.assertEqual(os.readlink(self.path(os.path.join(self.mandir, "man8", "postern-master.8" + gz))),
                         "postern.8" + gz)
        if shutil.which("man"):
            r = run(["man", "-l", self.path(os.path.join(self.mandir, "man8", "posternctl.8" + gz))],
                    env=dict(os.environ, MANWIDTH="200", MAN_KEEP_FORMATTING="0", PAGER="cat"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("user passwd NAME", re.sub(".\b", "", r.stdout))  # no overstrike

    @staticmethod
    def plain_scdoc(text):
        """scdoc source without its markup: *bold*, _underline_ (not inside words), escapes."""
        text = text.replace("\\_", "\0u").replace("\\*", "\0s").replace("\\\\", "\0b")
        text = text.replace("*", "")
        text = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", "", text)
        text = text.replace("\0u", "_").replace("\0s", "*").replace("\0b", "\\")
        return " ".join(text.split())

    def test_posternctl_help_matches_man(self):
        """Every command line of `posternctl --help` is in posternctl(8)."""
        ctl = self.path(os.path.join(self.bindir, "posternctl"))
        r = run([ctl, "--help"])
        lines = []
        for line in (r.stdout + r.stderr).splitlines():
            if not line.strip():
                continue
            if line.startswith("        ") and lines:  # continuation of the previous command
                lines[-1] += " " + line.strip()
            else:
                lines.append(line.strip())
        self.assertGreater(len(lines), 10, r.stdout + r.stderr)
        man = self.plain_scdoc(read(os.path.join(SOURCE, "docs", "man", "posternctl.8.scd")))
        missing = []
        for line in lines:
            line = re.sub(r"^usage:\s*", "", line)
            line = re.sub(r"\s{2,}\(.*\)\s*$", "", line)  # the help's trailing (comments)
            line = " ".join(line.split())
            if line not in man:
                missing.append(line)
        self.assertEqual(missing, [], "posternctl --help lines missing from docs/man/posternctl.8.scd")

    def test_config_keys_in_man(self):
        """Every key of `postern-master --config-reference` is in postern.conf(5)."""
        master = self.path(os.path.join(self.sbindir, "postern-master"))
        ref = run([master, "--config-reference"], check=True).stdout
        keys = re.findall(r"^\| `([^`]+)` \|", ref, re.M)
        self.assertGreater(len(keys), 10)
        man = read(os.path.join(SOURCE, "docs", "man", "postern.conf.5.scd"))
        missing = [k for k in keys if "*%s*" % re.sub(r"([\\*_])", r"\\\1", k) not in man]
        self.assertEqual(missing, [], "keys missing from docs/man/postern.conf.5.scd: run "
                         "docs/man/update-keys.py %s/master/postern-master" % BUILD)

    # ---- systemd

    def test_systemd_analyze_verify(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze not found")
        unit = self.installed_to("/systemd/system/postern.service")
        # The unit names the installed paths; point them into the DESTDIR so
        # verify finds the binaries, and MANPATH so it finds Documentation=.
        text = read(self.path(unit)).replace(self.sbindir + "/", self.path(self.sbindir) + "/")
        d = os.path.join(self.tmp, "units")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "postern.service"), "w") as f:
            f.write(text)
        args = ["systemd-analyze", "verify"]
        if not [x for x in self.installed if x.startswith(self.mandir)]:
            args.append("--man=no")
        r = run(args + [os.path.join(d, "postern.service")],
                env=dict(os.environ, MANPATH=self.path(self.mandir), SYSTEMD_LOG_LEVEL="warning"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("postern.service", r.stdout + r.stderr)

    # ---- SysV init script against the installed tree

    def sysv_root(self, name, user="", imap_port=0):
        """A copy of the installed tree with a loopback, port 0 config; returns (root, script)."""
        root = os.path.join(self.tmp, name)
        shutil.copytree(self.dest, root, symlinks=True)
        master = os.path.join(root, self.sbindir.lstrip("/"), "postern-master")
        ref = run([master, "--config-reference"], check=True).stdout
        listen_keys = re.findall(r"^\| `([a-z0-9]+\.listen)` \|", ref, re.M)
        self.assertIn("imap.listen", listen_keys)
        conf = ["data_dir = %s/var/lib/postern" % root, "run_dir = %s/run/postern" % root,
                "demo_user = true", "log.target = stderr", "log.level = info",
                "imap.workers = 1", "pop3.workers = 1", "lmtp.workers = 1",
                "user ="]  # started as root: no postern accounts needed (every process stays root)
        conf += ["%s = 127.0.0.1:%d" % (k, imap_port if k == "imap.listen" else 0) for k in listen_keys]
        etc = os.path.join(root, self.sysconfdir.lstrip("/"))
        with open(os.path.join(etc, "postern", "postern.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")
        with open(os.path.join(etc, "default", "postern"), "w") as f:
            f.write("POSTERN_USER=%s\nPOSTERN_OUTPUT=%s/master.log\n" % (user, root))
        os.makedirs(os.path.join(root, "var", "lib", "postern"), exist_ok=True)
        return root, os.path.join(etc, "init.d", "postern")

    def script(self, root, script, action):
        return run(["sh", script, action], env=dict(os.environ, POSTERN_ROOT=root), timeout=60)

    def ports(self, root):
        out = {}
        with open(os.path.join(root, "run", "postern", "ports")) as f:
            for line in f:
                p = line.split()
                if len(p) >= 3:
                    out.setdefault(p[0], int(p[2]))
        return out

    def greeting(self, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            return s.recv(512).decode("latin-1")

    def log(self, root):
        try:
            with open(os.path.join(root, "master.log")) as f:
                return f.read()
        except OSError:
            return ""

    def wait_for(self, pred, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)

    def children_of(self, pid):
        kids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    kids.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
        return kids

    @staticmethod
    def read_pid(pidfile):
        with open(pidfile) as f:
            return int(f.read())

    @staticmethod
    def alive(pid):
        """True while pid runs (a zombie left to a non-reaping pid 1 does not count)."""
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def exercise_sysv(self, root, script, user=""):
        pidfile = os.path.join(root, "run", "postern", "postern-master.pid")
        r = self.script(root, script, "status")
        self.assertEqual(r.returncode, 3, "status before start: " + r.stdout + r.stderr)
        try:
            r = self.script(root, script, "start")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.log(root))
            self.wait_for(lambda: os.path.exists(os.path.join(root, "run", "postern", "ports")), "the ports file")
            pid = self.read_pid(pidfile)
            self.assertEqual(os.readlink("/proc/%d/exe" % pid),
                             os.path.join(root, self.sbindir.lstrip("/"), "postern-master"))
            if user:
                self.assertEqual(os.stat("/proc/%d" % pid).st_uid, pwd.getpwnam(user).pw_uid)
                self.assertLess(self.ports(root)["imap"], 1024)
            # The master starts stored and the workers from libexec/postern of the tree.
            self.wait_for(lambda: len(self.children_of(pid)) >= 4, "stored and three workers")
            libexec = os.path.join(root, self.libexec.lstrip("/"))
            for kid in self.children_of(pid):
                self.assertEqual(os.path.dirname(os.readlink("/proc/%d/exe" % kid)), libexec)

            ports = self.ports(root)
            self.assertTrue(self.greeting(ports["imap"]).startswith("* OK"))
            self.assertTrue(self.greeting(ports["pop3"]).startswith("+OK"))
            self.assertTrue(self.greeting(ports["lmtp"]).startswith("220"))

            r = self.script(root, script, "status")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("running", r.stdout + r.stderr)

            r = self.script(root, script, "start")  # already running: nothing to do
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(self.read_pid(pidfile), pid)

            for action in ("reload", "force-reload"):
                before = self.log(root).count("config reloaded")
                r = self.script(root, script, action)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.wait_for(lambda: self.log(root).count("config reloaded") > before, action + " in the log")
            self.assertEqual(self.read_pid(pidfile), pid)

            # A broken config: reload refuses it, the master keeps running.
            conf = os.path.join(root, self.sysconfdir.lstrip("/"), "postern", "postern.conf")
            good = read(conf)
            with open(conf, "a") as f:
                f.write("no.such.key = 1\n")
            r = self.script(root, script, "reload")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("no.such.key", r.stdout + r.stderr)
            with open(conf, "w") as f:
                f.write(good)

            r = self.script(root, script, "restart")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.log(root))
            # start-stop-daemon --stop returns once /proc/PID/exe no longer names the
            # daemon, which the kernel drops (exit_mm) a moment before the task is gone.
            self.wait_for(lambda: not self.alive(pid), "the old master gone after restart", timeout=5)
            pid = self.read_pid(pidfile)
            self.assertTrue(self.greeting(self.ports(root)["imap"]).startswith("* OK"))

            r = self.script(root, script, "stop")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.wait_for(lambda: not self.alive(pid), "the master gone after stop", timeout=5)
            self.assertFalse(os.path.exists(pidfile))
            self.assertIn("postern-master stopped", self.log(root))
            r = self.script(root, script, "status")
            self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            r = self.script(root, script, "stop")  # not running: still success
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            if os.path.exists(pidfile):
                try:
                    os.kill(self.read_pid(pidfile), 9)
                except (OSError, ValueError):
                    pass

    def test_sysv_script(self):
        if not shutil.which("start-stop-daemon"):
            self.skipTest("start-stop-daemon not found (not Debian)")
        root, script = self.sysv_root("sysv")
        self.exercise_sysv(root, script)

    def test_sysv_script_drops_to_user(self):
        """As root with POSTERN_USER set, the master runs as that user and still binds."""
        if not shutil.which("start-stop-daemon") or not shutil.which("setpriv"):
            self.skipTest("start-stop-daemon or setpriv not found")
        if os.geteuid() != 0:
            self.skipTest("needs root")
        user = "nobody"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            self.skipTest("no user nobody")
        # A free port below 1024: binding it needs the CAP_NET_BIND_SERVICE the script keeps.
        low = None
        for port in range(900, 1000):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                    low = port
                    break
                except OSError:
                    continue
        if low is None:
            self.skipTest("no free port in 900-999")
        root, script = self.sysv_root("sysv-user", user, low)
        os.chown(os.path.join(root, "var", "lib", "postern"), pw.pw_uid, pw.pw_gid)
        with open(os.path.join(root, "master.log"), "w"):
            pass
        os.chmod(os.path.join(root, "master.log"), 0o666)
        self.exercise_sysv(root, script, user)


if __name__ == "__main__":
    unittest.main(verbosity=2)
