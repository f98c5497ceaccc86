#!/usr/bin/env python3
"""Rewrites the key table under "## Every key" in docs/config.md from
`postern-master --config-reference` (a unit test checks they agree).

    python3 docs/update-config-table.py build/master/postern-master
"""
import os
import subprocess
import sys

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.md")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ref = subprocess.run([sys.argv[1], "--config-reference"], check=True,
                         capture_output=True, text=True).stdout
    if not ref.startswith("| key |"):
        sys.exit("unexpected --config-reference output")
    lines = open(DOC).read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("| key | default |"))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    new = lines[:start] + ref.rstrip("\n").split("\n") + lines[end:]
    with open(DOC, "w") as f:
        f.write("\n".join(new))


if __name__ == "__main__":
    main()
