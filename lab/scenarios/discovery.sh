#!/bin/bash
# Discovery against the real kernel: scsi_debug disks plus one tgt LUN seen through two
# iSCSI portals. `pathctl paths --json` must group the two iSCSI paths into one volume
# by WWN, name each path's portal and session, and report sysfs path states, including
# a path that is taken offline.
. "$(dirname "$0")/lib.sh"
PATHCTL=$LAB_BIN/pathctl

step setup
check "scsi_debug loaded with several LUNs" lab_scsi_debug
check "tgtd up with portals ${TGT_PORTALS[*]} and a thin LUN" lab_tgt_start 1 256M
check "logged in to both portals" lab_iscsi_login
[ ${#ISCSI_DISKS[@]} -ge 2 ] || { bad "no two iSCSI paths, cannot continue"; finish; }
P1=${ISCSI_DISKS[0]} P2=${ISCSI_DISKS[1]}
for d in "${ISCSI_DISKS[@]}" "${SD_DEBUG_DISKS[@]}"; do
  echo "$d: $(cat /sys/block/$d/device/vendor) $(cat /sys/block/$d/device/model)" \
    "wwid=$(cat /sys/block/$d/device/wwid 2>/dev/null) state=$(cat /sys/block/$d/device/state)" \
    "hctl=$(basename "$(readlink -f /sys/block/$d/device)")"
done
check "both iSCSI paths report the same WWID" \
  test "$(cat /sys/block/$P1/device/wwid)" = "$(cat /sys/block/$P2/device/wwid)"
check "pathctl binary shared into the guest" test -x "$PATHCTL"
check "pathctl's shared libraries all resolve in the guest" eval "! ldd '$PATHCTL' | grep -q 'not found'"
ldd "$PATHCTL" | grep -E 'udev|devmapper|sgutils|iscsi|sqlite' | sed 's/^/  /'

# check_paths JSON_FILE LABEL: compare pathctl's JSON with sysfs.
# The expected-state overrides come from $EXPECT_STATE ("sdX=offline ...").
check_paths() {
  X_ISCSI="${ISCSI_DISKS[*]}" X_SDBG="${SD_DEBUG_DISKS[*]}" X_IQN=$TGT_IQN \
  X_PORTALS="${TGT_PORTALS[*]}" X_STATE=${EXPECT_STATE:-} X_LABEL=$2 \
  python3 - "$1" <<'PY'
import json, os, re, sys

label = os.environ["X_LABEL"]
def ok(m): print(f"PASS: [{label}] {m}")
def bad(m): print(f"FAIL: [{label}] {m}")
def check(m, cond): ok(m) if cond else bad(m)
def sysfs(d, attr):
    try:
        with open(f"/sys/block/{d}/device/{attr}") as f: return f.read().strip()
    except OSError: return None

def wwn_of_wwid(wwid):
    # /sys/.../device/wwid is "naa.<hex>", "eui.<hex>" or "t10.<text>"; the canonical WWN
    # used by pathagent is the udev/multipath form: designator type digit + lower hex.
    if wwid is None: return None
    kind, _, rest = wwid.partition(".")
    prefix = {"naa": "3", "eui": "2", "t10": "1"}.get(kind)
    return prefix + rest.lower() if prefix and kind != "t10" else None

try:
    doc = json.load(open(sys.argv[1]))
except Exception as e:
    bad(f"pathctl output is JSON ({e})"); sys.exit()
check("top level has volumes and sessions lists",
      isinstance(doc.get("volumes"), list) and isinstance(doc.get("sessions"), list))
vols = doc.get("volumes") or []
by_dev = {}
for v in vols:
    for p in v.get("paths") or []:
        by_dev[p.get("device")] = (v, p)

iscsi = os.environ["X_ISCSI"].split()
sdbg = os.environ["X_SDBG"].split()
portals = set(os.environ["X_PORTALS"].split())
iqn = os.environ["X_IQN"]
expect_state = dict(x.split("=") for x in os.environ["X_STATE"].split())

# the tgt LUN: one volume, two paths, same WWN as sysfs
wwid = sysfs(iscsi[0], "wwid")
want = wwn_of_wwid(wwid)
print(f"sysfs wwid of {iscsi[0]}: {wwid} -> expected WWN {want}")
mine = [v for v in vols if v.get("wwn") == want]
check(f"exactly one volume has the tgt LUN's WWN {want}", len(mine) == 1)
if mine:
    v = mine[0]
    devs = sorted(p.get("device") for p in v.get("paths") or [])
    check(f"tgt volume has two paths {sorted(iscsi)} (got {devs})", devs == sorted(iscsi))
    check("tgt volume sizeBytes is 256 MiB", v.get("sizeBytes") == 256 * 1024 * 1024)
    check("tgt volume has vendor and model", bool(v.get("vendor")) and bool(v.get("model")))
    check("tgt volume has no dm map (none created)", v.get("map") is None)
    seen_portals = set()
    for p in v.get("paths") or []:
        d = p.get("device")
        ic = p.get("iscsi") or {}
        check(f"{d}: transport iscsi", p.get("transport") == "iscsi")
        real = os.path.realpath(f"/sys/block/{d}/device")
        hctl = os.path.basename(real)
        check(f"{d}: hctl {p.get('hctl')} == sysfs {hctl}", p.get("hctl") == hctl)
        sg = os.listdir(f"/sys/block/{d}/device/scsi_generic")
        check(f"{d}: sg {p.get('sg')} == sysfs {sg}", [p.get("sg")] == sg)
        m = re.search(r"/(session\d+)/", real)
        check(f"{d}: iscsi.session {ic.get('session')} == sysfs {m and m.group(1)}",
              m is not None and ic.get("session") == m.group(1))
        check(f"{d}: iscsi.target is {iqn}", ic.get("target") == iqn)
        check(f"{d}: iscsi.portal {ic.get('portal')} is one of ours", ic.get("portal") in portals)
        seen_portals.add(ic.get("portal"))
    check(f"the two paths use the two portals (got {sorted(map(str, seen_portals))})", seen_portals == portals)

# scsi_debug disks
for d in sdbg:
    check(f"scsi_debug disk {d} is reported as a path", d in by_dev)
    if d in by_dev:
        v, p = by_dev[d]
        check(f"{d}: volume WWN matches sysfs wwid {sysfs(d, 'wwid')}", v.get("wwn") == wwn_of_wwid(sysfs(d, "wwid")))
        check(f"{d}: transport is not iscsi", p.get("transport") != "iscsi" and p.get("iscsi") is None)

# every reported path's state matches sysfs (and the expected override)
for d in iscsi + sdbg:
    if d not in by_dev: continue
    st = by_dev[d][1].get("state")
    check(f"{d}: state {st} == sysfs {sysfs(d, 'state')}", st == sysfs(d, "state"))
    if d in expect_state:
        check(f"{d}: state is {expect_state[d]}", st == expect_state[d])

# sessions
sess = [s for s in doc.get("sessions") or [] if s.get("target") == iqn]
check(f"two sessions to {iqn} (got {len(sess)})", len(sess) == 2)
sp = set()
for s in sess:
    sp.update(s.get("portals") or [])
    check(f"{s.get('name')}: state LOGGED_IN", s.get("state") == "LOGGED_IN")
    check(f"{s.get('name')}: exists in sysfs", os.path.isdir(f"/sys/class/iscsi_session/{s.get('name')}"))
    check(f"{s.get('name')}: host is an int", isinstance(s.get("host"), int))
check("sessions cover both portals", sp == portals)
PY
}

step pathctl_json
echo "+ pathctl paths --json"; "$PATHCTL" paths --json >"$LAB_OUT/discovery-paths.json" 2>"$LAB_OUT/discovery-paths.err"
rc=$?
check "pathctl paths --json exits 0 (rc=$rc)" test $rc = 0
[ $rc = 0 ] || head -c 2000 "$LAB_OUT/discovery-paths.err"
[ $rc = 0 ] && lab_tally check_paths "$LAB_OUT/discovery-paths.json" all-running

step pathctl_text
"$PATHCTL" paths >"$LAB_OUT/discovery-paths.txt" 2>&1
rc=$?
head -40 "$LAB_OUT/discovery-paths.txt"
check "pathctl paths (text) exits 0 (rc=$rc)" test $rc = 0
WWID=$(cat /sys/block/$P1/device/wwid)
check "pathctl paths (text) mentions the tgt WWN (${WWID#naa.})" grep -qi -- "${WWID#*.}" "$LAB_OUT/discovery-paths.txt"

step offline_path
run eval "echo offline > /sys/block/$P1/device/state"
check "sysfs shows $P1 offline" test "$(cat /sys/block/$P1/device/state)" = offline
echo "+ pathctl paths --json"; "$PATHCTL" paths --json >"$LAB_OUT/discovery-paths-offline.json" 2>"$LAB_OUT/discovery-paths.err"
rc=$?
# pathctl paths exits 2 when a path is not healthy (documented in its --help)
check "pathctl paths --json exits 2 (degraded) with a path offline (rc=$rc)" test $rc = 2
[ $rc = 2 ] && EXPECT_STATE="$P1=offline $P2=running" \
  lab_tally check_paths "$LAB_OUT/discovery-paths-offline.json" one-offline
echo running >/sys/block/$P1/device/state

finish
