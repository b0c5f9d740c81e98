#!/bin/bash
# The whole os-brick API through the daemon's socket, called the way Nova's libvirt iSCSI
# volume driver calls os-brick: the drop-in package (brick/) is pip-installed into the
# guest's Python next to os-brick 7.1.1 and enabled with `pathagent-brick enable`, then an
# unprivileged user `nova` in the socket's api.group asks os-brick's own
# `InitiatorConnector.factory('ISCSI', ...)` for a connector and gets the agent's. Through
# it: connector properties, connect (data written and read back through the returned
# path), get_volume_paths, check_valid_device, extend_volume (the LUN grown on the target),
# disconnect with force while I/O runs, disconnect with ignore_errors of a volume that
# lost a disk, a user outside the group refused; nothing left at the end; `disable`
# gives os-brick's own connector back.
. "$(dirname "$0")/lib.sh"
mkdir -p /run/lab-bin && cp $LAB_BIN/pathctl $LAB_BIN/pathagent /run/lab-bin/
AGENT=/run/lab-bin/pathagent
W=/tmp/osbrick; mkdir -p $W /run/pathagent /var/lib/pathagent
chmod 755 $W

step setup
check "tgtd up with 2 portals and 3 thin LUNs" lab_tgt_start 3 32M
for i in 1 2 3; do tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun $i --params vendor_id=PURE,product_id=FlashArray >/dev/null; done
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
modprobe dm_multipath; modprobe dm_queue_length
id outsider >/dev/null 2>&1 || useradd -M -N -g nogroup -s /bin/false outsider
lab_nova_agent $W $AGENT
check "users nova (group nova) and outsider exist" bash -c 'id nova && id outsider' >/dev/null
python3 -m pathagent_brick status --json > $W/status.json; cat $W/status.json
check "pathagent-brick status says active" python3 -c "import json,sys; sys.exit(0 if json.load(open('$W/status.json')).get('state') == 'active' else 1)"

