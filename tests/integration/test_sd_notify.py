#!/usr/bin/env python3
"""systemd notification (Type=notify): READY=1 only once stored and every worker are up,
STATUS= with the counts, RELOADING=1 then READY=1 around a reload, STOPPING=1 at SIGTERM."""

import os
import signal
import socket
import subprocess
import tempfile
import unittest

import harness


class SdNotify(unittest.TestCase):
    def test_ready_status_reload_stop(self):
        d = tempfile.mkdtemp(prefix="/tmp/psn-")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = os.path.join(d, "notify")
        sock.bind(path)
        sock.settimeout(harness.TIMEOUT)
        conf = os.path.join(d, "postern.conf")
        with open(conf, "w") as f:
            f.write("data_dir = %s/data\n" % d)
            for k in ("imap", "pop3", "lmtp", "imaps", "pop3s"):
                f.write("%s.listen = 127.0.0.1:0\n" % k)
            f.write("imap.workers = 1\npop3.workers = 1\nlmtp.workers = 1\n")
            f.write("user =\n")  # as root (CI): no postern accounts needed
        env = dict(os.environ, NOTIFY_SOCKET=path)
        log = open(os.path.join(d, "master.log"), "w")
        p = subprocess.Popen([harness.MASTER, "--config", conf], env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            self.assertEqual(sock.recv(200), b"READY=1")
            # READY only once every worker reported ready: a login works at once.
            ports = {}
            with open(os.path.join(d, "data", "run", "ports")) as f:
                for line in f:
                    parts = line.split()
                    ports[parts[0]] = int(parts[2])
            c = harness.RawImap(ports["imap"])
            c.login()
            c.close()
            status = sock.recv(200)
            self.assertTrue(status.startswith(b"STATUS="), status)
            self.assertIn(b"connections", status)
            p.send_signal(signal.SIGHUP)
            self.assertEqual(sock.recv(200), b"RELOADING=1")
            msg = sock.recv(200)
            while msg.startswith(b"STATUS="):
                msg = sock.recv(200)
            self.assertEqual(msg, b"READY=1")
            p.send_signal(signal.SIGTERM)
            msg = sock.recv(200)
            while msg.startswith(b"STATUS="):
                msg = sock.recv(200)
            self.assertEqual(msg, b"STOPPING=1")
            self.assertEqual(p.wait(timeout=15), 0)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            sock.close()
            log.close()


if __name__ == "__main__":
    unittest.main()
