#!/bin/bash
# A stale disk at a re-mapped LUN. Volume A is attached through the daemon at LUN 1 (tgt,
# two portals); then the target takes LUN 1 away and presents another backing file with
# another identity (scsi_id, so another NAA WWN in VPD 0x83) at LUN 1, while A's sd
# devices still exist and one is held open by this shell. The host's sysfs still says A
# (the kernel read the wwid when the disks appeared); the LUN answers as B. Attaching B at
# LUN 1 must fail naming the stale disks and leave them exactly as they are: the held disk
# still exists, no map of B, no disk deleted, A's map untouched.
. "$(dirname "$0")/lib.sh"
PATHCTL=$LAB_BIN/pathctl
AGENT=$LAB_BIN/pathagent
W=/tmp/stale; mkdir -p $W /run/pathagent /var/lib/pathagent

# tgt's NAA 6 designator: the hex digits of the LU's scsi_id as one right-adjusted 128-bit
# number (other characters count as 0), top nibble 6 (tgt usr/spc.c update_vpd_83)
wwn_of_scsi_id() {
  python3 -c '
import sys
a = 0
for ch in sys.argv[1]:
    a = ((a << 4) | (int(ch, 16) if ch in "0123456789abcdefABCDEF" else 0)) & ((1 << 128) - 1)
print("3%032x" % ((a & ~(0xf << 124)) | (6 << 124)))' "$1"
}
wwn_of_lun() { printf '360000000000000000e0000000001%04x' "$1"; }
props() {  # NAME LUN WWN -> connection properties
  cat > $W/p$1.json <<J
{"target_discovered": false, "discard": true,
 "target_portals": ["${TGT_PORTALS[0]}", "${TGT_PORTALS[1]}"],
 "target_iqns": ["$TGT_IQN", "$TGT_IQN"], "target_luns": [$2, $2], "wwn": "$3"}
J
  echo $W/p$1.json
}
sd_of_lun() { for d in /sys/bus/scsi/devices/*:*:*:$1; do [ -e "$d/block" ] && ls "$d/block"; done 2>/dev/null; }
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1" 2>/dev/null; }

step setup
check "tgtd up with 2 portals and LUN 1 (volume A)" lab_tgt_start 1 32M
check "tgt's WWN model: scsi_id 'IET     00010001' is LUN 1's default $(wwn_of_lun 1)" \
  test "$(wwn_of_scsi_id 'IET     00010001')" = "$(wwn_of_lun 1)"
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
modprobe dm_multipath; modprobe dm_queue_length
start_agent() {
  "$AGENT" --socket /run/pathagent/pathagent.sock > $W/agent.log 2>&1 &
  AGENT_PID=$!
  wait_for 30 test -S /run/pathagent/pathagent.sock
}
check "pathagent starts" start_agent
WA=$(wwn_of_lun 1)
if run "$PATHCTL" connect --json "$(props A 1 "$WA")" > $W/cA.json 2> $W/cA.err; then ok "daemon attaches A ($WA) at LUN 1"; else bad "connect A: $(cat $W/cA.err)"; fi
DEVA=$(jget $W/cA.json "['path']")
P=($(sd_of_lun 1))
check "A has two paths (${P[*]})" test ${#P[@]} = 2
dd if=/dev/urandom of=$W/patA bs=64k count=16 status=none
check "A's data written through its map" dd if=$W/patA of="$DEVA" bs=64k oflag=direct status=none
TABLEA=$(dmsetup table "$WA")

step remap_lun
# one of A's disks held open, as a process that still uses the old volume would
exec 3</dev/${P[0]}
unmapped() { tgtadm --lld iscsi --op delete --mode logicalunit --tid 1 --lun 1 2>/dev/null; }
check "target removes LUN 1" wait_for 10 unmapped
SIDB=B0B0000000000002; SNB=B0B0SERIAL2
WB=$(wwn_of_scsi_id "$SIDB")
truncate -s 32M $TGT_DIR/lunB.img
dd if=/dev/urandom of=$W/patB bs=64k count=16 status=none
dd if=$W/patB of=$TGT_DIR/lunB.img bs=64k conv=notrunc status=none
present_b() {
  run tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $TGT_DIR/lunB.img &&
    run tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun 1 --params scsi_id=$SIDB,scsi_sn=$SNB,thin_provisioning=1
}
check "target presents B (scsi_id $SIDB, WWN $WB) at LUN 1" present_b
check "A's disks still exist (${P[*]})" test "$(sd_of_lun 1 | tr '\n' ' ')" = "${P[*]} "
SYSWWID=$(cat /sys/block/${P[0]}/device/wwid)
check "sysfs still says A (${P[0]} wwid $SYSWWID)" test "3${SYSWWID#naa.}" = "$WA"
"$PATHCTL" inquiry --json /dev/${P[0]} > $W/inq.json 2> $W/inq.err
check "the LUN behind ${P[0]} answers as B now ($(jget $W/inq.json "['wwn']"))" test "$(jget $W/inq.json "['wwn']")" = "$WB"

step attach_b_refused
T0=$(lab_up)
if "$PATHCTL" connect --json "$(props B 1 "$WB")" > $W/cB.json 2> $W/cB.err; then bad "attach of B at LUN 1 is refused"
else ok "attach of B at LUN 1 is refused ($(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}') s)"; fi
cat $W/cB.err; cat $W/cB.json
check "the error names the stale disks ${P[*]}" bash -c "grep -q 'stale disk' $W/cB.err && grep -q '${P[0]} ' $W/cB.err && grep -q '${P[1]} ' $W/cB.err"
check "the error says what they appeared as (A) and answer as now (B)" bash -c "grep -q 'appeared as $WA and now answers as $WB' $W/cB.err"
check "no device handed out for B" bash -c "! grep -q '/dev/' $W/cB.json"
check "no map of B" bash -c "! dmsetup info '$WB' >/dev/null 2>&1"
check "held disk ${P[0]} still exists and reads through the held descriptor" \
  bash -c "test -e /sys/block/${P[0]} && [ \$(dd bs=4k count=1 status=none <&3 | wc -c) = 4096 ]"
check "both stale disks still exist, no other disk at LUN 1" test "$(sd_of_lun 1 | tr '\n' ' ')" = "${P[*]} "
check "A's map untouched (same table)" test "$(dmsetup table "$WA")" = "$TABLEA"
check "sessions kept (2)" test "$(iscsiadm -m session 2>/dev/null | grep -c "$TGT_IQN")" = 2

step detach_a
exec 3<&-
# a detach of A judges each disk by the WWN it answers now (VPD 0x83 through the held
# device), not the kernel's cached wwid (still A): both answer as B, so the plain detach
# is refused before it does anything, naming B's WWN; a forced detach removes A's map and
# leaves the two disks, naming B's WWN
"$PATHCTL" disconnect "$W/pA.json" > $W/dA.json 2> $W/dA.err; echo "disconnect A: exit $?"; cat $W/dA.json $W/dA.err | tail -5
echo "after the detach: map $(dmsetup info "$WA" >/dev/null 2>&1 && echo present || echo gone), LUN 1 disks: $(sd_of_lun 1 | tr '\n' ' ')"
check "the detach of A deleted neither disk that now answers as B" test "$(sd_of_lun 1 | tr '\n' ' ')" = "${P[*]} "
check "the plain detach is refused, naming B's WWN" grep -q "shows WWN $WB, not the volume's $WA" $W/dA.err
check "the refused detach left A's map as it was" test "$(dmsetup table "$WA" 2>/dev/null)" = "$TABLEA"
"$PATHCTL" disconnect --force --json "$W/pA.json" > $W/dAf.json 2> $W/dAf.err; echo "disconnect --force A: exit $?"; cat $W/dAf.json $W/dAf.err | tail -8
check "the forced detach deleted neither disk that now answers as B" test "$(sd_of_lun 1 | tr '\n' ' ')" = "${P[*]} "
check "the forced detach names B's WWN for the disks it left" grep -q "$WB" $W/dAf.json $W/dAf.err
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
grep -E "stale|refus|WWN" $W/agent.log | tail -5
finish
