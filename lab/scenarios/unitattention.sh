#!/bin/bash
# Unit attentions and a target outage on the daemon's own maps, with no API call:
# - capacity: a scsi_debug disk exported by tgt as a passthrough LUN (bs sg, device type
#   pt: tgt hands every command and its sense to scsi_debug, the only target here that
#   raises CAPACITY DATA HAS CHANGED) is attached as volume C over two portals; scsi_debug's
#   virtual size is doubled. The daemon's next checker TEST UNIT READY gets the unit
#   attention on one path (scsi_debug keeps one per device, so only one path ever reports
#   it); the kernel reports it in a change uevent of that path's scsi_device
#   (SDEV_UA=CAPACITY_DATA_HAS_CHANGED), and the daemon rescans both paths and grows the
#   map. Data before the old end stays; the new space takes I/O.
# - LUN inventory: tgt raises REPORTED LUNS DATA HAS CHANGED on every other I_T nexus when
#   a LUN is added or deleted. A LUN added to A's and B's target is reported as having no
#   disk here and is not scanned; B's LUN deleted is reported as a vanished LUN of B's map,
#   and B's disks stay (nothing is removed without a detach).
# - outage: tgtd stopped (SIGSTOP) past the sessions' recovery timeout (the daemon sets
#   recovery_tmo 10): the paths fail, the devices go transport-offline, nothing is logged
#   out or deleted; tgtd continued: the same sessions come back and every path is active
#   again, with the data.
. "$(dirname "$0")/lib.sh"
PATHCTL=$LAB_BIN/pathctl
AGENT=$LAB_BIN/pathagent
W=/tmp/unitattention; mkdir -p $W /run/pathagent /var/lib/pathagent $TGT_DIR
IQN_C=iqn.2026-01.dev.pathagent:lab-ua-pt
IQN_AB=iqn.2026-01.dev.pathagent:lab-ua-files
P1=${TGT_PORTALS[0]} P2=${TGT_PORTALS[1]}
wwn_of() { printf '360000000000000000e0000000002%04x' "$1"; }  # tgt tid 2, LUN n
WA=$(wwn_of 1); WB=$(wwn_of 2)