# $W/nova.py (lab/tools/nova_brick.py): what Nova's LibvirtISCSIVolumeDriver does with os-brick
nova() { setpriv --reuid nova --regid nova --init-groups python3 $W/nova.py "$@"; }
wwn_of_lun() { printf '360000000000000000e0000000001%04x' "$1"; }
props() {
  cat > $W/p$1.json <<J
{"target_discovered": false, "discard": true, "addressing_mode": "SAM2",
 "target_portals": ["${TGT_PORTALS[0]}", "${TGT_PORTALS[1]}"],
 "target_iqns": ["$TGT_IQN", "$TGT_IQN"], "target_luns": [$1, $1], "wwn": "$(wwn_of_lun $1)"}
J
  echo $W/p$1.json
}
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1" 2>/dev/null; }
sd_of_lun() { for d in /sys/bus/scsi/devices/*:*:*:$1; do [ -e "$d/block" ] && ls "$d/block"; done 2>/dev/null; }
sessions() { iscsiadm -m session 2>/dev/null | grep -c "$TGT_IQN"; }

step factory_and_connector
check "os-brick's factory('ISCSI') gives the agent's connector" test "$(nova class)" = pathagent_brick.connector.AgentISCSIConnector
nova connector > $W/conn.json; cat $W/conn.json
check "connector: the host's initiator IQN" test "$(jget $W/conn.json "['initiator']")" = "$(sed -n 's/^InitiatorName=//p' /etc/iscsi/initiatorname.iscsi)"
check "connector: Nova's my_ip and host kept, multipath on" test \
  "$(python3 -c "import json; d=json.load(open('$W/conn.json')); print(d['ip'], d['host'], d['multipath'])")" = "192.0.2.10 compute-1 True"

step connect_read_write
if nova connect "$(props 1)" > $W/c1.json; then ok "connect_volume LUN 1 (as nova)"; else bad "connect_volume LUN 1: $(cat $W/c1.json)"; fi
cat $W/c1.json
DEV1=$(jget $W/c1.json "['path']")
check "device_info: block, /dev/dm-N, scsi_wwn, multipath_id" python3 -c "
import json; d=json.load(open('$W/c1.json'))
assert d['type']=='block' and d['path'].startswith('/dev/dm-') and d['scsi_wwn']=='$(wwn_of_lun 1)' and d['multipath_id']=='$(wwn_of_lun 1)', d"
dd if=/dev/urandom of=$W/pat bs=1M count=4 status=none
check "write and read back through the returned path" bash -c "dd if=$W/pat of='$DEV1' bs=1M oflag=direct status=none && dd if='$DEV1' bs=1M count=4 iflag=direct status=none | cmp - $W/pat"
nova paths "$(props 1)" > $W/paths1.json; cat $W/paths1.json
GOT=$(python3 -c "import json; print(' '.join(sorted(p.split('/')[-1] for p in json.load(open('$W/paths1.json')))))" 2>/dev/null)
WANT=$(sd_of_lun 1 | sort | xargs)
check "get_volume_paths: the two sd disks of LUN 1 ($GOT)" test "$(sd_of_lun 1 | wc -l)" = 2 -a "$GOT" = "$WANT"
check "check_valid_device(returned path) is true" test "$(nova valid "$DEV1")" = true
check "check_valid_device(/dev/null) is false" test "$(nova valid /dev/null)" = false

step extend
truncate -s 64M $TGT_DIR/lun1.img
run tgtadm --lld iscsi --op delete --mode logicalunit --tid 1 --lun 1
run tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $TGT_DIR/lun1.img
tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun 1 --params vendor_id=PURE,product_id=FlashArray,thin_provisioning=1 >/dev/null
if nova extend "$(props 1)" > $W/e1.json; then ok "extend_volume LUN 1"; else bad "extend_volume LUN 1: $(cat $W/e1.json)"; fi
check "extend_volume returned 64 MiB" test "$(cat $W/e1.json)" = $((64 << 20))
check "the map is 64 MiB" test "$(blockdev --getsize64 "$DEV1")" = $((64 << 20))
check "data intact after the extend" bash -c "dd if='$DEV1' bs=1M count=4 iflag=direct status=none | cmp - $W/pat"

step disconnect_force_with_io
dd if=/dev/zero of="$DEV1" bs=64k count=200000 oflag=direct status=none 2>/dev/null &
DD=$!
sleep 1
if nova disconnect "$(props 1)" $W/c1.json force ignore > $W/d1.out; then ok "disconnect_volume(force, ignore_errors) while I/O runs"; else bad "disconnect with force: $(cat $W/d1.out)"; fi
kill $DD 2>/dev/null; wait $DD 2>/dev/null
check "no sd disk of LUN 1 left" wait_for 20 eval '[ -z "$(sd_of_lun 1)" ]'
check "no map of LUN 1 left (deferred remove done)" wait_for 20 eval "! dmsetup info '$(wwn_of_lun 1)' >/dev/null 2>&1"

step disconnect_ignore_errors_half_gone
if nova connect "$(props 2)" > $W/c2.json; then ok "connect_volume LUN 2"; else bad "connect_volume LUN 2: $(cat $W/c2.json)"; fi
GONE=$(sd_of_lun 2 | head -1)
[ -n "$GONE" ] && echo 1 > /sys/block/$GONE/device/delete
check "one disk of LUN 2 deleted behind the agent's back ($GONE)" wait_for 10 eval "[ ! -e /sys/block/$GONE ]"
if nova disconnect "$(props 2)" $W/c2.json ignore > $W/d2.out; then ok "disconnect_volume(ignore_errors) of the half-gone volume"; else bad "disconnect ignore_errors: $(cat $W/d2.out)"; fi
check "no sd disk of LUN 2 left" test -z "$(sd_of_lun 2)"
check "no map of LUN 2 left" bash -c "! dmsetup info '$(wwn_of_lun 2)' >/dev/null 2>&1"
check "sessions logged out (no LUN left on them)" wait_for 10 eval '[ "$(sessions)" = 0 ]'

step outsider_refused
setpriv --reuid outsider --regid nogroup --clear-groups python3 $W/nova.py connect "$(props 3)" > $W/c3.out
echo "outsider: $(cat $W/c3.out)"
check "a user outside api.group is refused" grep -q '^EXC ' $W/c3.out
check "and nothing was attached" test -z "$(sd_of_lun 3)"

step disable
check "pathagent-brick disable" run python3 -m pathagent_brick disable
check "os-brick's factory gives os-brick's own connector again" test "$(nova class)" = os_brick.initiator.connectors.iscsi.ISCSIConnector
check "no hook file left" bash -c "! ls /usr/local/lib/python3*/dist-packages/pathagent_brick.pth /usr/lib/python3/dist-packages/pathagent_brick.pth 2>/dev/null | grep -q ."
check "the daemon served every call and is still running" kill -0 $AGENT_PID
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
cp $W/agent.log $LAB_OUT/osbrick-daemon.log 2>/dev/null
finish
