#!/bin/bash
# Lab scenario: pathctl unmap / lba-status / inquiry / discard-check on a real kernel,
# against a thin scsi_debug LU with small limits so chunking is exercised
# (UNMAP at most 2048 blocks and 4 descriptors per command, granularity 8 blocks),
# then through a dm-multipath map built on it, then the mounted-device refusal.
#
# Self-contained (plain bash, needs only /lab/bin/pathctl, sg3-utils, dmsetup, e2fsprogs).
# Output protocol of the lab: "STEP name: N.Ns", "PASS: what", "FAIL: what",
# "RESULT: ..."; the exit status is the number of failures.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PATHCTL=${PATHCTL:-/lab/bin/pathctl}
OUT=${LAB_OUT:-/lab/out}/unmap
mkdir -p "$OUT"
FAILS=0 PASSES=0
up() { cut -d' ' -f1 /proc/uptime; }
_T=$(up) _N=init
step() { local t; t=$(up); echo "STEP $_N: $(awk -v a="$_T" -v b="$t" 'BEGIN{printf "%.1f", b-a}')s"; _N=$1; _T=$t; echo; echo "===== $1"; }
ok()  { echo "PASS: $*"; PASSES=$((PASSES + 1)); }
bad() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
run() { echo "+ $*" >&2; "$@"; }
# jget FILE EXPR: one value from a JSON file (jq when present, python3 otherwise)
jget() {
  if command -v jq >/dev/null; then jq -r "$2" "$1"
  else python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$3"; fi
}
# last JSON line (the "result" event) of pathctl unmap --json
result_of() { tail -n 1 "$1" >"$1.result"; echo "$1.result"; }
MAP=""
cleanup() {
  mountpoint -q /mnt/unmap-test 2>/dev/null && umount /mnt/unmap-test
  [ -n "$MAP" ] && dmsetup remove "$MAP" 2>/dev/null
  modprobe -r scsi_debug 2>/dev/null
  return 0
}
trap cleanup EXIT

[ -x "$PATHCTL" ] || { bad "pathctl present at $PATHCTL"; echo "RESULT: $PASSES passed, $FAILS failures"; exit "$FAILS"; }

##########################################################################
step scsi_debug
modprobe sd_mod; modprobe sg
modprobe -r scsi_debug 2>/dev/null
run modprobe scsi_debug lbpu=1 lbprz=1 dev_size_mb=256 unmap_granularity=8 unmap_max_blocks=2048 unmap_max_desc=4
udevadm settle
SD=""
for b in /sys/block/sd*; do grep -qs scsi_debug "$b/device/model" && SD=$(basename "$b"); done
if [ -z "$SD" ]; then bad "scsi_debug disk appeared"; echo "RESULT: $PASSES passed, $FAILS failures"; exit "$FAILS"; fi
check "scsi_debug disk /dev/$SD is a block device" test -b /dev/$SD
SG=/dev/$(ls "/sys/block/$SD/device/scsi_generic/" 2>/dev/null | head -1)
MIB=1048576
echo "disk /dev/$SD sg $SG provisioning_mode $(cat /sys/block/$SD/device/scsi_disk/*/provisioning_mode) discard_max_bytes $(cat /sys/block/$SD/queue/discard_max_bytes)"

