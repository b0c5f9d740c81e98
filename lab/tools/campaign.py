#!/usr/bin/env python3
"""Fault campaign against the pathagent daemon in the lab guest (lab/scenarios/campaign.sh).

N seeded random cycles over NV Pure-looking tgt LUNs (two portals), every operation
through the daemon's API (`pathctl connect/disconnect`). A cycle does one operation
(attach, detach, detach --force while I/O runs, re-attach of an attached volume, all
detached volumes attached at once or all attached ones detached at once; an attach or a
detach may have the daemon SIGKILLed at a random moment of it, then restarted, so that
its journal reconcile runs) and injects faults before or around it: an sd path set
offline and back, a session logged out by a third party (iscsiadm), tgtd killed and
started again, a LUN deleted on the target and added back. Every attached volume
carries a pattern written through its map, each 512-byte block naming the seed, the
volume, its WWN and the generation; it is read back after every cycle (a volume whose LUN
is gone must fail I/O, and no read may ever return another volume's blocks).

Invariants, counted at every check point (after each cycle, after each reconcile, at
the end): sd disks of a detached volume, or of an attached one that its map does not
use (leaked_sd); maps of a detached volume (leaked_dm); sessions with nothing attached,
or two to one portal (leaked_sessions); a map's name or a path disk's sysfs wwid or fresh
VPD 0x83 (scsi_id) disagreeing with the volume's WWN, or a connect answering another
WWN (wrong_wwn); blocks that are not the volume's last pattern (checksum_mismatch) and
blocks of another volume (foreign_data); sessions the agent logged out while they
carried an attached volume's LUN (logout_in_use); open journal intents (journal_open);
claims in owned_maps without their map, or the agent's maps without a claim
(claims_wrong); the daemon dying without being killed (daemon_deaths).

Prints progress, a figures line with the seed, and one PASS:/FAIL: line per invariant
(lab_tally counts them). Environment: LAB_CAMPAIGN_N (cycles), LAB_CAMPAIGN_SEED,
LAB_CAMPAIGN_VOLUMES (4), LAB_CAMPAIGN_BUDGET_S (stop starting cycles after this many
seconds, 0 = none); PATHCTL, AGENT, AGENT_CONF, W, LAB_OUT, TGT_IQN, TGT_PORTAL_LIST,
TGT_DIR from the scenario.
"""
import glob
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

E = os.environ
N = int(E.get("LAB_CAMPAIGN_N") or 20)
SEED = int(E.get("LAB_CAMPAIGN_SEED") or random.SystemRandom().randrange(1 << 32))
NV = int(E.get("LAB_CAMPAIGN_VOLUMES") or 4)
BUDGET = float(E.get("LAB_CAMPAIGN_BUDGET_S") or 0)
PATHCTL, AGENT, CONF, W = E["PATHCTL"], E["AGENT"], E["AGENT_CONF"], E["W"]
OUT = E.get("LAB_OUT", "/lab/out")
IQN, PORTALS, TGT_DIR = E["TGT_IQN"], E["TGT_PORTAL_LIST"].split(), E["TGT_DIR"]
SOCK = "/run/pathagent/pathagent.sock"
JOURNAL = "/var/lib/pathagent/journal.sqlite"
ALOG = f"{W}/agent.log"
POLL_S = 2  # the checker's polling_interval in the scenario's agent.conf
BLK, NBLK = 512, 512  # pattern: 256 KiB at the start of each volume
rng = random.Random(SEED)
T_START = time.monotonic()

COUNTS = {k: 0 for k in ("leaked_sd", "leaked_dm", "leaked_sessions", "wrong_wwn", "checksum_mismatch",
                         "foreign_data", "logout_in_use", "journal_open", "claims_wrong", "daemon_deaths")}
FIG = {k: 0 for k in ("cycles", "ops", "attaches", "detaches", "forced_detaches_with_io", "reattaches",
                      "parallel_batches", "kills", "kills_mid_op", "reconciles", "faults", "offline",
                      "third_party_logouts", "tgt_restarts", "lun_removals", "ops_during_fault",
                      "expected_op_failures", "unexpected_op_failures", "reads", "writes",
                      "reads_failed_lun_removed", "reads_ok_lun_removed", "stale_identities_refreshed", "checks")}
NOTES = []  # unexpected op failures and other things worth a look (not invariants)


def say(*a):
    print(*a, flush=True)


def el():
    return time.monotonic() - T_START


def violation(kind, what):
    COUNTS[kind] += 1
    say(f"  VIOLATION {kind}: {what}")


def note(what):
    NOTES.append(what)
    say(f"  note: {what}")


def read(p, default=""):
    try:
        with open(p) as f:
            return f.read().strip()
    except OSError:
        return default


