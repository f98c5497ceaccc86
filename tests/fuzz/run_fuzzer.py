#!/usr/bin/env python3
"""Runs one libFuzzer target for a bounded time on a scratch copy of its seed corpus,
so new units never land in the source tree; a crash input is kept and printed as hex.

    run_fuzzer.py FUZZER CORPUS_DIR SECONDS
"""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    fuzzer, corpus, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    work = tempfile.mkdtemp(prefix="postern-fuzz-")
    try:
        scratch = os.path.join(work, "corpus")
        shutil.copytree(corpus, scratch)
        artifacts = os.path.join(work, "artifacts") + "/"
        os.makedirs(artifacts)
        cmd = [fuzzer, "-max_total_time=%d" % seconds, "-max_len=4096", "-timeout=10",
               "-malloc_limit_mb=32", "-rss_limit_mb=2048", "-print_final_stats=1",
               "-artifact_prefix=" + artifacts, scratch]
        print(" ".join(cmd), flush=True)
        rc = subprocess.run(cmd, timeout=seconds + 300).returncode
        found = sorted(os.listdir(artifacts))
        for name in found:
            with open(os.path.join(artifacts, name), "rb") as f:
                data = f.read()
            print("FAILING INPUT %s (%d octets): %s" % (name, len(data), data.hex()))
            print("add it to REGRESSIONS in tests/fuzz/make_corpus.py once fixed")
        if rc != 0 or found:
            print("fuzzer failed (exit %d)" % rc)
            return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