##########################################################################
step inquiry
run "$PATHCTL" inquiry "/dev/$SD" >"$OUT/inquiry.txt" 2>&1; rc=$?
cat "$OUT/inquiry.txt"
check "pathctl inquiry exits 0" test $rc = 0
check "inquiry: vendor Linux, product scsi_debug" grep -q 'Product identification: scsi_debug' "$OUT/inquiry.txt"
check "inquiry: LBPU=1" grep -q 'Unmap command supported (LBPU): 1' "$OUT/inquiry.txt"
check "inquiry: maximum unmap LBA count 2048" grep -q 'Maximum unmap LBA count: 2048' "$OUT/inquiry.txt"
check "inquiry: maximum unmap block descriptor count 4" grep -q 'Maximum unmap block descriptor count: 4' "$OUT/inquiry.txt"
check "inquiry: optimal unmap granularity 8" grep -q 'Optimal unmap granularity: 8 blocks' "$OUT/inquiry.txt"
check "inquiry: thin (LBPME=1)" grep -q 'Thin provisioning: LBPME=1' "$OUT/inquiry.txt"
"$PATHCTL" inquiry --json "/dev/$SD" >"$OUT/inquiry.json" 2>&1
WWID=$(cat /sys/block/$SD/device/wwid 2>/dev/null)
WWN=3${WWID#naa.}
check "inquiry --json WWN $WWN matches sysfs wwid $WWID" test "$(jget "$OUT/inquiry.json" .wwn "d['wwn']")" = "$WWN"

step discard_check
run "$PATHCTL" discard-check "/dev/$SD" >"$OUT/discard-check.txt" 2>&1; rc=$?
cat "$OUT/discard-check.txt"
check "discard-check healthy on the sd (exit 0)" test $rc = 0

##########################################################################
step write
run dd if=/dev/urandom of="$OUT/ref.img" bs=1M count=64 status=none
run dd if="$OUT/ref.img" of=/dev/$SD bs=1M oflag=direct status=none
"$PATHCTL" lba-status --json "/dev/$SD" --range 0:64M >"$OUT/lba-written.json" 2>&1
check "lba-status: 64 MiB written are mapped" test "$(jget "$OUT/lba-written.json" .mappedBlocks "d['mappedBlocks']")" = 131072

step unmap_range
# 16 MiB from 8 MiB: 32768 blocks at LBA 16384; 2048 blocks per command -> 16 UNMAP commands
run "$PATHCTL" unmap --json --yes "/dev/$SD" --range 8M:16M >"$OUT/unmap-range.jsonl" 2>"$OUT/unmap-range.err"; rc=$?
cat "$OUT/unmap-range.jsonl" | head -3; tail -n 1 "$OUT/unmap-range.jsonl"; cat "$OUT/unmap-range.err"
R=$(result_of "$OUT/unmap-range.jsonl")
check "pathctl unmap --range 8M:16M exits 0" test $rc = 0
check "result ok" test "$(jget "$R" .ok "d['ok']")" = true
check "16 MiB deallocated" test "$(jget "$R" .result.bytesDeallocated "d['result']['bytesDeallocated']")" = $((16 * MIB))
check "16 commands of at most 2048 blocks" test "$(jget "$R" .result.commandsCompleted "d['result']['commandsCompleted']")" = 16
check "no command rejected or retried" test "$(jget "$R" .result.commandsSent "d['result']['commandsSent']")" = 16
check "progress events emitted" grep -q '"event":"progress"' "$OUT/unmap-range.jsonl"
run sg_get_lba_status --lba=16384 "$SG" | tee "$OUT/gls-16384.txt"
check "sg_get_lba_status: LBA 16384 deallocated" grep -Eiq 'deallocated|unmapped' "$OUT/gls-16384.txt"
run sg_get_lba_status --lba=49152 "$SG" | tee "$OUT/gls-49152.txt"
check "sg_get_lba_status: LBA 49152 (24 MiB) still mapped" grep -Eiq '\bmapped' "$OUT/gls-49152.txt"
"$PATHCTL" lba-status "/dev/$SD" --range 0:64M | tee "$OUT/lba-after.txt"
"$PATHCTL" lba-status --json "/dev/$SD" --range 0:64M >"$OUT/lba-after.json"
check "lba-status: 32768 blocks deallocated" test "$(jget "$OUT/lba-after.json" .deallocatedBlocks "d['deallocatedBlocks']")" = 32768
check "lba-status: 98304 blocks still mapped" test "$(jget "$OUT/lba-after.json" .mappedBlocks "d['mappedBlocks']")" = 98304
check "lba-status: deallocated extent is LBA 16384-49151" grep -Eq 'LBA 16384-49151 .* deallocated' "$OUT/lba-after.txt"
check "data before the range intact" cmp -n $((8 * MIB)) "$OUT/ref.img" /dev/$SD
check "data after the range intact" cmp -i $((24 * MIB)) -n $((40 * MIB)) "$OUT/ref.img" /dev/$SD
check "unmapped range reads zeros (LBPRZ=1)" cmp -i $((8 * MIB)):0 -n $((16 * MIB)) /dev/$SD /dev/zero

step unaligned
# bytes 1000..101000: blocks 1..197 touched, whole granules of 8 are LBA 8..191
run "$PATHCTL" unmap --json "/dev/$SD" --range 1000:100000 >"$OUT/unmap-unaligned.jsonl" 2>&1
R=$(result_of "$OUT/unmap-unaligned.jsonl")
check "unaligned: LBA 8+184 deallocated" test "$(jget "$R" '.result.plan.deallocated | "\(.lba)+\(.count)"' "'%d+%d' % (d['result']['plan']['deallocated']['lba'], d['result']['plan']['deallocated']['count'])")" = "8+184"
check "unaligned: partial granules left mapped" test "$(jget "$R" '.result.plan.leftMapped | length' "len(d['result']['plan']['leftMapped'])")" = 2
check "unaligned: block 0-7 data intact" cmp -n 4096 "$OUT/ref.img" /dev/$SD
"$PATHCTL" lba-status --json "/dev/$SD" --range 0:8LBA >"$OUT/lba-head.json"
check "unaligned: first granule still mapped" test "$(jget "$OUT/lba-head.json" .mappedBlocks "d['mappedBlocks']")" = 8

##########################################################################
step multipath_map
modprobe dm_multipath; modprobe dm_queue_length 2>/dev/null
SECTORS=$(cat /sys/block/$SD/size)
DEVNO=$(cat /sys/block/$SD/dev)
MAP=$WWN
# No --uuid mpath-<wwn>: in the lab image a map with that uuid has its only path failed
# within 0.3 s by multipath-tools' udev helpers (multipath -u/-U: not with udev stopped,
# nor with the disk blacklisted in multipath.conf; foreign.sh blacklists it).
# pathctl finds the map by its slaves either way.
if run dmsetup create "$MAP" --table "0 $SECTORS multipath 0 0 1 1 queue-length 0 1 1 $DEVNO 1"; then
  udevadm settle
  DM=$(basename "$(readlink -f /dev/mapper/$MAP)")
  ok "dm multipath map $MAP ($DM) over /dev/$SD"
  echo "map status: $(dmsetup status "$MAP")"
  run "$PATHCTL" discard-check "/dev/mapper/$MAP" >"$OUT/discard-check-map.txt" 2>&1; rc=$?
  cat "$OUT/discard-check-map.txt"
  check "discard-check on the map: exit 0" test $rc = 0
  check "discard-check on the map checks its discard_max_bytes" grep -q "$DM .*discard.map.discard_max_bytes" "$OUT/discard-check-map.txt"
  echo "map status before I/O: $(dmsetup status "$MAP")"
  check "write through the map" dd if="$OUT/ref.img" of=/dev/mapper/$MAP bs=1M count=8 seek=32 skip=32 oflag=direct status=none
  echo "map status after I/O: $(dmsetup status "$MAP")"
  dmesg | grep -Ei 'dm-|multipath|device-mapper|blk_|sd[a-z]* ' | tail -n 15
  run "$PATHCTL" unmap --json "/dev/mapper/$MAP" --range 32M:4M >"$OUT/unmap-map.jsonl" 2>&1; rc=$?
  R=$(result_of "$OUT/unmap-map.jsonl")
  cat "$R"
  check "unmap through the map: exit 0 (own map is not 'in use')" test $rc = 0
  check "unmap through the map: 4 MiB via the sd's path" test "$(jget "$R" .result.bytesDeallocated "d['result']['bytesDeallocated']")" = $((4 * MIB))
  "$PATHCTL" lba-status --json "$WWN" --range 32M:8M >"$OUT/lba-map.json" 2>&1
  check "lba-status by WWN: 4 MiB deallocated, 4 MiB mapped" test "$(jget "$OUT/lba-map.json" '"\(.deallocatedBlocks)/\(.mappedBlocks)"' "'%d/%d' % (d['deallocatedBlocks'], d['mappedBlocks'])")" = "8192/8192"
  check "map data after the range intact" cmp -i $((36 * MIB)) -n $((4 * MIB)) "$OUT/ref.img" /dev/mapper/$MAP
  run dmsetup remove "$MAP" && MAP=""
else
  bad "dmsetup create multipath map over /dev/$SD"
fi

##########################################################################
step whole_device
run "$PATHCTL" unmap "/dev/$SD" --all >/dev/null 2>"$OUT/all-noyes.err"; rc=$?
check "--all without --yes is refused (exit 64)" test $rc = 64
run "$PATHCTL" unmap --json "/dev/$SD" --all --yes --parallel 8 >"$OUT/unmap-all.jsonl" 2>&1; rc=$?
R=$(result_of "$OUT/unmap-all.jsonl")
check "--all --yes exits 0" test $rc = 0
check "--all deallocates 256 MiB" test "$(jget "$R" .result.bytesDeallocated "d['result']['bytesDeallocated']")" = $((256 * MIB))
check "--all: 256 commands of 2048 blocks, none rejected" test "$(jget "$R" '"\(.result.commandsCompleted)/\(.result.commandsSent)"' "'%d/%d' % (d['result']['commandsCompleted'], d['result']['commandsSent'])")" = "256/256"
"$PATHCTL" lba-status --json "/dev/$SD" >"$OUT/lba-all.json"
check "lba-status: whole device deallocated" test "$(jget "$OUT/lba-all.json" .mappedBlocks "d['mappedBlocks']")" = 0

##########################################################################
step in_use
# another process holding the disk with O_EXCL (as mkfs, LVM or a VM would): EBUSY
python3 -c 'import os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL); print("held", flush=True); time.sleep(60)' "/dev/$SD" >"$OUT/holder.out" 2>&1 &
HOLDER=$!
for i in $(seq 50); do grep -q held "$OUT/holder.out" 2>/dev/null && break; sleep 0.1; done
run "$PATHCTL" unmap "/dev/$SD" --range 0:1M >/dev/null 2>"$OUT/excl.err"; rc=$?
cat "$OUT/excl.err"
check "device held O_EXCL by another process is refused (exit 1)" test $rc = 1
check "refusal says exclusive open refused: EBUSY" grep -q 'exclusive open refused: EBUSY' "$OUT/excl.err"
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null
run mkfs.ext4 -q -E nodiscard -F /dev/$SD
mkdir -p /mnt/unmap-test
if run mount /dev/$SD /mnt/unmap-test; then
  run "$PATHCTL" unmap "/dev/$SD" --range 0:1M >/dev/null 2>"$OUT/mounted.err"; rc=$?
  cat "$OUT/mounted.err"
  check "mounted device is refused (exit 1)" test $rc = 1
  check "refusal names the mount point" grep -q 'mounted on /mnt/unmap-test' "$OUT/mounted.err"
  run "$PATHCTL" unmap "/dev/$SD" --range 200M:1M --force >/dev/null 2>&1
  check "--force overrides the refusal" test $? = 0
  umount /mnt/unmap-test
else
  bad "mount the ext4 on /dev/$SD"
fi

step end
echo "RESULT: $PASSES passed, $FAILS failures"
exit "$FAILS"
