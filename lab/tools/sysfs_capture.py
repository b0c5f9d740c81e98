#!/usr/bin/env python3
"""Capture the parts of /sys that storage discovery reads into a tar.gz.

Usage: sysfs_capture.py OUT.tar.gz

The archive is rooted at "sys/" so that "<dir>/sys/..." mirrors /sys after unpacking.
Symlinks are stored as symlinks (with their relative kernel targets); attribute files
are stored with the bytes a read returns (sysfs stats every file as 4096 bytes, so the
size is taken from the read). Unreadable and write-only files, files larger than
64 KiB, and credentials (iSCSI CHAP attributes) are skipped.

Walked: the class and bus directories listed in ROOTS, and, following their links, the
device directories of SCSI hosts (which contain sessions, targets, LUNs and their block
devices) and of block devices (including device-mapper devices). Links such as
subsystem/driver/module are recorded but not followed, and bulky directories that
discovery never reads (PRUNE) are left out.
"""
import glob
import io
import os
import re
import stat
import sys
import tarfile

ROOTS = [f"/sys/class/{c}" for c in (
    "iscsi_session", "iscsi_connection", "iscsi_host", "scsi_host", "scsi_device",
    "scsi_disk", "scsi_generic", "block", "fc_host", "fc_remote_ports")] + [
    "/sys/bus/scsi/devices", "/sys/block"]
PRUNE = {"power", "trace", "integrity", "mq", "iosched", "bdi", "msi_irqs", "statistics_raw"}
SKIP_FILES = {"password", "password_in"}  # iSCSI CHAP secrets never leave the guest
MAX_FILE = 64 * 1024

entries = {}   # path -> ("dir", None) | ("link", target) | ("file", bytes)
walked = set()
queue = []


def walkable(path):
    """Device dirs worth walking recursively: SCSI hosts and block devices."""
    if not path.startswith("/sys/devices/"):
        return False
    return bool(re.search(r"/host\d+$", path) or re.search(r"/block/[^/]+$", path)
                or re.search(r"/(session|target|rport-|connection)[^/]*$", path)
                or re.search(r"/\d+:\d+:\d+:\d+$", path))


def enqueue(link_path):
    real = os.path.realpath(link_path)
    if real not in walked:
        queue.append(real)


def read_attr(path, st):
    if not st.st_mode & stat.S_IRUSR:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError:
        return None
    return None if len(data) > MAX_FILE else data


def walk(path, follow_all_links=False):
    """Record path (a directory) recursively."""
    if path in walked:
        return
    walked.add(path)
    entries[path] = ("dir", None)
    try:
        items = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return
    parent = os.path.basename(path)
    for e in items:
        p = e.path
        if e.is_symlink():
            entries[p] = ("link", os.readlink(p))
            if e.name == "device" or parent in ("holders", "slaves") or follow_all_links:
                real = os.path.realpath(p)
                if walkable(real) or (follow_all_links and real.startswith("/sys/devices/")):
                    enqueue(p)
        elif e.is_dir(follow_symlinks=False):
            if e.name in PRUNE:
                continue
            walk(p)
        elif e.name not in SKIP_FILES:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            data = read_attr(p, st)
            if data is not None:
                entries[p] = ("file", data)


def main():
    out = sys.argv[1]
    for root in ROOTS:
        if not os.path.isdir(root):
            continue
        # class/bus directories hold links to the device directories
        walk(root, follow_all_links=True)
    for dm in sorted(glob.glob("/sys/devices/virtual/block/dm-*")):
        queue.append(dm)
    while queue:
        p = queue.pop(0)
        if os.path.isdir(p):
            # the class dir targets (e.g. .../session1/iscsi_session/session1) are walked,
            # and so is the device dir they hang off, when it is a host/session/LUN/block dir
            walk(p)
            up = p
            while up.startswith("/sys/devices/") and up != "/sys/devices":
                if walkable(up) and up not in walked:
                    queue.append(up)
                    break
                up = os.path.dirname(up)

    # every ancestor directory of a recorded entry exists in the archive
    for p in list(entries):
        d = os.path.dirname(p)
        while d != "/" and d not in entries:
            entries[d] = ("dir", None)
            d = os.path.dirname(d)

    nfiles = nlinks = nbytes = 0
    with tarfile.open(out, "w:gz") as tar:
        for p in sorted(entries):
            kind, val = entries[p]
            ti = tarfile.TarInfo(p.lstrip("/"))
            ti.mtime = 0
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(ti)
            elif kind == "link":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, val, 0o777
                tar.addfile(ti)
                nlinks += 1
            else:
                ti.size, ti.mode = len(val), 0o644
                tar.addfile(ti, io.BytesIO(val))
                nfiles += 1
                nbytes += len(val)
    print(f"captured {nfiles} files ({nbytes} bytes), {nlinks} links, "
          f"{sum(1 for k, _ in entries.values() if k == 'dir')} dirs -> {out}")


if __name__ == "__main__":
    main()
