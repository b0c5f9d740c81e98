#!/bin/bash
# ALUA grouping with the real kernel. The kernel's LIO target (configfs) exports one fileio
# LU (vendor PURE, product FlashArray) through one iSCSI target with two TPGs, one portal
# each; the LU has two ALUA target port groups (implicit ALUA), and each TPG's LUN is in
# one of them: "ao" (tpgt_1, 127.0.0.1) active/optimized, "an" (tpgt_2, 127.0.0.2)
# active/non-optimized, as an ActiveCluster volume seen through the local and the remote
# array. scsi_dh_alua attaches to both sd paths at scan time and shows each port group's
# state in sysfs access_state. Through the daemon (`pathctl connect`): the map has two path
# groups with the optimized path first (hardware handler alua) and I/O goes down that path
# only; `pathctl maps --json` shows the groups, their paths' ALUA states and why. Then the
# array swaps the two groups' states while a writer runs through the map: the kernel learns
# it from the unit attention on the next I/O, the daemon's monitor reads access_state and
# reloads the map with the newly optimized path first within a few seconds, and no write
# fails. The detach leaves no disk, map or session.
. "$(dirname "$0")/lib.sh"
mkdir -p /run/lab-bin && cp $LAB_BIN/pathctl $LAB_BIN/pathagent /run/lab-bin/
PATHCTL=/run/lab-bin/pathctl
AGENT=/run/lab-bin/pathagent
W=/tmp/alua; mkdir -p $W /srv/lio /run/pathagent /var/lib/pathagent
CFG=/sys/kernel/config/target
IQN=iqn.2026-01.dev.pathagent:lio-alua
B=$CFG/core/fileio_2/alua1
P1=127.0.0.1:3280 P2=127.0.0.2:3281
SERIAL=5a1ab0c01a000000000000000a
# LIO's NAA 6 designator: OUI 001405 and the first 25 hex digits of the unit serial
WWN=36001405${SERIAL:0:25}
w() { printf '%s\n' "$1" >"$2"; }
lio_setup() {
  truncate -s 32M /srv/lio/alua1.img
  mkdir -p $B && w "fd_dev_name=/srv/lio/alua1.img,fd_dev_size=33554432" $B/control && w 1 $B/enable &&
    w $SERIAL $B/wwn/vpd_unit_serial && w PURE $B/wwn/vendor_id && w FlashArray $B/wwn/product_id || return 1
  local g id
  for g in "ao 1 0" "an 2 1"; do  # name, tg_pt_gp_id, alua_access_state (0 optimized, 1 non-optimized)
    set -- $g
    mkdir $B/alua/$1 && w $2 $B/alua/$1/tg_pt_gp_id && w 1 $B/alua/$1/alua_access_type && w $3 $B/alua/$1/alua_access_state || return 1
  done
  local tp t
  for tp in "1 $P1 ao" "2 $P2 an"; do
    set -- $tp; t=$CFG/iscsi/$IQN/tpgt_$1
    mkdir -p $t/lun/lun_1 && ln -s $B $t/lun/lun_1/alua1 && mkdir $t/np/$2 && w $3 $t/lun/lun_1/alua_tg_pt_gp &&
      w 1 $t/attrib/generate_node_acls && w 0 $t/attrib/demo_mode_write_protect && w 0 $t/attrib/authentication &&
      w 1 $t/enable || return 1
  done
  for g in ao an; do echo "port group $g: id $(cat $B/alua/$g/tg_pt_gp_id), state $(cat $B/alua/$g/alua_access_state), members $(cat $B/alua/$g/members | tr '\n' ' ')"; done
}
lio_teardown() {
  local i t
  for i in 1 2; do
    t=$CFG/iscsi/$IQN/tpgt_$i
    [ -d $t ] || continue
    w 0 $t/enable 2>/dev/null; rmdir $t/np/* 2>/dev/null; rm -f $t/lun/lun_1/alua1; rmdir $t/lun/lun_1 $t 2>/dev/null
  done
  rmdir $CFG/iscsi/$IQN 2>/dev/null
  rmdir $B/alua/ao $B/alua/an $B $CFG/core/fileio_2 2>/dev/null
  rm -f /srv/lio/alua1.img
}
# the sd disk of the LU behind a portal (its session's), and its maj:min
disk_at() {
  local s
  for s in /sys/class/iscsi_session/session*; do
    [ "$(cat $s/targetname)" = $IQN ] || continue
    [ "$(cat $s/device/connection*/iscsi_connection/*/persistent_address 2>/dev/null)" = "${1%:*}" ] || continue
    ls $s/device/target*/*:*:*:1/block 2>/dev/null
  done
}
devno() { cat /sys/block/$1/dev; }
access() { cat /sys/block/$1/device/access_state 2>/dev/null; }
ios() { awk '{print $1 + $5}' /sys/block/$1/stat; }  # reads + writes completed
grew() { test $(( $(ios $1) - $2 )) -gt $3; }  # SD SINCE N: more than N I/Os on SD since SINCE
sessions() { iscsiadm -m session 2>/dev/null | grep -c " $IQN\( \|$\)"; }
# the groups of the live table as "maj:min[,maj:min] | ..." in table order
groups_of() { dmsetup table "$1" | python3 -c '
import sys
w = sys.stdin.read().split(); i = 3
i += 1 + int(w[i]); i += 1 + int(w[i])
n = int(w[i]); i += 2; out = []
for _ in range(n):
    i += 1; i += 1 + int(w[i]); np, na = int(w[i]), int(w[i + 1]); i += 2; g = []
    for _ in range(np):
        g.append(w[i]); i += 1 + na
    out.append(",".join(g))
print(" | ".join(out))'; }
maps_json() { "$PATHCTL" maps --json > $W/$1.json 2>/dev/null; true; }
# MAPSJSON FIELD-CHECK: the daemon's view of the map (python expression over m)
maps_says() { python3 -c '
import json, sys
m = [m for m in json.load(open(sys.argv[1]))["maps"] if m["name"] == sys.argv[2]]
sys.exit(0 if m and eval(sys.argv[3], {"m": m[0]}) else 1)' "$W/$1.json" "$WWN" "$2"; }

step setup
check "LIO, ALUA handler and multipath modules" modprobe -a target_core_mod target_core_file iscsi_target_mod scsi_dh_alua iscsi_tcp dm_multipath dm_queue_length
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
ip addr show dev lo | grep -q 'inet 127.0.0.2/' || ip addr add 127.0.0.2/8 dev lo
check "LIO LU with port groups ao (optimized, $P1) and an (non-optimized, $P2)" lio_setup
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
"$AGENT" --socket /run/pathagent/pathagent.sock > $W/agent.log 2>&1 &
AGENT_PID=$!
check "pathagent starts and listens" wait_for 30 test -S /run/pathagent/pathagent.sock

step attach
cat > $W/props.json <<J
{"target_discovered": false, "discard": true, "addressing_mode": "SAM2",
 "target_portals": ["$P1", "$P2"], "target_iqns": ["$IQN", "$IQN"], "target_luns": [1, 1], "wwn": "$WWN"}
J
if run "$PATHCTL" connect --json $W/props.json > $W/c.json 2> $W/c.err; then ok "pathctl connect"; else bad "pathctl connect: $(tail -3 $W/c.err)"; fi
cat $W/c.json; echo
DEV=$(python3 -c "import json; print(json.load(open('$W/c.json'))['path'])" 2>/dev/null)
OPT=$(disk_at $P1) NON=$(disk_at $P2)
echo "disks: $OPT behind $P1 ($(access $OPT)), $NON behind $P2 ($(access $NON))"
check "map $WWN on /dev/dm-N" bash -c "[[ '$DEV' == /dev/dm-* ]] && dmsetup info '$WWN' >/dev/null"
check "the kernel's access_state: $P1 path active/optimized, $P2 path active/non-optimized" \
  test "$(access $OPT)/$(access $NON)" = "active/optimized/active/non-optimized"
OPTD=$(devno $OPT) NOND=$(devno $NON)
dmsetup table "$WWN"
check "two path groups, the optimized path ($OPTD) first" test "$(groups_of $WWN)" = "$OPTD | $NOND"
check "hardware handler alua in the table" bash -c "dmsetup table '$WWN' | grep -q ' multipath 0 1 alua 2 1 '"
A0=$(ios $OPT) N0=$(ios $NON)
dd if=/dev/urandom of=$W/pat bs=1M count=4 status=none
check "write and read back through the map" bash -c "dd if=$W/pat of='$DEV' bs=1M oflag=direct status=none && dd if='$DEV' bs=1M count=4 iflag=direct status=none | cmp - $W/pat"
dmsetup status "$WWN"
check "I/O went down the optimized path only ($OPT +$(( $(ios $OPT) - A0 )), $NON +$(( $(ios $NON) - N0 )))" \
  test $(( $(ios $OPT) - A0 )) -gt 0 -a $(( $(ios $NON) - N0 )) = 0
check "dm status: group 1 is the active group" bash -c "dmsetup status '$WWN' | grep -q ' 2 1 A '"
maps_json maps1
check "pathctl maps: group 1 = $OPT active/optimized, group 2 = $NON active/non-optimized" \
  maps_says maps1 "[[(p['name'], p['alua']) for p in g['paths']] for g in m['groups']] == [[('$OPT', 'active/optimized')], [('$NON', 'active/non-optimized')]]"
check "pathctl maps: grouping says why (group_by_prio by the ALUA rule)" \
  maps_says maps1 "m['grouping'].startswith('group_by_prio (rule: paths show different ALUA states): active/optimized paths first')"
python3 -c "import json; m=[m for m in json.load(open('$W/maps1.json'))['maps'] if m['name']=='$WWN'][0]; print(m['grouping']); print(json.dumps(m['groups']))" 2>/dev/null
"$PATHCTL" maps --no-settings 2>&1 | head -8

step swap_under_io
# a writer through the map for the whole swap: 64 KiB O_DIRECT writes until told to stop
cat > $W/writer.py <<'PY'
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 65536); buf.write(os.urandom(65536))
n = errors = 0
while not os.path.exists(sys.argv[2]):
    try:
        os.pwrite(fd, buf, (n % 256) * 65536); n += 1
    except OSError as e:
        errors += 1; print("write error:", e, flush=True); time.sleep(0.05)
os.close(fd)
print(f"writes {n} errors {errors}", flush=True)
sys.exit(1 if errors or n == 0 else 0)
PY
python3 $W/writer.py "$DEV" $W/stop > $W/writer.out 2>&1 &
WPID=$!
check "the writer's I/O goes down $OPT" wait_for 10 grew $OPT $A0 100
T0=$(lab_up)
w 1 $B/alua/ao/alua_access_state; w 0 $B/alua/an/alua_access_state
echo "array swapped the states in $(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}') s: ao $(cat $B/alua/ao/alua_access_state), an $(cat $B/alua/an/alua_access_state)"
# when the kernel shows the new states (scsi_dh_alua, after the unit attention on the next
# write and its REPORT TARGET PORT GROUPS) and when the daemon's map has the other path
# first: the kernel's part and the agent's part of the delay, measured apart
TK= TM=
END=$(awk -v u=$(lab_up) 'BEGIN{printf "%.2f", u + 20}')
while [ -z "$TM" ] && awk -v u=$(lab_up) -v e=$END 'BEGIN{exit !(u < e)}'; do
  [ -z "$TK" ] && [ "$(access $NON)/$(access $OPT)" = "active/optimized/active/non-optimized" ] && TK=$(lab_up)
  dmsetup table "$WWN" | grep -q " 2 1 queue-length 0 1 1 $NOND 1 queue-length 0 1 1 $OPTD 1" && TM=$(lab_up)
  [ -n "$TM" ] || sleep 0.1
done
TK=${TK:-$TM}
since() { awk -v a=$1 -v b=$2 'BEGIN{printf "%.2f", b-a}'; }
echo "after the swap: kernel shows the new states at +$(since $T0 ${TK:-$T0}) s, map regrouped at +$(since $T0 ${TM:-$(lab_up)}) s"
if [ -n "$TM" ]; then
  ok "the map follows: $NON ($NOND) first, $(since $T0 $TM) s after the swap"
else
  bad "the map follows within 20 s of the swap (table: $(dmsetup table $WWN))"
fi
check "the daemon regrouped within 3 s of the kernel showing the new states ($(since ${TK:-$T0} ${TM:-$T0}) s)" \
  test -n "$TM" -a "$(awk -v a=$TK -v b=$TM 'BEGIN{print (b - a <= 3)}')" = 1
check "the kernel's access_state follows: $NON active/optimized, $OPT active/non-optimized" \
  test "$(access $NON)/$(access $OPT)" = "active/optimized/active/non-optimized"
# the writer keeps going after the reload, now down the other path
N1=$(ios $NON)
check "writes continue down $NON after the regroup" wait_for 10 grew $NON $N1 50
touch $W/stop; wait $WPID; WRC=$?
cat $W/writer.out
check "no write failed across the swap and the reload" test $WRC = 0
dmsetup status "$WWN"
check "dm status: both paths active, group 1 active" bash -c "dmsetup status '$WWN' | grep -q ' 2 1 A ' && [ \$(dmsetup status '$WWN' | grep -o ' [0-9]*:[0-9]* A ' | wc -l) = 2 ]"
check "the daemon logged the regroup with the tables before and after" bash -c "grep \"map regrouped for its paths' ALUA states\" $W/agent.log |
  grep 'dm.table.before=\"[^\"]* queue-length 0 1 1 $OPTD 1 queue-length' | grep -q 'dm.table.after=\"[^\"]* queue-length 0 1 1 $NOND 1 queue-length'"
grep "ALUA\|regroup" $W/agent.log | cut -c1-400
maps_json maps2
check "pathctl maps: group 1 = $NON active/optimized now" \
  maps_says maps2 "[[(p['name'], p['alua']) for p in g['paths']] for g in m['groups']] == [[('$NON', 'active/optimized')], [('$OPT', 'active/non-optimized')]] and 'grouped otherwise' not in m['grouping']"
A2=$(ios $OPT) N2=$(ios $NON)
check "write and read back through the map" bash -c "dd if=$W/pat of='$DEV' bs=1M oflag=direct status=none && dd if='$DEV' bs=1M count=4 iflag=direct status=none | cmp - $W/pat"
check "I/O goes down the newly optimized path only ($NON +$(( $(ios $NON) - N2 )), $OPT +$(( $(ios $OPT) - A2 )))" \
  test $(( $(ios $NON) - N2 )) -gt 0 -a $(( $(ios $OPT) - A2 )) = 0

step detach
if run "$PATHCTL" disconnect --json $W/props.json --device-info $W/c.json > $W/d.json 2> $W/d.err; then ok "pathctl disconnect"; else bad "pathctl disconnect: $(tail -3 $W/d.err)"; fi
check "no session to the target left" test "$(sessions)" = 0
check "no sd disk of the LU left" test -z "$(disks_by_model FlashArray)"
check "no dm map left" test -z "$(dmsetup ls --target multipath | grep -v 'No devices')"
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null

step teardown
lio_teardown
check "LIO target removed" test ! -e $CFG/iscsi/$IQN
finish
