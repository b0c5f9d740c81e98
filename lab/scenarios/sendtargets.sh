#!/bin/bash
# SendTargets discovery with the real kernel: os-brick's singular properties (one portal,
# target_iqn, target_lun) with multipath on, as Cinder's LVM reference driver sends them.
# The kernel's LIO target (configfs; tgt answers SendTargets with the asked address only)
# exports the volume's target through two portals, beside a second target (another
# volume) on the same portals. The engine asks the given portal for SendTargets over a
# libiscsi discovery session, logs in to both portals of the volume's own target and to
# nothing of the other, builds a two-path map, writes no discovery record, and the detach
# with the same singular properties leaves no session, disk, map or node record.
. "$(dirname "$0")/lib.sh"
PROBE=$LAB_BIN/engine-probe
W=/tmp/sendtargets; mkdir -p $W /srv/lio
CFG=/sys/kernel/config/target
IQN=iqn.2026-01.dev.pathagent:lio-vol1
OTHER=iqn.2026-01.dev.pathagent:lio-vol2
P1=127.0.0.1:3270 P2=127.0.0.2:3271
w() { printf '%s\n' "$1" >"$2"; }
lio_target() {  # IQN NAME SERIAL: a 32 MiB fileio LUN 1 behind tpgt_1 on both portals
  local b=$CFG/core/fileio_0/$2 t=$CFG/iscsi/$1/tpgt_1
  truncate -s 32M /srv/lio/$2.img
  mkdir -p "$b" && w "fd_dev_name=/srv/lio/$2.img,fd_dev_size=33554432" "$b/control" && w 1 "$b/enable" &&
    w "$3" "$b/wwn/vpd_unit_serial" && mkdir -p "$t/lun/lun_1" && ln -s "$b" "$t/lun/lun_1/$2" &&
    mkdir "$t/np/$P1" "$t/np/$P2" && w 1 "$t/attrib/generate_node_acls" && w 0 "$t/attrib/demo_mode_write_protect" &&
    w 0 "$t/attrib/authentication" && w 1 "$t/enable"
}
lio_teardown() {
  local i t
  for i in "$IQN:vol1" "$OTHER:vol2"; do
    t=$CFG/iscsi/${i%:*}/tpgt_1
    [ -d "$t" ] || continue
    w 0 "$t/enable" 2>/dev/null
    rmdir "$t/np/"* 2>/dev/null; rm -f "$t/lun/lun_1/${i##*:}"; rmdir "$t/lun/lun_1" "$t" "$CFG/iscsi/${i%:*}" 2>/dev/null
    rmdir "$CFG/core/fileio_0/${i##*:}" 2>/dev/null
  done
  rmdir "$CFG/core/fileio_0" 2>/dev/null
}
sessions() { iscsiadm -m session 2>/dev/null | grep -c " $1\( \|$\)"; }
disks_of() { for s in /sys/class/iscsi_session/session*; do [ "$(cat $s/targetname)" = "$1" ] && ls -d $s/device/target*/*:*:*:*/block/* 2>/dev/null; done | xargs -rn1 basename; }

step setup
check "LIO modules" run modprobe -a target_core_mod target_core_file iscsi_target_mod
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
modprobe -a dm_multipath dm_queue_length
check "LIO target $IQN on $P1 and $P2" lio_target $IQN vol1 5a1ab0c0150000000000000001
check "LIO target $OTHER on the same portals" lio_target $OTHER vol2 5a1ab0c0150000000000000002
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
check "the host has an initiator name" grep -q '^InitiatorName=' /etc/iscsi/initiatorname.iscsi

step attach_singular
# other scenarios' iscsiadm discoveries may have left records: this attach must add none
ls /etc/iscsi/send_targets 2>/dev/null | sort > $W/st-before.txt
cat > $W/req.json <<J
{"protocol": "iscsi", "connection_properties": {"target_discovered": false, "discard": true,
  "target_portal": "$P1", "target_iqn": "$IQN", "target_lun": 1}}
J
if run "$PROBE" connect $W/req.json > $W/c.json 2> $W/c.err; then ok "connect with singular properties"; else bad "connect with singular properties: $(tail -3 $W/c.err)"; fi
grep -o 'SendTargets[^}]*' $W/c.err | head -3
cat $W/c.json
check "logged in to both portals of the volume's target" test "$(sessions $IQN)" = 2
check "no session to the other target on the same portals" test "$(sessions $OTHER)" = 0
check "two sd paths of the volume" test "$(disks_of $IQN | wc -l)" = 2
DEV=$(python3 -c "import json; print(json.load(open('$W/c.json'))['path'])" 2>/dev/null)
WWN=$(python3 -c "import json; print(json.load(open('$W/c.json'))['scsi_wwn'])" 2>/dev/null)
check "map $WWN has 2 paths" bash -c "[ \$(dmsetup table '$WWN' | grep -o ' [0-9]*:[0-9]* ' | wc -l) = 2 ]"
dd if=/dev/urandom of=$W/pat bs=1M count=4 status=none
check "write and read back through the map" bash -c "dd if=$W/pat of='$DEV' bs=1M oflag=direct status=none && dd if='$DEV' bs=1M count=4 iflag=direct status=none | cmp - $W/pat"
check "no SendTargets discovery record written" bash -c "ls /etc/iscsi/send_targets 2>/dev/null | sort | cmp -s - $W/st-before.txt && ! ls /etc/iscsi/send_targets 2>/dev/null | grep -q '3270\|3271'"
check "node records only for the volume's target" bash -c "iscsiadm -m node 2>/dev/null | grep -q '$IQN' && ! iscsiadm -m node 2>/dev/null | grep -q '$OTHER'"

step detach_singular
python3 -c "import json; d=json.load(open('$W/req.json')); d['device_info']={'type':'block','path':'$DEV','scsi_wwn':'$WWN'}; print(json.dumps(d))" > $W/d.json
if run "$PROBE" disconnect $W/d.json > $W/dd.json 2> $W/dd.err; then ok "disconnect with the same singular properties"; else bad "disconnect: $(tail -3 $W/dd.err)"; fi
cat $W/dd.json
check "both sessions logged out" test "$(sessions $IQN)" = 0
check "no sd device of the target left" test -z "$(disks_of $IQN)"
check "no dm map left" test -z "$(dmsetup ls --target multipath | grep -v 'No devices')"
check "no node record of the target left" bash -c "! iscsiadm -m node 2>/dev/null | grep -q '$IQN'"

step teardown
lio_teardown
check "LIO targets removed" test -z "$(ls $CFG/iscsi 2>/dev/null | grep lio-vol)"
finish
