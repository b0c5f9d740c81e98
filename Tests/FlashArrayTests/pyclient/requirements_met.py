"""Exit 0 when every `name==version` line of a requirements file is installed at that version.

Usage: python3 requirements_met.py REQUIREMENTS.txt
Reads package metadata only (no import: importing cinder takes seconds).
"""
import sys
from importlib import metadata

missing = []
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, _, want = line.partition("==")
    try:
        have = metadata.version(name.strip())
    except metadata.PackageNotFoundError:
        have = None
    if want and have != want.strip():
        missing.append("%s (want %s, have %s)" % (name.strip(), want.strip(), have))
if missing:
    sys.stderr.write("not installed: %s\n" % ", ".join(missing))
    sys.exit(1)
