"""Starts Debian's Dovecot from one self-contained config in a temp dir, for bench/run.py.

    d = Dovecot(users={"alice": "pw"}); d.start(); ... d.stop()

Maildir under <tmp>/home/USER/Maildir, its default fsync behaviour (mail_fsync = optimized),
passwd-file users (hashed with `doveadm pw`'s default scheme), listening on 127.0.0.1 only
on free ports, logging to <tmp>/dovecot.log, no system config read (dovecot -c <ours>).
Run as root, Dovecot's mail processes cannot run as root: they run as `nobody` and the login
and internal processes as the Debian package's dovenull / dovecot users. Run as another
user, every process runs as that user. Every wait is bounded.
"""

import contextlib
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
PACKAGES = "dovecot-imapd dovecot-pop3d dovecot-lmtpd"
NEEDED = [DOVECOT, DOVEADM, "/usr/lib/dovecot/imap", "/usr/lib/dovecot/pop3",
          "/usr/lib/dovecot/lmtp"]


def missing():
    """Binaries of the Debian packages that are not installed (empty: all there)."""
    return [p for p in NEEDED if not os.access(p, os.X_OK)]


def install_hint():
    return ("Dovecot is not installed. On Debian: apt-get install -y %s\n"
            "then stop the system service so it does not hold 143/110 (the bench starts its "
            "own instance):\n  systemctl disable --now dovecot   (or: service dovecot stop; "
            "update-rc.d dovecot disable)" % PACKAGES)


