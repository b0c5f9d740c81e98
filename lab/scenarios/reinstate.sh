#!/bin/bash
# A path that comes back with another identity is not reinstated. Volume A is attached
# through the daemon at LUN 1 (tgt, two portals). One path's sd is set offline (the
# daemon fails it in the map); the target deletes LUN 1; the sd is set running again
# while LUN 1 is absent, and the kernel rescans it on that transition (scsi_sysfs
# store_state_field): its VPD 0x83 and capacity are now those of what the target answers
# at a LUN it does not have (tgt: its LUN 0 controller, another NAA WWN, size 0). Then
# LUN 1 comes back. The path's TEST UNIT READY succeeds; the kernel says it is another
# device (sysfs wwid, fresh VPD 0x83 through the held disk): the daemon must leave it
# failed (README Safety: a disk is used for a volume only if its WWN read afresh is the
# volume's). Found by the campaign (lab/scenarios/campaign.sh), reproduced here alone.
# Then B is attached at LUN 2 (it keeps the sessions), LUN 1 is deleted again and one of
# A's disks rescanned: a detach of A is refused, a forced one removes both of A's disks,
# and none comes back when LUN 1 does. Last, A is attached again with one path offline
# and detached: both of its disks go.
. "$(dirname "$0")/lib.sh"
PATHCTL=$LAB_BIN/pathctl
AGENT=$LAB_BIN/pathagent
W=/tmp/reinstate; mkdir -p $W /run/pathagent /var/lib/pathagent