def sh(args, timeout=60, input=None):
    try:
        r = subprocess.run(args, input=input, capture_output=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return 124, b"", f"timed out after {timeout} s"


def wait_until(secs, fn, step=0.1):
    end = time.monotonic() + secs
    while True:
        if fn():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


def wwn_of_lun(n):
    return "360000000000000000e0000000001%04x" % n


# ------------------------------------------------------------------ kernel views
def sessions():
    """sid -> {portal, state, host}"""
    out = {}
    for s in glob.glob("/sys/class/iscsi_session/session*"):
        sid = int(s.rsplit("session", 1)[1])
        if read(f"{s}/targetname") != IQN:
            continue
        addr = port = ""
        for c in glob.glob(f"/sys/class/iscsi_connection/connection{sid}:*"):
            addr, port = read(f"{c}/persistent_address"), read(f"{c}/persistent_port")
        host = None
        m = re.search(r"/host(\d+)/session", os.path.realpath(f"{s}/device"))
        if m:
            host = int(m.group(1))
        out[sid] = {"portal": f"{addr}:{port}", "state": read(f"{s}/state"), "host": host}
    return out


def disks():
    """sdX -> {lun, sid, hctl, state, wwid, dev}"""
    out = {}
    for b in glob.glob("/sys/block/sd*"):
        real = os.path.realpath(f"{b}/device")
        m = re.search(r"session(\d+)/.*/(\d+:\d+:\d+:(\d+))$", real)
        if not m:
            continue
        w = read(f"{b}/device/wwid")
        out[os.path.basename(b)] = {"sid": int(m.group(1)), "hctl": m.group(2), "lun": int(m.group(3)),
                                    "state": read(f"{b}/device/state"), "dev": read(f"{b}/dev"),
                                    "wwid": "3" + w[4:] if w.startswith("naa.") else w}
    return out


def maps():
    """name -> {dm, uuid, devs: [maj:min in the table], status: {maj:min: A|F}}"""
    out = {}
    for d in glob.glob("/sys/block/dm-*"):
        name = read(f"{d}/dm/name")
        if not name:
            continue
        out[name] = {"dm": os.path.basename(d), "uuid": read(f"{d}/dm/uuid"), "devs": [], "status": {}}
    for name, m in out.items():
        rc, t, _ = sh(["dmsetup", "table", name], timeout=20)
        if rc == 0 and b" multipath " in t:
            m["devs"] = re.findall(r" (\d+:\d+) ", t.decode())
        rc, s, _ = sh(["dmsetup", "status", name], timeout=20)
        if rc == 0:
            m["status"] = dict(re.findall(r" (\d+:\d+) ([AF]) ", s.decode()))
    return out


def dev_name(majmin):
    p = f"/sys/dev/block/{majmin}"
    return os.path.basename(os.path.realpath(p)) if os.path.exists(p) else None


def fresh_wwn(sd):
    """The LUN's WWN read now (VPD 0x83 over SG_IO), not sysfs' copy; None if unreadable."""
    rc, o, _ = sh(["/usr/lib/udev/scsi_id", "-g", "-u", "-p", "0x83", "-d", f"/dev/{sd}"], timeout=30)
    return o.decode().strip() if rc == 0 and o.strip() else None


def journal():
    """(open intents, {map name: uuid} claimed)"""
    try:
        c = sqlite3.connect(JOURNAL, timeout=10)
        try:
            n = c.execute("SELECT count(*) FROM intents WHERE state = 'open'").fetchone()[0]
            owned = dict(c.execute("SELECT name, uuid FROM owned_maps").fetchall())
        finally:
            c.close()
        return n, owned
    except sqlite3.Error as e:
        note(f"journal unreadable: {e}")
        return 0, {}


# ------------------------------------------------------------------ target
class Target:
    def __init__(self):
        self.pid = None
        self.removed = set()

    def lun_add(self, n):
        for _ in range(50):
            rc, _, err = sh(["tgtadm", "--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1",
                             "--lun", str(n), "-b", f"{TGT_DIR}/lun{n}.img"])
            if rc == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"tgtadm new LUN {n}: {err}")
        rc, _, err = sh(["tgtadm", "--lld", "iscsi", "--op", "update", "--mode", "logicalunit", "--tid", "1",
                         "--lun", str(n), "--params", "vendor_id=PURE,product_id=FlashArray,thin_provisioning=1"])
        if rc != 0:
            raise RuntimeError(f"tgtadm update LUN {n}: {err}")
        self.removed.discard(n)

    def lun_remove(self, n):
        # tgt refuses while the LU has commands in flight: retry a while
        ok = wait_until(15, lambda: sh(["tgtadm", "--lld", "iscsi", "--op", "delete", "--mode", "logicalunit",
                                         "--tid", "1", "--lun", str(n)])[0] == 0, step=0.2)
        if ok:
            self.removed.add(n)
        return ok

    def start(self):
        """tgtd on both portals with target 1 and every LUN not removed (after a restart too)."""
        for _ in range(30):
            p = subprocess.Popen(["tgtd", "-f", "--iscsi", f"portal={PORTALS[0]}"],
                                 stdout=open(f"{W}/tgtd.log", "a"), stderr=subprocess.STDOUT)
            if wait_until(10, lambda: p.poll() is not None or sh(["tgtadm", "--op", "show", "--mode", "sys"])[0] == 0):
                if p.poll() is None:
                    break
            time.sleep(0.5)  # the port may still be held for a moment after a kill
        else:
            raise RuntimeError("tgtd does not start")
        self.pid = p.pid
        self.proc = p
        steps = [["--op", "new", "--mode", "portal", "--param", f"portal={PORTALS[1]}"],
                 ["--op", "new", "--mode", "target", "--tid", "1", "-T", IQN]]
        for s in steps:
            rc, _, err = sh(["tgtadm", "--lld", "iscsi"] + s)
            if rc != 0:
                raise RuntimeError(f"tgtadm {' '.join(s)}: {err}")
        for n in range(1, NV + 1):
            if n not in self.removed:
                self.lun_add(n)
        rc, _, err = sh(["tgtadm", "--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"])
        if rc != 0:
            raise RuntimeError(f"tgtadm bind: {err}")

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()


