#!/bin/bash
# Attach/detach through pathagent's engine against the real kernel: tgt with two portals
# and several thin LUNs, open-iscsi sessions created by the engine, targeted scans,
# WWN checks, dm-multipath maps built through libdevmapper, exact detaches.
. "$(dirname "$0")/lib.sh"
PROBE=$LAB_BIN/engine-probe
W=/tmp/attach; mkdir -p $W

step setup
check "tgtd up with 2 portals and 4 thin LUNs" lab_tgt_start 4 64M
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
check "engine-probe shared into the guest" test -x "$PROBE"
modprobe dm_multipath; modprobe dm_queue_length; modprobe dm_service_time; modprobe dm_round_robin

# tgt's LU designator: NAA 6, IEEE 000000, vendor-specific from SCSI ID "IET 000T000L"
wwn_of_lun() { printf '360000000000000000e0000000001%04x' "$1"; }
props() {  # LUN WWN -> request file (what Cinder's Pure driver sends, for tgt)
  cat > $W/req$1.json <<J
{"protocol": "iscsi", "connection_properties": {
  "target_discovered": false, "discard": true, "addressing_mode": "SAM2",
  "target_portals": ["${TGT_PORTALS[0]}", "${TGT_PORTALS[1]}"],
  "target_iqns": ["$TGT_IQN", "$TGT_IQN"],
  "target_luns": [$1, $1], "wwn": "$2"}}
J
  echo $W/req$1.json
}
json() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval('d'+sys.argv[1]))" "$2"; }
sessions() { iscsiadm -m session 2>/dev/null | grep -c "$TGT_IQN"; }
sd_of_lun() { for d in /sys/bus/scsi/devices/*:*:*:$1; do [ -e "$d/block" ] && ls "$d/block"; done 2>/dev/null; }

step attach_fresh_login
W1=$(wwn_of_lun 1)
T0=$(lab_up)
if run "$PROBE" connect "$(props 1 "$W1")" > $W/c1.json 2> $W/c1.err; then ok "connect LUN 1"; else bad "connect LUN 1: $(cat $W/c1.err)"; fi
echo "attach took $(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}') s"; cat $W/c1.json; tail -5 $W/c1.err
DEV1=$(json $W/c1.json "['path']" 2>/dev/null)
check "device_info path is a dm device ($DEV1)" bash -c "[[ '$DEV1' == /dev/dm-* ]] && test -b '$DEV1'"
check "device_info scsi_wwn is the LUN's WWN" test "$(json $W/c1.json "['scsi_wwn']" 2>/dev/null)" = "$W1"
check "two sessions logged in" test "$(sessions)" = 2
check "two sd paths for LUN 1" test "$(sd_of_lun 1 | wc -l)" = 2
TABLE=$(dmsetup table "$W1"); echo "table: $TABLE"
check "dm map named by WWN with 2 paths" bash -c "dmsetup table '$W1' | grep -q 'multipath' && [ \$(dmsetup table '$W1' | grep -o ' [0-9]*:[0-9]* ' | wc -l) -ge 2 ]"
check "dm uuid is mpath-<wwn>" test "$(dmsetup info -c --noheadings -o uuid "$W1")" = "mpath-$W1"
dd if=/dev/urandom of=$W/pat bs=1M count=8 status=none
check "write through the map" dd if=$W/pat of="$DEV1" bs=1M oflag=direct status=none
check "read back through the map" bash -c "dd if='$DEV1' bs=1M count=8 iflag=direct status=none | cmp - $W/pat"

step attach_second_lun_reuses_sessions
W2=$(wwn_of_lun 2)
if run "$PROBE" connect "$(props 2 "$W2")" > $W/c2.json 2> $W/c2.err; then ok "connect LUN 2"; else bad "connect LUN 2: $(cat $W/c2.err)"; fi
cat $W/c2.json
DEV2=$(json $W/c2.json "['path']" 2>/dev/null)
check "still two sessions (reused)" test "$(sessions)" = 2
check "LUN 2 map is a different dm device" bash -c "[ -b '$DEV2' ] && [ '$DEV2' != '$DEV1' ]"

step detach_first_keeps_sessions
echo '{"protocol":"iscsi","connection_properties":'"$(python3 -c "import json; print(json.dumps(json.load(open('$W/req1.json'))['connection_properties']))")"',"device_info":{"type":"block","path":"'$DEV1'","scsi_wwn":"'$W1'"}}' > $W/d1.json
if run "$PROBE" disconnect $W/d1.json > $W/dd1.json 2> $W/dd1.err; then ok "disconnect LUN 1"; else bad "disconnect LUN 1: $(cat $W/dd1.err)"; fi
cat $W/dd1.json
check "LUN 1 map gone" bash -c "! dmsetup info '$W1' >/dev/null 2>&1"
check "LUN 1 sd devices gone" test -z "$(sd_of_lun 1)"
check "sessions kept (LUN 2 still uses them)" test "$(sessions)" = 2
check "LUN 2 still readable" dd if="$DEV2" of=/dev/null bs=1M count=4 iflag=direct status=none

step wwn_mismatch_refused
BADW=3624a93709714b5cb91634c4700000099
if "$PROBE" connect "$(props 3 "$BADW")" > $W/c3.json 2> $W/c3.err; then bad "connect with a wrong wwn was refused"; else ok "connect with a wrong wwn was refused"; fi
cat $W/c3.err | tail -3
check "error names the WWN mismatch" grep -q "WWN mismatch" $W/c3.err
check "no sd device of LUN 3 left behind" test -z "$(sd_of_lun 3)"
check "no map for the wrong WWN" bash -c "! dmsetup info '$BADW' >/dev/null 2>&1"

step extend
truncate -s 96M $TGT_DIR/lun2.img
# tgt reads the backing file's size when the LU is (re)created
run tgtadm --lld iscsi --op delete --mode logicalunit --tid 1 --lun 2
run tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 -b $TGT_DIR/lun2.img
run tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun 2 --params thin_provisioning=1
if run "$PROBE" extend $W/req2.json > $W/e2.json 2> $W/e2.err; then ok "extend LUN 2"; else bad "extend LUN 2: $(cat $W/e2.err)"; fi
cat $W/e2.json
check "new size is 96 MiB" test "$(json $W/e2.json "['new_size']" 2>/dev/null)" = $((96 << 20))
check "map resized to 96 MiB" test "$(blockdev --getsize64 "$DEV2" 2>/dev/null)" = $((96 << 20))

step detach_last_logs_out
echo '{"protocol":"iscsi","connection_properties":'"$(python3 -c "import json; print(json.dumps(json.load(open('$W/req2.json'))['connection_properties']))")"'}' > $W/d2.json
if run "$PROBE" disconnect $W/d2.json > $W/dd2.json 2> $W/dd2.err; then ok "disconnect LUN 2"; else bad "disconnect LUN 2: $(cat $W/dd2.err)"; fi
cat $W/dd2.json
check "sessions logged out" test "$(sessions)" = 0
check "no sd device of the target left" test -z "$(disks_by_model VIRTUAL-DISK)"
check "no dm device left" test -z "$(dmsetup ls --target multipath | grep -v 'No devices')"

finish