wwn_of_lun() { printf '360000000000000000e0000000001%04x' "$1"; }
sd_of_lun() { for d in /sys/bus/scsi/devices/*:*:*:$1; do [ -e "$d/block" ] && ls "$d/block"; done 2>/dev/null; }
path_is() { dmsetup status "$1" 2>/dev/null | grep -q " $2 $3 "; }  # MAP MAJ:MIN A|F
WA=$(wwn_of_lun 1); WB=$(wwn_of_lun 2)
for v in A:1:$WA B:2:$WB; do
  IFS=: read -r n l w <<< "$v"
  cat > $W/p$n.json <<J
{"target_discovered": false, "discard": true,
 "target_portals": ["${TGT_PORTALS[0]}", "${TGT_PORTALS[1]}"],
 "target_iqns": ["$TGT_IQN", "$TGT_IQN"], "target_luns": [$l, $l], "wwn": "$w"}
J
done

step setup
check "tgtd up with 2 portals and LUNs 1, 2" lab_tgt_start 2 32M
for l in 1 2; do tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun $l --params vendor_id=PURE,product_id=FlashArray >/dev/null; done
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
modprobe dm_multipath; modprobe dm_queue_length
lab_agent_conf $W
"$AGENT" --config $W/agent.conf > $W/agent.log 2>&1 &
AGENT_PID=$!
check "pathagent starts (checker every 2 s)" wait_for 30 test -S /run/pathagent/pathagent.sock
if run "$PATHCTL" connect --json $W/pA.json > $W/cA.json 2> $W/cA.err; then ok "daemon attaches A ($WA) at LUN 1"; else bad "connect A: $(cat $W/cA.err)"; fi
P=($(sd_of_lun 1)); SD=${P[0]}; DEV=$(cat /sys/block/$SD/dev)
check "A has two paths (${P[*]})" test ${#P[@]} = 2

step path_back_as_another_device
T0US=$(lab_offline_at $SD)
check "daemon fails $SD ($DEV) offline" wait_for 10 path_is "$WA" "$DEV" F
gone() { tgtadm --lld iscsi --op delete --mode logicalunit --tid 1 --lun 1 2>/dev/null; }
check "target deletes LUN 1" wait_for 15 gone
echo running > /sys/block/$SD/device/state
udevadm settle --timeout=10
SYSW0=$(cat /sys/block/$SD/device/wwid); SIZE0=$(cat /sys/block/$SD/size); echo "$SD now: wwid $SYSW0, size $SIZE0"
back() {
  run tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $TGT_DIR/lun1.img &&
    run tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun 1 --params vendor_id=PURE,product_id=FlashArray,thin_provisioning=1
}
check "target presents LUN 1 again" back
FRESH=$(/usr/lib/udev/scsi_id -g -u -p 0x83 -d /dev/$SD); echo "$SD fresh VPD 0x83: $FRESH; sysfs wwid: $(cat /sys/block/$SD/device/wwid)"
# three checker rounds
sleep 7
dmsetup status "$WA"
SYSW=$(cat /sys/block/$SD/device/wwid)
SIZE_A=$(cat /sys/block/${P[1]}/size)
if [ "3${SYSW0#naa.}" != "$WA" ] || [ "$SIZE0" != "$SIZE_A" ]; then
  # the kernel re-read the disk while LUN 1 was absent and cached what answered then; LUN
  # 1 answers as A again, so the checker has the kernel re-read it (device/rescan) and,
  # the identity being A's, reinstates it
  echo "$SD: the kernel said it was $SYSW0, $SIZE0 sectors (re-read while LUN 1 was absent)"
  check "the daemon had the kernel re-read $SD once LUN 1 answered as A (wwid now $SYSW)" test "3${SYSW#naa.}" = "$WA"
  check "$SD has A's size again" test "$(cat /sys/block/$SD/size)" = "$SIZE_A"
  check "the daemon logged the stale identity it refreshed" grep -q "cached identity of a path was stale" $W/agent.log
  check "the daemon reinstated $SD (it answers as A)" wait_for 10 path_is "$WA" "$DEV" A
else
  echo "$SD: the kernel kept A's identity; nothing to prove on this run"
  ok "$SD kept A's identity (no re-read while LUN 1 was absent)"
fi
grep -E "$DEV|$SD" $W/agent.log | tail -5
dd if=/dev/mapper/$WA of=/dev/null bs=64k count=16 iflag=direct status=none; echo "read through A: rc $?"
dmesg | grep -E "$SD" | tail -3

# A forced detach while the volume's LUN is gone from the target removes its disks: what
# tgt answers there (byte 0 0x7f, its LUN 0 controller's NAA WWN) names no volume. B, attached
# at LUN 2, keeps the sessions, so A's disks go only if the detach deletes them (found by
# the campaign: they stayed, and answered as A again once LUN 1 came back).
step forced_detach_lun_gone
if run "$PATHCTL" connect --json $W/pB.json > $W/cB.json 2> $W/cB.err; then ok "daemon attaches B ($WB) at LUN 2"; else bad "connect B: $(cat $W/cB.err)"; fi
check "target deletes LUN 1 again" wait_for 15 gone
echo 1 > /sys/block/$SD/device/rescan
udevadm settle --timeout=10
B0=$(python3 -c "import sys; print('0x%02x' % open(sys.argv[1], 'rb').read(1)[0])" /sys/block/$SD/device/vpd_pg83)
echo "$SD rescanned with LUN 1 absent: wwid $(cat /sys/block/$SD/device/wwid), vpd_pg83 byte 0 $B0"
check "what tgt answers at the absent LUN 1 is not a disk (vpd_pg83 byte 0 $B0)" test "$B0" != 0x00
if "$PATHCTL" disconnect $W/pA.json > $W/dA0.json 2> $W/dA0.err; then bad "detach A without force succeeded with its LUN gone"
else ok "detach A without force is refused with its LUN gone: $(head -c 300 $W/dA0.err)"; fi
check "the refused detach deleted nothing (${P[*]} still there)" test -e /sys/block/${P[0]} -a -e /sys/block/${P[1]}
if "$PATHCTL" disconnect --force $W/pA.json > $W/dA.json 2> $W/dA.err; then ok "detach A (force)"; else bad "detach A (force): $(cat $W/dA.err)"; fi
check "no disk at LUN 1 is left ($(sd_of_lun 1 | tr '\n' ' '))" test -z "$(sd_of_lun 1)"
check "the daemon logged that no disk answered at A's address" grep -q "no disk answers at a disk's address" $W/agent.log
check "target presents LUN 1 again" back
sleep 3
check "still no disk at LUN 1 once it is back" test -z "$(sd_of_lun 1)"
check "B keeps its two paths ($(sd_of_lun 2 | tr '\n' ' '))" test "$(sd_of_lun 2 | wc -l)" = 2

# A detach of a volume with an offline path: the kernel refuses to open an offline disk
# (sd_open: ENXIO); the detach judges it by its cached identity and deletes it (found by
# the campaign: every detach of such a volume, forced or not, refused it).
step detach_offline_path
if run "$PATHCTL" connect --json $W/pA.json > $W/cA2.json 2> $W/cA2.err; then ok "daemon attaches A again"; else bad "connect A again: $(cat $W/cA2.err)"; fi
P2=($(sd_of_lun 1))
echo offline > /sys/block/${P2[0]}/device/state
if dd if=/dev/${P2[0]} of=/dev/null count=0 status=none 2>/dev/null; then echo "${P2[0]} opened while offline"; else echo "${P2[0]} offline: the kernel refuses to open it"; fi
if "$PATHCTL" disconnect $W/pA.json > $W/dA2.json 2> $W/dA2.err; then ok "detach A with ${P2[0]} offline"; else bad "detach A with ${P2[0]} offline: $(cat $W/dA2.err)"; fi
check "no disk at LUN 1 is left ($(sd_of_lun 1 | tr '\n' ' '))" test -z "$(sd_of_lun 1)"

# Self-healing of the agent's own map: a path whose disk someone deleted is scanned back,
# a session someone logged out is logged in again (from its node record), each within a
# few checker rounds (2 s here); the new disk joins B's map after a fresh WWN read.
step heal
active_paths() { dmsetup status "$1" 2>/dev/null | grep -oE ' [0-9]+:[0-9]+ A ' | wc -l; }
PB=($(sd_of_lun 2)); DB0=$(cat /sys/block/${PB[0]}/dev)
echo 1 > /sys/block/${PB[0]}/device/delete
check "someone deleted ${PB[0]} ($DB0), a path of B" wait_for 10 eval "[ ! -e /sys/block/${PB[0]} ]"
check "the daemon scanned B's path back: two disks at LUN 2 ($(sd_of_lun 2 | tr '\n' ' '))" wait_for 20 eval '[ "$(sd_of_lun 2 | wc -l)" = 2 ]'
check "B's map has two active paths again" wait_for 20 eval '[ "$(active_paths $WB)" = 2 ]'
check "the deleted disk's $DB0 is out of B's table" bash -c "! dmsetup table $WB | grep -q ' $DB0 '"
check "the daemon logged the healing" grep -q "map healed" $W/agent.log
dmsetup table "$WB"
SID=$(iscsiadm -m session 2>/dev/null | awk -v p="${TGT_PORTALS[1]}" 'index($0, p) {gsub(/[\[\]]/, "", $2); print $2; exit}')
run iscsiadm -m session -r "$SID" -u >/dev/null
check "someone logged out session $SID (${TGT_PORTALS[1]})" wait_for 10 eval '[ "$(sd_of_lun 2 | wc -l)" = 1 ]'
check "the daemon logged in again: two sessions" wait_for 30 eval '[ "$(iscsiadm -m session 2>/dev/null | grep -c "$TGT_IQN")" = 2 ]'
check "and B has two disks and two active paths again" wait_for 30 eval '[ "$(sd_of_lun 2 | wc -l)" = 2 ] && [ "$(active_paths $WB)" = 2 ]'
DMB=dm-$(dmsetup info -c --noheadings -o minor "$WB" 2>/dev/null | tr -d " ")
dd if=/dev/${DMB:-none} of=/dev/null bs=64k count=16 iflag=direct status=none; check "B reads through its healed map (/dev/${DMB:-none})" test $? = 0
grep -E "healed|brought back|cannot be brought back" $W/agent.log | tail -4

step detach
if "$PATHCTL" disconnect $W/pB.json > $W/dB.json 2> $W/dB.err; then ok "detach B"; else bad "detach B: $(cat $W/dB.err)"; fi
check "no session is left" bash -c '! iscsiadm -m session >/dev/null 2>&1'
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
cp $W/agent.log "$LAB_OUT/reinstate-agent-daemon.log"
finish
