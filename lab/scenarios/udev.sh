#!/bin/bash
# udev rules for Pure volumes (udev/60-pathagent-pure.rules) on the real kernel and udevd:
# a tgt LUN that says PURE/FlashArray in its INQUIRY data, seen through two iSCSI portals,
# must get scheduler none, add_random 0, rq_affinity 2, max_sectors_kb 4096 and
# device/timeout 60; a dm map named 3624a937... must get the queue settings; and the
# kernel's SDEV_UA change events (CAPACITY / REPORTED LUNS DATA HAS CHANGED, raised by
# scsi_debug posing as PURE) must carry PATHAGENT_EVENT and the "pathagent" tag.
#
# Works inside the lab VM (sourcing lab/scenarios/lib.sh) and standalone on a scratch
# host as root with tgt, open-iscsi, dmsetup and udev installed:
#   PATHAGENT_UDEV_RULES=udev/60-pathagent-pure.rules bash lab/scenarios/udev.sh
# It installs the rules into /etc/udev/rules.d and removes them at the end.
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -f "$HERE/lib.sh" ]; then
  . "$HERE/lib.sh"
else
  # standalone: the few helpers this scenario uses
  set -u
  FAILS=0 PASSES=0
  ok()  { echo "PASS: $*"; PASSES=$((PASSES + 1)); }
  bad() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
  check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
  run() { echo "+ $*" >&2; "$@"; }
  step() { echo; echo "===== $1"; }
  wait_for() { local n=$(($1 * 10)); shift; while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done; return 1; }
  TGT_IQN=iqn.2026-01.dev.pathagent:udev-tgt1
  TGT_PORTALS=(127.0.0.1:3260 127.0.0.2:3261)
  TGT_DIR=$(mktemp -d)
  lab_cleanup() {
    dmsetup remove "$DM_NAME" 2>/dev/null
    iscsiadm -m node -T "$TGT_IQN" --logout >/dev/null 2>&1
    iscsiadm -m node -T "$TGT_IQN" -o delete >/dev/null 2>&1
    tgtadm --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1
    pkill -x tgtd 2>/dev/null
    rm -rf "$TGT_DIR"
    rmmod scsi_debug 2>/dev/null
    return 0
  }
  finish() { uninstall_rules; lab_cleanup; echo "RESULT: $PASSES passed, $FAILS failures"; exit "$FAILS"; }
fi

RULES_NAME=60-pathagent-pure.rules
RULES=${PATHAGENT_UDEV_RULES:-}
for c in "$RULES" /lab/udev/$RULES_NAME "$HERE/../../udev/$RULES_NAME"; do
  [ -n "$c" ] && [ -f "$c" ] && { RULES=$c; break; }
done
DM_NAME=3624a9370000000000000000000000001
MON_PID=

install_rules() {
  run install -m 0644 "$RULES" /etc/udev/rules.d/$RULES_NAME && run udevadm control --reload
}
uninstall_rules() {
  [ -n "$MON_PID" ] && kill "$MON_PID" 2>/dev/null
  rm -f /etc/udev/rules.d/$RULES_NAME
  udevadm control --reload 2>/dev/null
  return 0
}
# attr_is DEV RELPATH VALUE: /sys/block/DEV/RELPATH equals VALUE (scheduler: the [selected] one)
attr_is() {
  local v; v=$(cat "/sys/block/$1/$2" 2>/dev/null) || return 1
  [[ $2 == queue/scheduler ]] && { [[ $v == *"[$3]"* || $v == "$3" ]]; return; }
  [ "$v" = "$3" ]
}
show() { local d=$1 a; for a in queue/scheduler queue/add_random queue/rq_affinity queue/max_sectors_kb device/timeout; do
  [ -e "/sys/block/$d/$a" ] && echo "  $d $a = $(cat /sys/block/$d/$a)"; done; }
pure_disks() {
  local b
  for b in /sys/block/sd*; do
    grep -qs '^PURE' "$b/device/vendor" && grep -qs 'FlashArray' "$b/device/model" && basename "$b"
  done
  return 0
}

step setup
[ -n "$RULES" ] && [ -f "$RULES" ] || { bad "rules file $RULES_NAME not found (set PATHAGENT_UDEV_RULES or share udev/ at /lab/udev)"; finish; }
check "rules installed into /etc/udev/rules.d and udev reloaded" install_rules
trap uninstall_rules EXIT
ip addr show dev lo | grep -q 'inet 127.0.0.2/' || ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
modprobe iscsi_tcp; modprobe dm_mod
mkdir -p "$TGT_DIR"
pgrep -x tgtd >/dev/null || run tgtd --iscsi "portal=${TGT_PORTALS[0]}"
wait_for 10 tgtadm --op show --mode sys >/dev/null 2>&1 || bad "tgtd did not come up"
run tgtadm --lld iscsi --op new --mode portal --param "portal=${TGT_PORTALS[1]}"
run tgtadm --lld iscsi --op new --mode target --tid 1 -T "$TGT_IQN"
truncate -s 256M "$TGT_DIR/pure1.img"
run tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$TGT_DIR/pure1.img"
# tgtadm(8): vendor_id / product_id / product_rev / scsi_sn are the INQUIRY strings
check "tgt LUN poses as PURE FlashArray" run tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun 1 \
  --params vendor_id=PURE,product_id=FlashArray,product_rev=6.5,scsi_sn=9714B5CB91634C470002B2C8,thin_provisioning=1
run tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
for p in "${TGT_PORTALS[@]}"; do run iscsiadm -m discovery -t sendtargets -p "$p" >/dev/null; done
for p in "${TGT_PORTALS[@]}"; do run iscsiadm -m node -T "$TGT_IQN" -p "$p" --login >/dev/null; done
udevadm settle --timeout=20
wait_until 10 '[ "$(pure_disks | wc -l)" -ge 2 ]'
mapfile -t DISKS < <(pure_disks)
echo "PURE disks: ${DISKS[*]}"
[ ${#DISKS[@]} -ge 2 ] && ok "two PURE paths (${DISKS[*]})" || { bad "expected two PURE paths, got ${#DISKS[@]}"; finish; }

step sd_paths
udevadm settle --timeout=20
for d in "${DISKS[@]}"; do
  show "$d"
  check "$d queue/scheduler none" attr_is "$d" queue/scheduler none
  check "$d queue/add_random 0" attr_is "$d" queue/add_random 0
  check "$d queue/rq_affinity 2" attr_is "$d" queue/rq_affinity 2
  check "$d queue/max_sectors_kb 4096" attr_is "$d" queue/max_sectors_kb 4096
  check "$d device/timeout 60" attr_is "$d" device/timeout 60
  check "$d tagged pathagent" eval "udevadm info -q property -n /dev/$d | grep -qx 'TAGS=.*:pathagent:.*\|CURRENT_TAGS=.*:pathagent:.*'"
done

step dm_map
SECTORS=$(cat /sys/block/${DISKS[0]}/size)
run dmsetup create "$DM_NAME" --table "0 $SECTORS linear /dev/${DISKS[0]} 0"
udevadm settle --timeout=20
DM=$(basename "$(readlink -f /dev/mapper/$DM_NAME)")
echo "map $DM_NAME is $DM"
show "$DM"
check "$DM (DM_NAME $DM_NAME) queue/scheduler none" attr_is "$DM" queue/scheduler none
check "$DM queue/add_random 0" attr_is "$DM" queue/add_random 0
check "$DM queue/rq_affinity 2" attr_is "$DM" queue/rq_affinity 2
check "$DM queue/max_sectors_kb 4096" attr_is "$DM" queue/max_sectors_kb 4096
run dmsetup remove "$DM_NAME"
# a map that is not a Pure WWN is left alone
run dmsetup create pathagent-other --table "0 $SECTORS linear /dev/${DISKS[0]} 0"
udevadm settle --timeout=20
OTHER=$(basename "$(readlink -f /dev/mapper/pathagent-other)")
# bio-based dm devices start with rq_affinity 0 (kernel 6.1), so 2 on the Pure map above
# was the rule's doing and must not appear here
check "$OTHER (name not 3624a937*) is left alone: rq_affinity not set to 2" eval "! attr_is $OTHER queue/rq_affinity 2"
show "$OTHER"
run dmsetup remove pathagent-other

step unit_attentions
# scsi_debug raises CAPACITY DATA HAS CHANGED when virtual_gb changes and REPORTED LUNS
# DATA HAS CHANGED when max_luns changes; the kernel turns them into change uevents with
# SDEV_UA=... once a command sees the unit attention.
MON=$(mktemp)
udevadm monitor --udev --property --subsystem-match=scsi >"$MON" 2>&1 &
MON_PID=$!
if run modprobe scsi_debug inq_vendor=PURE inq_product=FlashArray dev_size_mb=64 max_luns=1 num_tgts=1 virtual_gb=1; then
  udevadm settle --timeout=20
  SDBG=$(pure_disks | while read -r d; do [[ " ${DISKS[*]} " == *" $d "* ]] || echo "$d"; done | head -1)
  echo "scsi_debug PURE disk: ${SDBG:-none}"
  echo 2 > /sys/bus/pseudo/drivers/scsi_debug/virtual_gb
  [ -n "$SDBG" ] && dd if=/dev/$SDBG of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null
  wait_for 10 grep -q 'SDEV_UA=CAPACITY_DATA_HAS_CHANGED' "$MON"
  check "capacity change uevent marked PATHAGENT_EVENT=capacity_changed" wait_for 5 grep -q 'PATHAGENT_EVENT=capacity_changed' "$MON"
  echo 2 > /sys/bus/pseudo/drivers/scsi_debug/max_luns
  [ -n "$SDBG" ] && dd if=/dev/$SDBG of=/dev/null bs=4k count=1 iflag=direct skip=1 2>/dev/null
  check "reported LUNs change uevent marked PATHAGENT_EVENT=luns_changed" wait_for 10 grep -q 'PATHAGENT_EVENT=luns_changed' "$MON"
  grep -E 'SDEV_UA|PATHAGENT|TAGS' "$MON" | sort | uniq -c | sed 's/^/  /'
else
  bad "scsi_debug with inq_vendor/inq_product did not load"
fi
kill "$MON_PID" 2>/dev/null; MON_PID=
rm -f "$MON"

step teardown
# CURRENT_TAGS are the tags of a device's last event: a change event before and after the
# removal shows the rules applied, then no longer applied
# tagged DEV: 0 its last event was tagged pathagent, 1 it was not, 2 no event could be made
tagged() {
  udevadm trigger --action=change "/sys/block/$1" && udevadm settle --timeout=10 || return 2
  udevadm info -q property -n "/dev/$1" | grep -q '^CURRENT_TAGS=.*:pathagent:' && return 0
  return 1
}
check "with the rules installed, a change event on ${DISKS[0]} is tagged pathagent" tagged "${DISKS[0]}"
uninstall_rules
check "rules file removed from /etc/udev/rules.d" test ! -e /etc/udev/rules.d/$RULES_NAME
tagged "${DISKS[0]}"; RC=$?
check "after the removal and reload, a change event on ${DISKS[0]} is no longer tagged pathagent (rc $RC)" test $RC = 1
finish
