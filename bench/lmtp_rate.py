#!/usr/bin/env python3
"""LMTP delivery rate: 5,000 realistic messages over 4 concurrent LMTP sessions into one
INBOX of a fresh appliance (started via tests/integration/harness.py). Prints msg/s.

    python3 bench/lmtp_rate.py [--messages 5000] [--sessions 4] [--seed 1] [--keep]

Messages are generated deterministically (seeded): 2-50 KB, realistic headers, about a
third multipart/alternative or with a base64 attachment. Each message is one LMTP
transaction with one recipient; the clock runs from the first MAIL FROM to the last 250.
"""

import argparse
import base64
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from "
         "at which but have an they you were her she there been one all we their has would "
         "when if so no out up into do any your what has more about time can only other new "
         "some could these two may then first than been its over like only also after use "
         "meeting report invoice project schedule budget release deploy review server mail "
         "quarter customer support ticket update draft attached please thanks regards").split()
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
DOMAINS = ["example.org", "example.com", "mail.example.net", "corp.example"]


def paragraph(rng, nbytes):
    out, line, size, width = [], [], 0, 0
    choice = rng.choice
    while size < nbytes:
        w = choice(WORDS)
        line.append(w)
        size += len(w) + 1
        width += len(w) + 1
        if width > 70:
            out.append(" ".join(line))
            line, width = [], 0
    if line:
        out.append(" ".join(line))
    return "\r\n".join(out) + "\r\n"


def make(rng, i):
    size = rng.randint(2 * 1024, 50 * 1024)
    sender = "%s@%s" % (rng.choice(NAMES), rng.choice(DOMAINS))
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
    hdr = (
        "Return-Path: <%s>\r\n"
        "Received: from mx%d.%s (mx%d.%s [192.0.2.%d]) by mail.example.org with ESMTPS id %08X\r\n"
        "\tfor <demo@example.org>; Mon, 01 Jan 2024 %02d:%02d:%02d +0000\r\n"
        "From: %s <%s>\r\nTo: Demo <demo@example.org>\r\nSubject: %s\r\n"
        "Date: Mon, 01 Jan 2024 %02d:%02d:%02d +0000\r\nMessage-ID: <%d.%08x@%s>\r\n"
        "MIME-Version: 1.0\r\n"
        % (sender, i % 4, DOMAINS[i % 4], i % 4, DOMAINS[i % 4], i % 250 + 1, rng.getrandbits(32),
           i % 24, i % 60, (i * 7) % 60, sender.split("@")[0].title(), sender, subject,
           i % 24, i % 60, (i * 7) % 60, i, rng.getrandbits(32), rng.choice(DOMAINS)))
    kind = rng.random()
    if kind < 0.66:
        body = paragraph(rng, size)
        return (hdr + "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n" + body).encode()
    boundary = "=_b%08x" % rng.getrandbits(32)
    if kind < 0.85:
        text = paragraph(rng, size // 2)
        html = "<html><body><p>" + paragraph(rng, size // 2).replace("\r\n", "</p>\r\n<p>") + \
               "</p></body></html>\r\n"
        parts = [("text/plain; charset=utf-8", text), ("text/html; charset=utf-8", html)]
        ctype = "multipart/alternative"
    else:
        text = paragraph(rng, 1024)
        blob = rng.randbytes(max(512, (size - 1024) * 3 // 4))
        att = base64.encodebytes(blob).decode().replace("\n", "\r\n")
        parts = [("text/plain; charset=utf-8", text),
                 ("application/pdf; name=\"report-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"
                  "Content-Disposition: attachment; filename=\"report-%d.pdf\"" % (i, i), att)]
        ctype = "multipart/mixed"
    out = hdr + 'Content-Type: %s; boundary="%s"\r\n\r\nThis is a multi-part message.\r\n' % (
        ctype, boundary)
    for ct, content in parts:
        out += "--%s\r\nContent-Type: %s\r\n\r\n%s" % (boundary, ct, content)
    out += "--%s--\r\n" % boundary
    return out.encode()


def worker(app, msgs, errors, counter, lock):
    try:
        c = app.lmtp()
        for m in msgs:
            refused = c.sendmail("bench@example.org", ["demo"], m)
            if refused:
                raise RuntimeError("refused: %r" % (refused,))
            with lock:
                counter[0] += 1
        c.quit()
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        errors.append(e)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=0, help="lmtp.workers (0 = one per core)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    t = time.monotonic()
    msgs = [make(rng, i) for i in range(args.messages)]
    total = sum(len(m) for m in msgs)
    print("generated %d messages, %.1f MB, %.0f KB average (seed %d) in %.1fs"
          % (len(msgs), total / 1e6, total / len(msgs) / 1024, args.seed, time.monotonic() - t))

    if args.keep:
        os.environ["POSTERN_KEEP_TMP"] = "1"
    app = harness.Appliance(lmtp_workers=args.workers, imap_workers=1, pop3_workers=1,
                            log_level="warn")
    app.start()
    try:
        shares = [msgs[i::args.sessions] for i in range(args.sessions)]
        errors, counter, lock = [], [0], threading.Lock()
        threads = [threading.Thread(target=worker, args=(app, s, errors, counter, lock))
                   for s in shares]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.monotonic() - t0
        if errors:
            raise SystemExit("delivery failed after %d messages: %r" % (counter[0], errors[0]))
        imap = app.imap()
        n = int(imap.select("INBOX")[1][0])
        imap.logout()
        if n != len(msgs):
            raise SystemExit("INBOX has %d messages, want %d" % (n, len(msgs)))
        print("delivered %d messages (%.1f MB) over %d LMTP sessions in %.2fs"
              % (len(msgs), total / 1e6, args.sessions, elapsed))
        print("%.0f msg/s, %.1f MB/s" % (len(msgs) / elapsed, total / 1e6 / elapsed))
        du = sum(os.stat(os.path.join(r, f)).st_blocks * 512 for r, _, fs in os.walk(app.data_dir)
                 for f in fs if os.path.isfile(os.path.join(r, f)))
        print("data dir %.1f MB (%.2fx the message bytes)" % (du / 1e6, du / total))
    except BaseException:
        app.failed = True
        app.dump_log()
        app.kill()
        raise
    app.stop()


if __name__ == "__main__":
    main()