# sd names of target IQN's LUN n, one per session
sd_of() {
  local s
  for s in /sys/class/iscsi_session/session*; do
    [ "$(cat $s/targetname 2>/dev/null)" = "$1" ] || continue
    ls $s/device/target*/*:*:*:$2/block 2>/dev/null
  done
}
sids_of() { iscsiadm -m session 2>/dev/null | grep -- "$1" | grep -o '\[[0-9]*\]' | tr -d '[]' | sort -n | tr '\n' ' '; }
map_dev() { echo "/dev/dm-$(dmsetup info -c --noheadings -o minor "$1" 2>/dev/null | tr -d ' ')"; }
map_bytes() { blockdev --getsize64 "$(map_dev "$1")" 2>/dev/null; }
# paths (maj:min followed by A or F) in the map's dm status line
active_paths() { dmsetup status "$1" 2>/dev/null | grep -oE ' [0-9]+:[0-9]+ A ' | wc -l; }
failed_paths() { dmsetup status "$1" 2>/dev/null | grep -oE ' [0-9]+:[0-9]+ F ' | wc -l; }
props() {  # FILE IQN LUN WWN
  cat > "$1" <<J
{"target_discovered": false, "discard": true, "target_portals": ["$P1", "$P2"],
 "target_iqns": ["$2", "$2"], "target_luns": [$3, $3], "wwn": "$4"}
J
}
log_has() { grep -q -- "$1" $W/agent.log; }

step setup
# multipath-tools (in the image for the multipathd scenario) runs `multipath -U` from its
# udev rule 56-dm-mpath.rules on every path event of a map whose dm uuid is mpath-*, and
# fails each path whose udev ID_SERIAL is not the map's WWID. For the passthrough
# scsi_debug disk scsi_id's ID_SERIAL (1Linux_scsi_debug_6000, once udev has read it
# after the resize) is not the NAA designator the daemon names the map by (a Pure LUN's
# ID_SERIAL is its NAA 6 WWN, the map's name): the rule is masked while this scenario runs
trap 'rm -f /etc/udev/rules.d/56-dm-mpath.rules; udevadm control --reload' EXIT
ln -sf /dev/null /etc/udev/rules.d/56-dm-mpath.rules && udevadm control --reload
modprobe sd_mod; modprobe sg; modprobe iscsi_tcp; modprobe dm_multipath; modprobe dm_queue_length
# 1 GiB seen (virtual_gb=1) over a 16 MiB store; its own sd unbound, so only tgt (through
# /dev/sgN) sends it commands
run modprobe scsi_debug dev_size_mb=16 virtual_gb=1 num_tgts=1 max_luns=1
udevadm settle --timeout=20
SDEV=$(basename "$(ls -d /sys/bus/pseudo/drivers/scsi_debug/adapter*/host*/target*/*:*:*:* | head -1)")
SG=$(ls /sys/bus/scsi/devices/$SDEV/scsi_generic)
WC=3$(sed 's/^naa\.//' /sys/bus/scsi/devices/$SDEV/wwid)
echo "scsi_debug $SDEV ($SG), WWN $WC"
run sh -c "echo -n $SDEV > /sys/bus/scsi/drivers/sd/unbind"
check "scsi_debug's own sd unbound (only $SG left)" test -z "$(ls /sys/bus/scsi/devices/$SDEV/block 2>/dev/null)"
ip addr show dev lo | grep -q 'inet 127.0.0.2/' || ip addr add 127.0.0.2/8 dev lo
_tgt() {
  run tgtd --iscsi "portal=$P1" || return 1
  wait_for 10 tgtadm --op show --mode sys >/dev/null 2>&1 || return 1
  run tgtadm --lld iscsi --op new --mode portal --param "portal=$P2" || return 1
  run tgtadm --lld iscsi --op new --mode target --tid 1 -T $IQN_C || return 1
  run tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 --bstype sg --device-type pt -b /dev/$SG || return 1
  run tgtadm --lld iscsi --op new --mode target --tid 2 -T $IQN_AB || return 1
  local l
  for l in 1 2; do
    truncate -s 64M $TGT_DIR/ab$l.img
    run tgtadm --lld iscsi --op new --mode logicalunit --tid 2 --lun $l -b $TGT_DIR/ab$l.img || return 1
  done
  run tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL && run tgtadm --lld iscsi --op bind --mode target --tid 2 -I ALL
}
check "tgtd: $IQN_C LUN 1 = $SG passthrough, $IQN_AB LUNs 1, 2 = files; portals $P1, $P2" _tgt
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
lab_agent_conf $W
"$AGENT" --config $W/agent.conf > $W/agent.log 2>&1 &
AGENT_PID=$!
check "pathagent starts (checker every 2 s)" wait_for 30 test -S /run/pathagent/pathagent.sock
props $W/pC.json $IQN_C 1 $WC; props $W/pA.json $IQN_AB 1 $WA; props $W/pB.json $IQN_AB 2 $WB
for v in C A B; do
  if run "$PATHCTL" connect --json $W/p$v.json > $W/c$v.json 2> $W/c$v.err; then ok "daemon attaches $v"; else bad "connect $v: $(cat $W/c$v.err)"; fi
done
check "C ($WC) is a map of two active paths" wait_until 10 '[ "$(active_paths $WC)" = 2 ]'
check "A and B are maps of two active paths" wait_until 10 '[ "$(active_paths $WA)$(active_paths $WB)" = 22 ]'
C_BYTES0=$(map_bytes $WC); echo "C: $(map_dev $WC), $C_BYTES0 bytes, paths $(sd_of $IQN_C 1 | tr '\n' ' ')"
check "C's map is 1 GiB" test "$C_BYTES0" = 1073741824
head -c 1048576 /dev/urandom > $W/c-head.bin
check "1 MiB written at C's start" dd if=$W/c-head.bin of="$(map_dev $WC)" bs=1M count=1 oflag=direct status=none

step capacity
F0=$FAILS
dmesg -C
T0=$(lab_up)
run sh -c "echo 2 > /sys/bus/pseudo/drivers/scsi_debug/virtual_gb"
# no API call: the checker's next TEST UNIT READY meets the unit attention
check "C's map grows to 2 GiB by itself" wait_until 30 '[ "$(map_bytes $WC)" = 2147483648 ]'
echo "C's map: $(map_bytes $WC) bytes, $(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.1f", b-a}') s after the capacity change"
for d in $(sd_of $IQN_C 1); do
  check "path $d of C re-read: 4194304 sectors" test "$(cat /sys/block/$d/size)" = 4194304
done
check "the daemon logged the unit attention it reacted to" log_has 'scsi.ua=CAPACITY_DATA_HAS_CHANGED'
check "the daemon logged the resize (from 2097152 to 4194304 sectors)" bash -c \
  "grep 'map resized for its volume' $W/agent.log | grep -q 'resize.to_sectors=4194304'"
check "both of C's paths active after the resize" wait_until 10 '[ "$(active_paths $WC)" = 2 ]'
check "C's first MiB is what was written" bash -c "dd if=$(map_dev $WC) bs=1M count=1 iflag=direct status=none | cmp -s - $W/c-head.bin"
# past the old end (scsi_debug wraps its 16 MiB store: 1 GiB + 8 MiB lands at 8 MiB)
head -c 65536 /dev/urandom > $W/c-tail.bin
check "I/O past C's old end works" bash -c "dd if=$W/c-tail.bin of=$(map_dev $WC) bs=64k seek=16512 count=1 oflag=direct status=none &&
  dd if=$(map_dev $WC) bs=64k skip=16512 count=1 iflag=direct status=none | cmp -s - $W/c-tail.bin"
dmsetup table $WC; dmsetup status $WC
[ "$FAILS" = "$F0" ] || { echo "---- dmesg since the capacity change"; dmesg | head -n 60; }
lab_metrics > $W/metrics1.txt
check "metric: one resize, grown" grep -q '^pathagent_map_resizes_total{result="grown"} 1' $W/metrics1.txt
check "metric: capacity unit attentions counted" grep -q '^pathagent_unit_attentions_total{kind="capacity_data_has_changed"} [1-9]' $W/metrics1.txt

step lun_inventory
SIDS_AB=$(sids_of $IQN_AB)
truncate -s 64M $TGT_DIR/ab3.img
check "target adds LUN 3 beside A and B" run tgtadm --lld iscsi --op new --mode logicalunit --tid 2 --lun 3 -b $TGT_DIR/ab3.img
check "the daemon re-read the LUN inventory and reports LUN 3 with no disk here" wait_for 20 bash -c \
  "grep 'target LUN inventory re-read' $W/agent.log | grep -qE 'reported with no disk on this host: LUN ([0-9]+, )*3\b'"
check "the daemon scanned nothing in: no disk at LUN 3" test -z "$(sd_of $IQN_AB 3)"
B_DISKS=$(sd_of $IQN_AB 2 | tr '\n' ' ')
gone() { tgtadm --lld iscsi --op delete --mode logicalunit --tid 2 --lun 2 2>/dev/null; }
check "target deletes B's LUN 2" wait_for 15 gone
check "the daemon reports LUN 2 of B's map as vanished" wait_for 20 bash -c \
  "grep 'no longer reports LUNs of the agent' $W/agent.log | grep -q 'LUN 2 of $WB'"
check "B's disks stay ($B_DISKS): nothing is removed without a detach" test "$(sd_of $IQN_AB 2 | tr '\n' ' ')" = "$B_DISKS"
check "A keeps two active paths" test "$(active_paths $WA)" = 2
check "no session logged out or in ($SIDS_AB)" test "$(sids_of $IQN_AB)" = "$SIDS_AB"
lab_metrics > $W/metrics2.txt
check "metric: a vanished LUN counted" grep -q '^pathagent_lun_inventory_findings_total{finding="vanished"} [1-9]' $W/metrics2.txt
_back() {
  run tgtadm --lld iscsi --op new --mode logicalunit --tid 2 --lun 2 -b $TGT_DIR/ab2.img
}
check "target presents LUN 2 again" _back
T2=$(lab_up)
check "B's paths active again (the checker, after a fresh WWN read)" wait_until 30 '[ "$(active_paths $WB)" = 2 ]'
echo "B's paths active $(awk -v a=$T2 -v b=$(lab_up) 'BEGIN{printf "%.1f", b-a}') s after LUN 2 came back"

step outage
SIDS=$(sids_of dev.pathagent:lab-ua)
DISKS=$(ls /sys/block | grep '^sd' | tr '\n' ' ')
echo "sessions $SIDS; disks $DISKS; recovery_tmo $(cat /sys/class/iscsi_session/session*/recovery_tmo | sort -u | tr '\n' ' ')"
check "the daemon set recovery_tmo 10 on every session" test "$(cat /sys/class/iscsi_session/session*/recovery_tmo | sort -u)" = 10
head -c 1048576 /dev/urandom > $W/a-head.bin
check "1 MiB written to A" dd if=$W/a-head.bin of="$(map_dev $WA)" bs=1M count=1 oflag=direct status=none
TGTD_PIDS=$(pgrep -x tgtd | tr '\n' ' ')
T0=$(lab_up)
run kill -STOP $TGTD_PIDS
off() { for d in $DISKS; do [ "$(cat /sys/block/$d/device/state 2>/dev/null)" = transport-offline ] || return 1; done; }
check "every path's device goes transport-offline (recovery_tmo passed)" wait_for 60 off
echo "transport-offline $(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.1f", b-a}') s after tgtd stopped"
check "the daemon failed every path of A, B and C" wait_until 10 '[ "$(failed_paths $WA)$(failed_paths $WB)$(failed_paths $WC)" = 222 ]'
sleep 4
check "nothing logged out during the outage (sessions $SIDS)" test "$(sids_of dev.pathagent:lab-ua)" = "$SIDS"
check "no disk deleted during the outage" test "$(ls /sys/block | grep '^sd' | tr '\n' ' ')" = "$DISKS"
T1=$(lab_up)
run kill -CONT $TGTD_PIDS
running() { for d in $DISKS; do [ "$(cat /sys/block/$d/device/state 2>/dev/null)" = running ] || return 1; done; }
check "every path's device is running again" wait_for 60 running
check "every path of A, B and C active again" wait_until 30 '[ "$(active_paths $WA)$(active_paths $WB)$(active_paths $WC)" = 222 ]'
echo "all paths active $(awk -v a=$T1 -v b=$(lab_up) 'BEGIN{printf "%.1f", b-a}') s after tgtd continued"
check "the same sessions ($SIDS), the same disks" test "$(sids_of dev.pathagent:lab-ua)|$(ls /sys/block | grep '^sd' | tr '\n' ' ')" = "$SIDS|$DISKS"
check "A's data read back through its map" bash -c "dd if=$(map_dev $WA) bs=1M count=1 iflag=direct status=none | cmp -s - $W/a-head.bin"
check "the daemon logged out nothing" bash -c "! grep -qi 'logged out\|logout' $W/agent.log"

step detach
for v in C A B; do
  if run "$PATHCTL" disconnect $W/p$v.json > /dev/null 2> $W/d$v.err; then ok "daemon detaches $v"; else bad "disconnect $v: $(cat $W/d$v.err)"; fi
done
check "no map, no iSCSI disk, no session left" bash -c \
  "[ -z \"\$(dmsetup ls --target multipath | grep -v 'No devices')\" ] && [ -z \"\$(ls /sys/class/iscsi_session)\" ] && [ -z \"\$(ls /sys/block | grep '^sd')\" ]"
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
rm -f /etc/udev/rules.d/56-dm-mpath.rules; udevadm control --reload
grep -E 'unit attention|resized|LUN inventory|no longer reports|cannot be resized' $W/agent.log | head -20
cp $W/agent.log "$LAB_OUT/unitattention-agent.log" 2>/dev/null
finish
