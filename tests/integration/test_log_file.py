#!/usr/bin/env python3
"""log.target = file: master, stored and every worker append to one file; the master
rotates it by size (log.file_max_size, log.file_keep) and the workers follow the rename,
so every session's lines are in the live file or a rotated one, none lost or torn."""

import glob
import os
import re
import time
import unittest

import harness

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+)\[\d+\] (debug|info|warn|error) ")


class LogFile(unittest.TestCase):
    def setUp(self):
        self.app = harness.Appliance()
        # The file goes in the appliance's temp dir, known once it started: switch
        # every process over to it with a restart on the new config.
        self.app.start()
        self.path = os.path.join(self.app.tmp, "logs", "postern.log")
        os.makedirs(os.path.dirname(self.path))
        self.app.settings.update({"log.target": "file", "log.file": self.path,
                                  "log.file_max_size": "5000", "log.file_keep": "100"})
        self.app.write_config()
        self.app.restart()

    def tearDown(self):
        self.app.stop()

    def files(self):
        return [self.path] + sorted(glob.glob(self.path + ".*"))

    def all_lines(self):
        lines = []
        for p in self.files():
            with open(p, errors="replace") as f:
                lines += f.read().splitlines()
        return lines

    @staticmethod
    def logged_out(line):
        """The disconnect line of one of our sessions (not the harness's greeting probes)."""
        return "imapd" in line and "user=demo" in line and line.endswith(" disconnect")

    def session(self):
        c = harness.RawImap(self.app.imap_port)
        c.login()
        c.command("LOGOUT")
        c.close()

    def test_every_process_logs_to_the_file_and_rotation_loses_nothing(self):
        for _ in range(60):  # each logs connect/login/disconnect: several times 5,000 octets
            self.session()
        harness.wait_until(lambda: os.path.exists(self.path + ".2"), 10, 0.1, "two rotated log files")
        harness.wait_until(lambda: sum(self.logged_out(l) for l in self.all_lines()) >= 60,
                           10, 0.1, "60 imapd disconnect lines")
        lines = self.all_lines()
        procs = set()
        for line in lines:
            m = LINE.match(line)
            self.assertIsNotNone(m, "a torn or foreign line: %r" % line)
            procs.add(m.group(1))
        self.assertIn("master", procs)
        self.assertIn("stored", procs)
        self.assertTrue(any(p.startswith("imapd") for p in procs), procs)
        self.assertTrue(any(p.startswith("pop3d") for p in procs), procs)
        # Exactly one disconnect line per session: none lost, none written twice.
        self.assertEqual(sum(self.logged_out(l) for l in lines), 60)
        # The master rotated by size: every rotated file passed the limit.
        for p in self.files()[1:]:
            self.assertGreaterEqual(os.path.getsize(p), 5000, p)

    def test_processes_follow_a_logrotate_rename(self):
        os.rename(self.path, self.path + ".old")
        time.sleep(1.2)  # each process compares the path with its open file once a second
        self.session()
        harness.wait_until(lambda: os.path.exists(self.path) and "disconnect" in open(self.path).read(),
                           10, 0.1, "imapd's lines in the reopened file")
        with open(self.path) as f:
            self.assertRegex(f.read(), r"imapd\S*\[\d+\] info .*disconnect")


if __name__ == "__main__":
    harness.main()