TGT = Target()


# ------------------------------------------------------------------ the daemon
class Agent:
    def __init__(self):
        self.proc = None
        self.starts = 0

    def start(self):
        try:
            os.unlink(SOCK)  # a SIGKILLed daemon leaves its socket: wait for the new one
        except FileNotFoundError:
            pass
        self.starts += 1
        log = open(ALOG, "a")
        log.write(f"==== campaign: daemon start {self.starts} at {el():.1f} s\n")
        log.flush()
        self.proc = subprocess.Popen([AGENT, "--config", CONF], stdout=log, stderr=subprocess.STDOUT)
        # the socket is bound after the start-up reconcile
        if not wait_until(120, lambda: os.path.exists(SOCK) or self.proc.poll() is not None):
            raise RuntimeError("daemon socket did not appear in 120 s")
        if self.proc.poll() is not None:
            self.died("at start")
            raise RuntimeError("daemon exited at start")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def alive(self, where):
        """False (and the evidence kept, the daemon restarted) when it died on its own."""
        if self.proc.poll() is None:
            return True
        self.died(where)
        self.start()
        FIG["reconciles"] += 1
        return False

    def died(self, where):
        rc = self.proc.returncode
        violation("daemon_deaths", f"daemon exited on its own {where} (rc {rc}"
                  + (f", signal {signal.Signals(-rc).name}" if rc < 0 else "") + ")")
        k = COUNTS["daemon_deaths"]
        shutil.copy(ALOG, f"{OUT}/campaign-daemon-death-{k}.log")
        with open(f"{OUT}/campaign-daemon-death-{k}.dmesg", "w") as f:
            f.write(sh(["dmesg"])[1].decode(errors="replace")[-20000:])
        say(f"  evidence: {OUT}/campaign-daemon-death-{k}.log (+ .dmesg)")


AG = Agent()