def version():
    try:
        return subprocess.run([DOVECOT, "--version"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except OSError:
        return "?"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hash_password(password):
    r = subprocess.run([DOVEADM, "-c", "/dev/null", "pw", "-p", password], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0 or not r.stdout.startswith("{"):
        # doveadm pw without a config: fall back to the explicit default scheme
        r = subprocess.run([DOVEADM, "pw", "-s", "CRYPT", "-p", password], capture_output=True,
                           text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("doveadm pw failed: %s" % r.stderr)
    return r.stdout.strip()


class Dovecot:
    def __init__(self, max_connections=2000):
        self.max_connections = max_connections
        self.proc = None
        self.tmp = None
        self.users = {}
        self.pw_cache = {}

    # --- life cycle -----------------------------------------------------------------------
    def start(self, timeout=20):
        if missing():
            raise RuntimeError(install_hint())
        self.tmp = tempfile.mkdtemp(prefix="bench-dovecot-", dir="/tmp")
        os.chmod(self.tmp, 0o755)
        for d in ("run", "state", "home"):
            os.makedirs(os.path.join(self.tmp, d))
            os.chmod(os.path.join(self.tmp, d), 0o755)
        self.imap_port, self.imaps_port = free_port(), free_port()
        self.pop3_port, self.lmtp_port = free_port(), free_port()
        self.cert, self.key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
                        "/CN=localhost", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True, timeout=30)
        os.chmod(self.key, 0o644)
        self.passwd = os.path.join(self.tmp, "users")
        open(self.passwd, "w").close()
        os.chmod(self.passwd, 0o644)
        self.config = os.path.join(self.tmp, "dovecot.conf")
        # Process titles read "dovecot-<instance>/imap": unique per instance, to find ours.
        self.instance = "bench-%d-%s" % (os.getpid(), os.path.basename(self.tmp)[-8:])
        with open(self.config, "w") as f:
            f.write(self._config_text())
        self.log_path = os.path.join(self.tmp, "dovecot.log")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.config], cwd=self.tmp,
                                     stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.tmp, "stdout.log"), "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        for port, prefix in ((self.imap_port, b"* OK"), (self.pop3_port, b"+OK"),
                             (self.lmtp_port, b"220")):
            while not self._greets(port, prefix):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    out = self.tail()
                    self.kill()
                    raise RuntimeError("Dovecot did not start:\n" + out)
                time.sleep(0.05)
        return self

    def _ids(self):
        """(mail uid, mail gid, login user, internal user)."""
        if os.geteuid() == 0:
            def have(name):
                try:
                    pwd.getpwnam(name)
                    return True
                except KeyError:
                    return False
            nobody = pwd.getpwnam("nobody")
            return (nobody.pw_uid, nobody.pw_gid, "dovenull" if have("dovenull") else "nobody",
                    "dovecot" if have("dovecot") else "nobody")
        me = pwd.getpwuid(os.geteuid()).pw_name
        return os.geteuid(), os.getegid(), me, me

    def _config_text(self):
        uid, gid, login_user, internal_user = self._ids()
        self.mail_uid, self.mail_gid = uid, gid
        group = grp.getgrgid(os.getegid()).gr_name
        n = self.max_connections
        return """# written by bench/dovecot.py: a self-contained benchmark instance
protocols = imap pop3 lmtp
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
instance_name = {instance}
log_path = {tmp}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
passdb {{
  driver = passwd-file
  args = {passwd}
}}
userdb {{
  driver = passwd-file
  args = {passwd}
  default_fields = uid={uid} gid={gid} home={tmp}/home/%n
}}
mail_location = maildir:~/Maildir
first_valid_uid = {uid}
postmaster_address = postmaster@bench.example
hostname = bench.example
# Capacity for the workloads (defaults would refuse them): process and client limits,
# connections per user and IP.
default_process_limit = {nproc}
default_client_limit = {nclient}
default_vsz_limit = 512M
protocol imap {{
  mail_max_userip_connections = {n}
}}
protocol pop3 {{
  mail_max_userip_connections = {n}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service imap {{
  process_limit = {nproc}
}}
service anvil {{
  client_limit = {nclient}
}}
service auth {{
  client_limit = {nclient}
}}
""".format(tmp=self.tmp, instance=self.instance, login_user=login_user, internal_user=internal_user,
           internal_group=grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name
           if internal_user != pwd.getpwuid(os.geteuid()).pw_name else group,
           cert=self.cert, key=self.key, passwd=self.passwd, uid=uid, gid=gid,
           nproc=n + 200, nclient=4 * n + 1000, n=n, imap=self.imap_port,
           imaps=self.imaps_port, pop3=self.pop3_port, lmtp=self.lmtp_port)

    @staticmethod
    def _greets(port, prefix):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(1024)
                    if not chunk:
                        return False
                    data += chunk
                return data.startswith(prefix)
        except OSError:
            return False

    def add_users(self, names, password):
        """Adds users (passwd-file is re-read by auth on change) with their home dirs."""
        if password not in self.pw_cache:
            self.pw_cache[password] = hash_password(password)
        lines = []
        for name in names:
            if name in self.users:
                continue
            self.users[name] = password
            home = os.path.join(self.tmp, "home", name)
            os.makedirs(home, exist_ok=True)
            os.chown(home, self.mail_uid, self.mail_gid)
            lines.append("%s:%s::::%s\n" % (name, self.pw_cache[password], home))
        with open(self.passwd, "a") as f:
            f.writelines(lines)

    def fill_maildir(self, user, loadgen, seed, first, count, timeout=1800):
        """Writes messages [first, first+count) of the generated set straight into the user's
        maildir (as LMTP would leave them, with Return-Path and Delivered-To added), then
        lets Dovecot index them with one untimed SELECT. For big mailboxes only: LMTP into a
        growing maildir slows down far below the rate the deliver workload measures."""
        cur = os.path.join(self.tmp, "home", user, "Maildir", "cur")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.tmp, "home", user, "Maildir", d), exist_ok=True)
        subprocess.run([loadgen, "generate", "--maildir", cur, "--seed", str(seed),
                        "--first", str(first), "--messages", str(count),
                        "--user", user], check=True, timeout=timeout)
        for root, dirs, files in os.walk(os.path.join(self.tmp, "home", user)):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), self.mail_uid, self.mail_gid)
        os.lchown(os.path.join(self.tmp, "home", user), self.mail_uid, self.mail_gid)
        import imaplib
        c = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=timeout)
        c.login(user, self.users[user])
        typ, data = c.select("INBOX")
        c.logout()
        if typ != "OK" or int(data[0]) != count:
            raise RuntimeError("maildir fill: SELECT says %r, want %d" % (data, count))

    def pids(self):
        """The master and every process below it."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        children = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d, "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
        out, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(children.get(p, []))
        return out

    def tail(self, lines=40):
        text = ""
        for name in ("stdout.log", "dovecot.log"):
            with contextlib.suppress(OSError):
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    text += "".join(f.readlines()[-lines:])
        return text

    def du(self):
        total = 0
        for r, _, fs in os.walk(os.path.join(self.tmp, "home")):
            for f in fs:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(r, f)).st_blocks * 512
        return total

    def stop(self, timeout=20, keep=False):
        self.known = set(self.pids()) | getattr(self, "known", set())
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.kill()
        if self.tmp and not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def kill(self):
        """SIGKILL to every process of this instance still alive: the master's process group
        and whatever was seen below the master (auxiliary processes outlive a dead master),
        checked by the instance name in their command line before each kill."""
        if self.proc is None:
            return
        left = set(self.pids()) | getattr(self, "known", set())
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for p in left:
            try:
                with open("/proc/%d/cmdline" % p, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if self.instance.encode() in cmd or self.config.encode() in cmd:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
