#!/bin/bash
# Capture real sysfs shapes for host-side discovery tests: scsi_debug disks, one tgt LUN
# through two iSCSI portals with a dm multipath map on top (as multipathd would name it),
# one path offline. Writes $LAB_OUT/sysfs-capture.tar.gz and $LAB_OUT/capture-info.txt;
# `scripts/lab capture` unpacks them into Tests/Fixtures/vm-iscsi-scsidebug/.
. "$(dirname "$0")/lib.sh"

step setup
check "scsi_debug loaded with several LUNs" lab_scsi_debug
check "tgtd up with portals ${TGT_PORTALS[*]} and a thin LUN" lab_tgt_start 1 256M
check "logged in to both portals" lab_iscsi_login
[ ${#ISCSI_DISKS[@]} -ge 2 ] || { bad "no two iSCSI paths, cannot continue"; finish; }
P1=${ISCSI_DISKS[0]} P2=${ISCSI_DISKS[1]}

step multipath_map
modprobe dm_multipath; modprobe dm_queue_length
WWID=$(cat /sys/block/$P1/device/wwid)
case $WWID in naa.*) WWN=3${WWID#naa.} ;; *) WWN=$(echo "$WWID" | tr -c 'A-Za-z0-9\n' _) ;; esac
WWN=$(echo "$WWN" | tr 'A-F' 'a-f')
SZ=$(blockdev --getsz /dev/$P1)
TABLE="0 $SZ multipath 0 0 1 1 queue-length 0 2 1 $(cat /sys/block/$P1/dev) 1 $(cat /sys/block/$P2/dev) 1"
run dmsetup create "$WWN" --uuid "mpath-$WWN" --table "$TABLE"
udevadm settle --timeout=10
check "dm map $WWN created" test -b "/dev/mapper/$WWN"
DM=$(basename "$(readlink -f "/dev/mapper/$WWN")")
check "$DM lists $P1 and $P2 as slaves" test -e "/sys/block/$DM/slaves/$P1" -a -e "/sys/block/$DM/slaves/$P2"

step offline_path
run eval "echo offline > /sys/block/$P2/device/state"
check "$P2 offline in sysfs" test "$(cat /sys/block/$P2/device/state)" = offline

step capture
rm -f "$LAB_OUT/sysfs-capture.tar.gz"
check "sysfs captured" python3 "$LAB/tools/sysfs_capture.py" "$LAB_OUT/sysfs-capture.tar.gz"
N=$(tar -tzf "$LAB_OUT/sysfs-capture.tar.gz" | wc -l)
check "capture has entries ($N)" test "$N" -gt 100
for want in "sys/class/iscsi_session/" "sys/block/$P1" "sys/block/$DM" "sys/devices/virtual/block/$DM/dm/uuid" \
  "/vpd_pg83" "/iscsi_connection/" "/scsi_generic/sg"; do
  check "capture contains $want" grep -q -- "$want" < <(tar -tzf "$LAB_OUT/sysfs-capture.tar.gz")
done
check "capture keeps symlinks" grep -q '^l' < <(tar -tvzf "$LAB_OUT/sysfs-capture.tar.gz")
{
  echo "# pathagent lab capture (scripts/lab capture); guest state when sysfs was captured"
  echo "kernel: $(uname -r)"
  echo "iSCSI paths: ${ISCSI_DISKS[*]} (one LUN, portals ${TGT_PORTALS[*]}; $P2 set offline)"
  echo "dm multipath map: $WWN ($DM, uuid mpath-$WWN) over $P1 $P2"
  echo "scsi_debug disks: ${SD_DEBUG_DISKS[*]}"
  echo
  echo "## SCSI devices (from sysfs; lsscsi is not installed in the guest)"
  for d in /sys/bus/scsi/devices/*:*:*:*; do
    b=$(ls "$d/block" 2>/dev/null); g=$(ls "$d/scsi_generic" 2>/dev/null)
    printf '[%s] %-8s %-16s %-5s %-6s %-4s %s %s\n' "$(basename "$d")" "$(cat "$d/vendor")" "$(cat "$d/model")" \
      "$(cat "$d/rev")" "${b:--}" "${g:--}" "$(cat "$d/state")" "$(cat "$d/wwid" 2>/dev/null)"
  done
  echo
  echo "## dmsetup table / status"
  dmsetup table; dmsetup status
  echo
  echo "## iscsiadm -m session -P 3"
  iscsiadm -m session -P 3
} >"$LAB_OUT/capture-info.txt" 2>&1
check "capture info written" test -s "$LAB_OUT/capture-info.txt"
echo running >/sys/block/$P2/device/state

finish