# ------------------------------------------------------------------ volumes and data
class Vol:
    def __init__(self, i):
        self.i, self.lun, self.wwn = i, i, wwn_of_lun(i)
        self.attached = False
        self.gen = 0           # last pattern generation written in full (0: the LUN's zeros)
        self.alt = None        # a generation whose write failed part way: its blocks are accepted too
        self.props = f"{W}/p{i}.json"
        with open(self.props, "w") as f:
            json.dump({"target_discovered": False, "discard": True, "target_portals": PORTALS,
                       "target_iqns": [IQN] * len(PORTALS), "target_luns": [i] * len(PORTALS),
                       "wwn": self.wwn}, f)

    def block(self, gen, b):
        if gen == 0:
            return bytes(BLK)
        h = f"pathagent-campaign seed={SEED} vol={self.i} wwn={self.wwn} gen={gen} block={b:04d} "
        return (h * (BLK // len(h) + 1))[:BLK - 1].encode() + b"\n"

    def pattern(self, gen):
        return b"".join(self.block(gen, b) for b in range(NBLK))

    def mapdev(self):
        d = [os.path.basename(os.path.dirname(os.path.dirname(p))) for p in glob.glob("/sys/block/dm-*/dm/name")
             if read(p) == self.wwn]
        return f"/dev/{d[0]}" if d else None


VOLS = [Vol(i) for i in range(1, NV + 1)]
BY_LUN = {v.lun: v for v in VOLS}


def io_read(v, timeout=45):
    dev = v.mapdev()
    if not dev:
        return None, "no map"
    rc, o, err = sh(["dd", f"if={dev}", f"bs={BLK * NBLK}", "count=1", "iflag=direct", "status=none"], timeout=timeout)
    FIG["reads"] += 1
    return (o, "") if rc == 0 and len(o) == BLK * NBLK else (None, err.strip() or f"rc {rc}")


def io_write(v, gen, timeout=45):
    dev = v.mapdev()
    if not dev:
        return False
    rc, _, err = sh(["dd", f"of={dev}", f"bs={BLK * NBLK}", "count=1", "iflag=fullblock", "oflag=direct", "conv=fsync,nocreat,notrunc", "status=none"],
                    timeout=timeout, input=v.pattern(gen))
    FIG["writes"] += 1
    return rc == 0


def judge(v, data, where):
    """Counts blocks that are neither the volume's expected generation(s) nor zeros where
    expected; blocks naming another volume are foreign_data. True when all are right."""
    bad = foreign = 0
    ok_gens = {v.gen} | ({v.alt} if v.alt is not None else set())
    kinds = {}
    for b in range(NBLK):
        blk = data[b * BLK:(b + 1) * BLK]
        if any(blk == v.block(g, b) for g in ok_gens):
            continue
        m = re.match(rb"pathagent-campaign seed=(\d+) vol=(\d+) wwn=(\w+) gen=(\d+) block=(\d+)", blk)
        if m and (int(m.group(2)) != v.i or m.group(3).decode() != v.wwn):
            foreign += 1
        else:
            bad += 1
        # what the wrong block holds, for the report: zeros, an older generation, another block
        k = "zeros" if blk == bytes(BLK) else (f"vol {int(m.group(2))} gen {int(m.group(4))} block {int(m.group(5))}"
                                              if m else "other bytes")
        kinds.setdefault(k.split(" block")[0], []).append(b)
    if bad or foreign:
        n = COUNTS["checksum_mismatch"] + COUNTS["foreign_data"] + 1
        with open(f"{OUT}/campaign-mismatch-{n}.bin", "wb") as f:
            f.write(data)
        say(f"  wrong blocks of volume {v.i} (expected generation {sorted(ok_gens)}): "
            + "; ".join(f"{k}: {len(bs)} (first {bs[0]}, last {bs[-1]})" for k, bs in kinds.items())
            + f" [saved as campaign-mismatch-{n}.bin]")
    if foreign:
        violation("foreign_data", f"{where}: volume {v.i} ({v.wwn}) returned {foreign} block(s) of another volume")
    if bad:
        violation("checksum_mismatch", f"{where}: volume {v.i} ({v.wwn}): {bad} block(s) not generation {sorted(ok_gens)}")
    if not bad and not foreign and v.alt is not None:
        # the data says which generation the interrupted write left: all of one or a mix
        for g in (v.alt, v.gen):
            if all(data[b * BLK:(b + 1) * BLK] == v.block(g, b) for b in range(NBLK)):
                v.gen, v.alt = g, None
                break
    return not bad and not foreign


def verify_data(v, where):
    data, err = io_read(v)
    if v.lun in TGT.removed:
        if data is None:
            FIG["reads_failed_lun_removed"] += 1
        else:
            FIG["reads_ok_lun_removed"] += 1
            judge(v, data, where + " (LUN removed)")
        return None
    if data is None:
        return err
    judge(v, data, where)
    return None


def write_new_gen(v, where):
    g = max(v.gen, v.alt or 0) + 1
    if io_write(v, g):
        v.gen, v.alt = g, None
        return True
    v.alt = g  # part of it may have landed
    note(f"{where}: write of generation {g} to volume {v.i} failed")
    return False


# ------------------------------------------------------------------ invariants
def usable_paths(v, mp, dk):
    by_dev = {d["dev"]: d for d in dk.values()}
    return [mm for mm in mp["devs"] if mm in by_dev and by_dev[mm]["state"] == "running"
            and mp["status"].get(mm) == "A"]


def verify(where, end=False, data=True, excuse_sessions=False):
    """Every invariant against the kernel's state now (no operation in flight)."""
    FIG["checks"] += 1
    if not AG.alive(where):
        pass
    mp, dk, ss = maps(), disks(), sessions()
    attached = {v.wwn for v in VOLS if v.attached}
    ours = {v.wwn for v in VOLS}
    # maps
    for name, m in mp.items():
        if name in ours and name not in attached:
            violation("leaked_dm", f"{where}: map {name} ({m['dm']}) of a detached volume")
    for v in VOLS:
        if v.attached and v.wwn not in mp:
            violation("leaked_dm", f"{where}: volume {v.i} is attached but has no map {v.wwn}")
    # disks and WWNs
    in_maps = {mm for name, m in mp.items() for mm in m["devs"]}
    for sd, d in sorted(dk.items()):
        v = BY_LUN.get(d["lun"])
        if v is None or not v.attached:
            violation("leaked_sd", f"{where}: {sd} ({d['hctl']}, session {d['sid']}) of a detached volume (LUN {d['lun']})")
            continue
        if d["dev"] not in mp.get(v.wwn, {}).get("devs", []):
            violation("leaked_sd", f"{where}: {sd} ({d['hctl']}) of volume {v.i} is in no map")
    for name, m in mp.items():
        if name not in ours:
            continue
        if m["uuid"] != "mpath-" + name:
            violation("wrong_wwn", f"{where}: map {name} has uuid {m['uuid']}")
        for mm in m["devs"]:
            sd = dev_name(mm)
            if not sd or sd not in dk:
                continue  # a path whose disk is gone (third-party logout): nothing to read
            if dk[sd]["lun"] in TGT.removed or dk[sd]["state"] != "running":
                continue  # nothing answers for the LUN now: neither copy can be judged
            f = fresh_wwn(sd)
            if f is not None and f != name:
                violation("wrong_wwn", f"{where}: map {name} path {sd} answers VPD 0x83 {f}")
            elif dk[sd]["wwid"] != name:
                # the LUN answers as the volume but the kernel's cached identity is another
                # (re-read while the LUN was gone): the agent's checker must have the kernel
                # re-read it within a round or two
                if wait_until(2 * POLL_S + 3, lambda: disks().get(sd, {}).get("wwid") == name, step=0.5):
                    FIG["stale_identities_refreshed"] += 1
                    say(f"  {where}: {sd}'s cached identity was {dk[sd]['wwid']}; the agent had the kernel re-read it")
                else:
                    violation("wrong_wwn", f"{where}: map {name} path {sd} keeps sysfs wwid {disks().get(sd, {}).get('wwid')} "
                                           f"(the LUN answers as the volume; the agent did not have the kernel re-read it)")
    # sessions: one per portal at most; none when nothing is attached
    per_portal = {}
    for sid, s in ss.items():
        per_portal.setdefault(s["portal"], []).append(sid)
    for portal, sids in per_portal.items():
        if len(sids) > 1:
            violation("leaked_sessions", f"{where}: {len(sids)} sessions to {portal}: {sids}")
    if not attached and ss:
        if excuse_sessions and not end:
            note(f"{where}: sessions {sorted(ss)} kept with nothing attached (a detach ran during an outage)")
        else:
            violation("leaked_sessions", f"{where}: sessions {sorted(ss)} with no volume attached")
    # journal and claims
    n_open, owned = journal()
    if n_open:
        violation("journal_open", f"{where}: {n_open} open intent(s) in the journal")
    for name, uuid in owned.items():
        if name not in mp:
            violation("claims_wrong", f"{where}: owned_maps claims {name}, which does not exist")
    for name in mp:
        if name in ours and owned.get(name) != mp[name]["uuid"]:
            violation("claims_wrong", f"{where}: map {name} exists without the agent's claim ({owned.get(name)})")
    # data
    if data:
        for v in VOLS:
            if v.attached and v.wwn in mp:
                err = verify_data(v, where)
                if err:
                    up = usable_paths(v, mp[v.wwn], dk)
                    if up:
                        note(f"{where}: read of volume {v.i} failed with {len(up)} usable path(s): {err}")
                    else:
                        say(f"  volume {v.i}: no usable path left ({err}); not counted")


def wait_paths_up(secs=25):
    """Until every attached volume's map has every path whose disk exists and runs active."""
    def up():
        mp, dk = maps(), disks()
        by_dev = {d["dev"]: d for d in dk.values()}
        for v in VOLS:
            if not v.attached or v.wwn not in mp:
                continue
            m = mp[v.wwn]
            for mm in m["devs"]:
                if mm in by_dev and by_dev[mm]["state"] == "running" and by_dev[mm]["lun"] not in TGT.removed \
                        and m["status"].get(mm) != "A":
                    return False
        return True
    return wait_until(secs, up, step=0.5)


# ------------------------------------------------------------------ operations
EST = {"connect": 1.0, "disconnect": 0.6}


def pathctl(args, timeout=180):
    return sh([PATHCTL] + args, timeout=timeout)


def op_process(kind, v, force=False):
    args = [kind, "--json", v.props] + (["--force"] if force else [])
    return subprocess.Popen([PATHCTL] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class Watch:
    """The sessions and the LUNs each carries before an operation; after it, a session
    gone that the campaign did not log out itself, while it carried a LUN of a volume
    still attached, is a logout in use."""

    def __init__(self):
        self.before = {sid: set() for sid in sessions()}
        for d in disks().values():
            self.before.setdefault(d["sid"], set()).add(d["lun"])

    def after(self, where):
        now = sessions()
        for sid, luns in self.before.items():
            if sid in now:
                continue
            used = sorted(lun for lun in luns if BY_LUN.get(lun) and BY_LUN[lun].attached)
            if used:
                violation("logout_in_use", f"{where}: session {sid} logged out while it carried LUN(s) {used} of attached volumes")


def finish_connect(v, p, where, expect_fail=False):
    out, err = p.communicate(timeout=240)
    if p.returncode == 0:
        try:
            r = json.loads(out)
        except ValueError:
            r = {}
        if r.get("scsi_wwn") != v.wwn:
            violation("wrong_wwn", f"{where}: connect of volume {v.i} answered WWN {r.get('scsi_wwn')}")
        path = r.get("path", "")
        name = read(f"/sys/block/{os.path.basename(path)}/dm/name")
        if name != v.wwn:
            violation("wrong_wwn", f"{where}: connect of volume {v.i} returned {path}, the map {name!r}")
        v.attached = True
        return True
    return op_failed("connect", v, p, err, where, expect_fail)


def finish_disconnect(v, p, where, expect_fail=False):
    out, err = p.communicate(timeout=240)
    if p.returncode == 0:
        v.attached = False
        return True
    return op_failed("disconnect", v, p, err, where, expect_fail)


def op_failed(op, v, p, err, where, expect_fail):
    """Counts a failed pathctl operation, expected (under a fault) or worth a note."""
    msg = err.decode(errors="replace").strip().splitlines()
    msg = msg[-1] if msg else f"rc {p.returncode}"
    if expect_fail:
        FIG["expected_op_failures"] += 1
        say(f"  {op} of volume {v.i} failed as expected: {msg}")
    else:
        FIG["unexpected_op_failures"] += 1
        note(f"{where}: {op} of volume {v.i} failed: {msg}")
    return False


def attach(v, where, kill=False, expect_fail=False):
    FIG["ops"] += 1
    FIG["attaches"] += 1
    w = Watch()
    t0 = time.monotonic()
    p = op_process("connect", v)
    if kill:
        return killed_op("connect", v, p, t0, w, where)
    ok = finish_connect(v, p, where, expect_fail)
    if ok:
        EST["connect"] = 0.8 * EST["connect"] + 0.2 * (time.monotonic() - t0)
    w.after(where)
    if ok:
        # the LUN kept the last generation written while the volume was detached
        err = verify_data(v, where + " (fresh attach)")
        if err:
            note(f"{where}: first read of volume {v.i} failed: {err}")
        write_new_gen(v, where)
    return ok


def detach(v, where, kill=False, force=False, io=False, expect_fail=False):
    FIG["ops"] += 1
    FIG["detaches"] += 1
    w = Watch()
    writer = None
    if io:
        FIG["forced_detaches_with_io"] += 1
        dev = v.mapdev()
        # rewrites the current generation (so whatever lands keeps the pattern), until it fails
        with open(f"{W}/pat{v.i}", "wb") as f:
            f.write(v.pattern(v.gen))
        writer = subprocess.Popen(["bash", "-c", f"while dd if={W}/pat{v.i} of={dev} bs=64k oflag=direct conv=nocreat,notrunc status=none; do :; done"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
    t0 = time.monotonic()
    p = op_process("disconnect", v, force=force)
    if kill:
        r = killed_op("disconnect", v, p, t0, w, where)
    else:
        r = finish_disconnect(v, p, where, expect_fail)
        if r:
            EST["disconnect"] = 0.8 * EST["disconnect"] + 0.2 * (time.monotonic() - t0)
    if writer:
        try:
            writer.wait(timeout=60)
        except subprocess.TimeoutExpired:
            writer.kill()
            note(f"{where}: the writer on volume {v.i} still ran 60 s after the forced detach")
            writer.wait()
        # the map was removed deferred while the writer held it: gone once it closed
        if not wait_until(15, lambda: v.mapdev() is None):
            note(f"{where}: the map of volume {v.i} stayed after its writer closed it")
    if not kill:
        w.after(where)
    return r


def killed_op(kind, v, p, t0, w, where):
    """SIGKILL the daemon at a random moment of the operation, restart it (reconcile)."""
    FIG["kills"] += 1
    delay = rng.uniform(0, 1.2 * EST[kind])
    time.sleep(delay)
    mid = p.poll() is None
    if mid:
        FIG["kills_mid_op"] += 1
    AG.kill()
    p.communicate(timeout=120)
    say(f"  daemon SIGKILLed {delay:.2f} s into the {kind} of volume {v.i} ({'mid-op' if mid else 'after it returned rc ' + str(p.returncode)})")
    AG.start()
    FIG["reconciles"] += 1
    # the reconcile rolled back or finished what the journal named: the volume is attached
    # exactly when its map is there
    v.attached = v.mapdev() is not None
    w.after(where + " (after reconcile)")
    verify(where + " (after reconcile)")
    if v.attached and kind == "connect":
        write_new_gen(v, where)
    return v.attached == (kind == "connect")


def parallel(kind, vs, where, expect_fail=False):
    FIG["parallel_batches"] += 1
    w = Watch()
    ps = [(v, op_process(kind, v)) for v in vs]
    for v, p in ps:
        FIG["ops"] += 1
        if kind == "connect":
            FIG["attaches"] += 1
            if finish_connect(v, p, where, expect_fail):
                write_new_gen(v, where)
        else:
            FIG["detaches"] += 1
            finish_disconnect(v, p, where, expect_fail)
    w.after(where)


# ------------------------------------------------------------------ faults
class Faults:
    def __init__(self):
        self.offline = []      # sdX set offline
        self.lun = None        # LUN removed
        self.tgt_down = False
        self.outage = False    # a session was not logged in while an operation ran

    def apply(self, kinds, where):
        for k in kinds:
            FIG["faults"] += 1
            if k == "offline":
                dk = disks()
                cand = [sd for sd, d in dk.items() if d["state"] == "running" and BY_LUN[d["lun"]].attached]
                if not cand:
                    continue
                sd = rng.choice(cand)
                try:
                    with open(f"/sys/block/{sd}/device/state", "w") as f:
                        f.write("offline\n")
                    self.offline.append(sd)
                    FIG["offline"] += 1
                    say(f"  fault: {sd} (LUN {dk[sd]['lun']}) offline")
                except OSError as e:
                    note(f"{where}: setting {sd} offline: {e}")
            elif k == "logout":
                ss = sessions()
                if not ss:
                    continue
                sid = rng.choice(sorted(ss))
                rc, _, err = sh(["iscsiadm", "-m", "session", "-r", str(sid), "-u"], timeout=60)
                FIG["third_party_logouts"] += 1
                say(f"  fault: third party logs out session {sid} ({ss[sid]['portal']}): rc {rc} {err.strip()[:120]}")
                self.third_party.add(sid)
            elif k == "tgt":
                TGT.kill()
                self.tgt_down = True
                FIG["tgt_restarts"] += 1
                say("  fault: tgtd killed")
            elif k == "lun":
                cand = [v for v in VOLS if v.lun not in TGT.removed]
                att = [v for v in cand if v.attached]
                v = rng.choice(att if att and rng.random() < 0.8 else cand)
                if self.tgt_down:
                    TGT.removed.add(v.lun)  # not re-added when tgtd comes back
                    ok = True
                else:
                    ok = TGT.lun_remove(v.lun)
                if ok:
                    self.lun = v.lun
                    FIG["lun_removals"] += 1
                    say(f"  fault: LUN {v.lun} (volume {v.i}, {'attached' if v.attached else 'detached'}) removed on the target")
                else:
                    note(f"{where}: tgt did not delete LUN {v.lun} in 15 s")

    def probe(self, where):
        """I/O under the faults: reads must return the volume's own data or fail."""
        for v in VOLS:
            if v.attached and not self.tgt_down:
                verify_data(v, where + " (under fault)")

    def restore(self, where):
        if self.tgt_down:
            time.sleep(rng.uniform(0.3, 3.0))
            TGT.start()
            self.tgt_down = False
            say("  tgtd started again")
            # iscsid reconnects on its own; the sessions come back logged in
            if not wait_until(60, lambda: all(s["state"] == "LOGGED_IN" for s in sessions().values()), step=0.5):
                note(f"{where}: sessions not all logged in 60 s after tgtd came back: {sessions()}")
                with open(f"{OUT}/campaign-relogin-{where.replace(' ', '-')}.dmesg", "w") as f:
                    f.write(sh(["dmesg"])[1].decode(errors="replace")[-50000:])
        for sd in self.offline:
            try:
                with open(f"/sys/block/{sd}/device/state", "w") as f:
                    f.write("running\n")
            except OSError:
                pass  # the disk went away meanwhile (detached, logged out)
        self.offline = []
        if self.lun is not None or TGT.removed:
            for n in sorted(TGT.removed):
                TGT.lun_add(n)
            say(f"  LUN {self.lun} added back")
            self.lun = None


def detach_until_done(x, where, first=False):
    """A detach the caller insists on: as it is; after a re-attach (the paths back, so the
    flush can succeed); then with force."""
    for how in (("first",) if first else ()) + ("retry", "re-attach", "force"):
        if not x.attached:
            return
        if how != "first":
            say(f"  retrying the detach of volume {x.i} ({how})")
        if how == "re-attach":
            FIG["reattaches"] += 1
            attach(x, where + " (before the detach)")
            x.attached = True
        detach(x, f"{where} ({how})" if how != "first" else where, force=how == "force")


# ------------------------------------------------------------------ the campaign
def cycle(c):
    where = f"cycle {c}"
    F = Faults()
    F.third_party = set()
    kinds = []
    if rng.random() < 0.75:
        kinds = rng.sample(["offline", "logout", "tgt", "lun"], k=1 if rng.random() < 0.7 else 2)
    att = [v for v in VOLS if v.attached]
    det = [v for v in VOLS if not v.attached]
    choices = []
    if det:
        choices += [("attach", 3 * len(det))]
        if len(det) >= 2:
            choices += [("attach_all", 1)]
    if att:
        choices += [("detach", 3 * len(att)), ("detach_force_io", 1.5), ("reattach", 1)]
        if len(att) >= 2:
            choices += [("detach_all", 1)]
    op = rng.choices([o for o, _ in choices], [w for _, w in choices])[0]
    during = bool(kinds) and rng.random() < 0.5
    kill = not during and op in ("attach", "detach") and rng.random() < 0.3
    v = rng.choice(det if op.startswith("attach") else att)
    say(f"== {where} ({el():.0f} s): {op} volume {v.i}{' (kill)' if kill else ''}; faults {kinds or '-'}"
        f"{' around it' if during else ' after it' if kinds else ''}; attached {[x.i for x in att]}")

    def do_op():
        in_fault = during
        if in_fault:
            FIG["ops_during_fault"] += 1
            if any(s["state"] != "LOGGED_IN" for s in sessions().values()) or F.tgt_down:
                F.outage = True
        lun_gone = v.lun in TGT.removed
        if op == "attach":
            attach(v, where, kill=kill, expect_fail=lun_gone or F.tgt_down)
        elif op == "reattach":
            FIG["reattaches"] += 1
            attach(v, where, expect_fail=lun_gone or F.tgt_down)
            v.attached = True  # a failed re-attach leaves the volume as it was
        elif op == "attach_all":
            parallel("connect", det, where, expect_fail=F.tgt_down or bool(TGT.removed))
        elif op == "detach":
            # with its LUN gone the volume's WWN cannot be read: without force the detach
            # refuses to delete its disks, with force it removes them
            force = lun_gone and rng.random() < 0.5
            if not detach(v, where, kill=kill, force=force, expect_fail=F.tgt_down or (lun_gone and not force)) and not kill:
                pending.append(v)
        elif op == "detach_force_io":
            if not detach(v, where, force=True, io=True, expect_fail=F.tgt_down):
                pending.append(v)
        elif op == "detach_all":
            parallel("disconnect", att, where, expect_fail=F.tgt_down or bool(TGT.removed))
            pending.extend(x for x in att if x.attached)

    pending = []
    T = {"op": 0.0, "faults": 0.0}
    t_c = time.monotonic()

    def timed(key, fn, *a):
        t = time.monotonic()
        fn(*a)
        T[key] += time.monotonic() - t
    if during:
        timed("faults", F.apply, kinds, where)
        timed("faults", F.probe, where)
        timed("op", do_op)
        timed("faults", F.restore, where)
    else:
        timed("op", do_op)
        if kinds:
            timed("faults", F.apply, kinds, where)
            timed("faults", F.probe, where)
            timed("faults", F.restore, where)
    AG.alive(where)
    t = time.monotonic()
    wait_paths_up()
    # after a third-party logout the caller attaches its volumes again (connect is
    # idempotent: it logs in where a session is missing, scans and reloads the map with
    # the paths back), as a compute host re-running its attach would
    if F.third_party:
        for x in VOLS:
            if x.attached and x not in pending:
                say(f"  re-attaching volume {x.i} after the logout")
                FIG["reattaches"] += 1
                attach(x, where + " (heal)")
                x.attached = True
    # a detach refused under a fault is the caller's to retry once the fault is gone:
    # as it is; then after a re-attach (paths back); then with force
    for x in pending:
        detach_until_done(x, where)
    T["recovery"] = time.monotonic() - t
    t = time.monotonic()
    verify(where, excuse_sessions=F.outage)
    # new data on a random attached volume (the others keep theirs)
    att = [x for x in VOLS if x.attached]
    if att:
        x = rng.choice(att)
        if write_new_gen(x, where):
            data, err = io_read(x)
            if data is not None:
                judge(x, data, where + " (after write)")
    T["checks"] = time.monotonic() - t
    say(f"  {where} took {time.monotonic() - t_c:.1f} s: " + ", ".join(f"{k} {v:.1f}" for k, v in T.items()))


def main():
    say(f"campaign: seed {SEED}, {N} cycles, {NV} volumes on {' '.join(PORTALS)}")
    TGT.start()
    AG.start()
    FIG["reconciles"] += 1
    c = 0
    for c in range(1, N + 1):
        if BUDGET and el() > BUDGET:
            note(f"time budget {BUDGET:.0f} s reached after {c - 1} cycles")
            c -= 1
            break
        try:
            cycle(c)
        except Exception as e:  # the campaign's own failure: stop, but still check and report
            note(f"cycle {c} aborted: {type(e).__name__}: {e}")
            violation_extra.append(f"cycle {c}: {e}")
            break
        FIG["cycles"] = c
    # the end: everything detached, nothing left
    say(f"== end ({el():.0f} s): detaching {[v.i for v in VOLS if v.attached]}")
    for sd in list(disks()):
        try:
            with open(f"/sys/block/{sd}/device/state", "w") as f:
                f.write("running\n")
        except OSError:
            pass
    if TGT.removed:
        for n in sorted(TGT.removed):
            TGT.lun_add(n)
    wait_paths_up()
    for v in VOLS:
        if v.attached:
            verify_data(v, "end")
            detach_until_done(v, "end", first=True)
    verify("end", end=True, data=False)
    mp, dk, ss = maps(), disks(), sessions()
    n_open, owned = journal()
    wall = el()
    FIG["wall_s"] = round(wall, 1)
    FIG["s_per_cycle"] = round(wall / max(1, FIG["cycles"]), 2)
    say(f"campaign figures: seed {SEED}; {FIG['cycles']} cycles in {wall:.0f} s ({FIG['s_per_cycle']} s a cycle); "
        f"{FIG['ops']} operations ({FIG['attaches']} attaches, {FIG['detaches']} detaches of which "
        f"{FIG['forced_detaches_with_io']} forced under I/O, {FIG['reattaches']} re-attaches, {FIG['parallel_batches']} parallel batches, "
        f"{FIG['ops_during_fault']} during a fault); {FIG['kills']} SIGKILLs of the daemon ({FIG['kills_mid_op']} mid-operation), "
        f"{FIG['reconciles']} starts with reconcile; {FIG['faults']} faults ({FIG['offline']} paths offline, "
        f"{FIG['third_party_logouts']} third-party logouts, {FIG['tgt_restarts']} tgtd restarts, {FIG['lun_removals']} LUN removals); "
        f"{FIG['reads']} reads ({FIG['reads_failed_lun_removed']} failed and {FIG['reads_ok_lun_removed']} succeeded with the LUN removed), "
        f"{FIG['writes']} writes; {FIG['expected_op_failures']} expected and {FIG['unexpected_op_failures']} unexpected operation failures; "
        f"{FIG['checks']} check points")
    say("campaign invariants: " + ", ".join(f"{k} {v}" for k, v in COUNTS.items()))
    say(f"campaign end state: {len(dk)} sd, {len([m for m in mp if m.startswith('36')])} maps, {len(ss)} sessions, "
        f"{n_open} open intents, {len(owned)} claims")
    # the kernel's and open-iscsi's view at the end, for whoever reads a failed run
    with open(f"{OUT}/campaign-dmesg.log", "w") as f:
        f.write(sh(["dmesg"])[1].decode(errors="replace")[-200000:])
    with open(f"{OUT}/campaign-sessions.txt", "w") as f:
        f.write(sh(["iscsiadm", "-m", "session", "-P", "3"], timeout=30)[1].decode(errors="replace"))
        for sd, d in sorted(dk.items()):
            f.write(f"{sd} {d['hctl']} state {d['state']} lun {d['lun']} session {d['sid']}\n")
    with open(f"{OUT}/campaign.json", "w") as f:
        json.dump({"seed": SEED, "n": N, "volumes": NV, "figures": FIG, "invariants": COUNTS, "notes": NOTES,
                   "aborted": violation_extra}, f, indent=1)
    labels = {
        "leaked_sd": "leaked sd devices", "leaked_dm": "leaked or missing dm maps", "leaked_sessions": "leaked sessions",
        "wrong_wwn": "devices with a wrong WWN (map name/uuid vs sysfs wwid and VPD 0x83 of every path)",
        "checksum_mismatch": "checksum mismatches", "foreign_data": "reads returning another volume's data",
        "logout_in_use": "sessions logged out while a LUN on them was in use", "journal_open": "open journal intents at check points",
        "claims_wrong": "owned_maps claims out of step with the maps", "daemon_deaths": "daemon deaths (not killed by the campaign)",
    }
    for k, label in labels.items():
        print(f"{'PASS' if COUNTS[k] == 0 else 'FAIL'}: campaign seed {SEED}: {COUNTS[k]} {label}", flush=True)
    end_clean = not dk and not [m for m in mp if m.startswith("36")] and not ss and n_open == 0 and not owned
    print(f"{'PASS' if end_clean else 'FAIL'}: campaign end: no sd, no map, no session, journal empty, no claim", flush=True)
    print(f"{'PASS' if not violation_extra else 'FAIL'}: campaign ran its cycles ({FIG['cycles']} of {N}"
          f"{'; aborted: ' + violation_extra[0] if violation_extra else ''})", flush=True)
    print(f"{'PASS' if FIG['cycles'] > 0 and FIG['ops'] > 0 else 'FAIL'}: campaign did work ({FIG['ops']} operations, {FIG['faults']} faults)", flush=True)
    if NOTES:
        say(f"campaign notes ({len(NOTES)}):")
        for n in NOTES[:40]:
            say(f"  {n}")
    AG.proc.terminate()
    try:
        AG.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        AG.kill()


violation_extra = []
if __name__ == "__main__":
    main()
