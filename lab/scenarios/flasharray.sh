#!/bin/bash
# FlashArray control plane end to end: fa-sim (the REST 2.x simulator, TLS with the lab CA
# from /lab/pki) binds volumes to a real tgtd target (vendor PURE, the volume's WWN in VPD
# 0x83) over two portals; `pathctl attach --backend` reads a cinder.conf Pure stanza,
# registers this host on the array, connects the volume and hands the properties to
# pathagent, which builds the multipath map. I/O through the map, the daemon's in-process
# path-health report read back from the array (`pathctl array-health`), then
# `pathctl detach --backend` leaves no disk or map behind.
. "$(dirname "$0")/lib.sh"
PATHCTL=$LAB_BIN/pathctl
AGENT=$LAB_BIN/pathagent
PKI=$LAB/pki
W=/tmp/fa; mkdir -p $W /run/pathagent /var/lib/pathagent /etc/pathagent
SIM_PORT=8443
VOL=vol-lab1
BACKEND=pure-lab
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1" 2>/dev/null; }
pure_disks() { for b in /sys/block/sd*; do [ -e "$b/device/vendor" ] && grep -qs '^PURE' "$b/device/vendor" && basename "$b"; done; return 0; }
el() { awk -v a=$1 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}'; }

step setup
lab_fa_array $W $SIM_PORT
cat $W/sim.log
# the volume, created on the array over REST (what an operator or Cinder does)
cat > $W/mkvol.py <<'PY'
import json, ssl, sys, urllib.request
base, token, ca, name = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
def req(method, path, headers={}, body=None):
    r = urllib.request.Request(base + path, method=method, headers=dict(headers, **{"Content-Type": "application/json"}),
                               data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(r, context=ctx) as resp:
        return resp.headers, json.load(resp)
_, v = req("GET", "/api/api_version")
ver = v["version"][-1]
h, _ = req("POST", f"/api/{ver}/login", {"api-token": token})
auth = {"x-auth-token": h["x-auth-token"]}
_, out = req("POST", f"/api/{ver}/volumes?names={name}", auth, {"provisioned": 1 << 30})
print(out["items"][0]["serial"].lower())
PY
SERIAL=$(python3 $W/mkvol.py https://127.0.0.1:$SIM_PORT "$(cat $W/token)" $PKI/ca.pem $VOL)
check "volume $VOL created on the array (serial $SERIAL)" test -n "$SERIAL"
WWN=3624a9370$SERIAL
cat > $W/cinder.conf <<EOC
[DEFAULT]
enabled_backends = $BACKEND
[$BACKEND]
volume_driver = cinder.volume.drivers.pure.PureISCSIDriver
volume_backend_name = $BACKEND
san_ip = 127.0.0.1:$SIM_PORT
pure_api_token = $(cat $W/token)
driver_ssl_cert_verify = True
driver_ssl_cert_path = $PKI/ca.pem
use_multipath_for_image_xfer = True
EOC
chmod 600 $W/cinder.conf
"$PATHCTL" doctor --json --cinder-conf $W/cinder.conf > $W/doctor.json 2> $W/doctor.err
check "pathctl doctor --cinder-conf: the backend stanza is valid (cinder.conf ok, no cinder.* error)" python3 -c "
import json; d=json.load(open('$W/doctor.json')); c=[f for f in d['findings'] if f['id'].startswith('cinder.')]
print(c); assert any(f['id']=='cinder.conf' and f['severity']=='ok' for f in c) and not any(f['severity']=='error' for f in c)"
cat > /etc/pathagent/pathagent.conf <<EOC
[api]
socket = /run/pathagent/pathagent.sock
[flasharray]
cinder_conf = $W/cinder.conf
backend = $BACKEND
report_interval = 2
EOC
start_agent() {
  rm -f /run/pathagent/pathagent.sock
  "$AGENT" --config /etc/pathagent/pathagent.conf > $W/agent.log 2>&1 &
  AGENT_PID=$!
  wait_for 30 test -S /run/pathagent/pathagent.sock
}
check "pathagent starts with the [flasharray] reporter configured" start_agent

step attach
T0=$(lab_up)
if run "$PATHCTL" attach --json --backend $BACKEND --cinder-conf $W/cinder.conf $VOL > $W/a.json 2> $W/a.err; then
  ok "pathctl attach --backend $BACKEND $VOL ($(el $T0) s)"; else bad "pathctl attach: $(cat $W/a.err)"; fi
cat $W/a.json
DEV=$(jget $W/a.json "['path']")
check "device is /dev/dm-N with the Pure WWN $WWN" bash -c "[[ '$DEV' == /dev/dm-* ]] && [ '$(jget $W/a.json "['scsi_wwn']")' = '$WWN' ]"
P=($(pure_disks))
check "two PURE FlashArray paths (${P[*]})" test ${#P[@]} = 2
check "dm map named by the WWN" dmsetup info "$WWN"
check "no secret in the output" bash -c "! grep -q '$(cat $W/token)' $W/a.json $W/a.err $W/agent.log $W/sim.log"
iscsiadm -m session

step io
dd if=/dev/urandom of=$W/pat bs=1M count=16 status=none
T0=$(lab_up)
check "16 MiB written through the map" dd if=$W/pat of="$DEV" bs=64k oflag=direct status=none
check "read back intact" bash -c "dd if='$DEV' bs=1M count=16 iflag=direct status=none | cmp - $W/pat"
echo "io: $(el $T0) s"

step array_health
# the daemon reports after a change and every report_interval seconds
T0=$(lab_up)
health_ok() { "$PATHCTL" array-health --json --backend $BACKEND --cinder-conf $W/cinder.conf > $W/h.json 2> $W/h.err; }
if wait_for 30 health_ok; then ok "array-health: status ok as the array reads it ($(el $T0) s after I/O)"; else bad "array-health: $(cat $W/h.json $W/h.err)"; fi
cat $W/h.json
check "the array's record shows 1 volume with 2/2 active paths on both controllers" python3 -c "
import json; h=json.load(open('$W/h.json'))
assert h['volumes']==1 and h['paths']['active']==2 and h['paths']['total']==2, h
assert len([k for k,v in h['perController'].items() if v['active']==1])==2, h['perController']"
echo offline > /sys/block/${P[0]}/device/state
dd if="$DEV" of=/dev/null bs=4k count=16 iflag=direct status=none
T0=$(lab_up)
degraded() { "$PATHCTL" array-health --json --backend $BACKEND --cinder-conf $W/cinder.conf > $W/h2.json 2> $W/h2.err; python3 -c "
import json,sys; h=json.load(open('$W/h2.json')); sys.exit(0 if h['status']=='degraded' and 'failed-paths' in h['flags'] else 1)"; }
if wait_for 40 degraded; then ok "a failed path reaches the array's record as degraded/failed-paths ($(el $T0) s)"; else bad "array never showed the failed path: $(cat $W/h2.json)"; fi
echo running > /sys/block/${P[0]}/device/state
wait_for 25 bash -c "[ \$(dmsetup status '$WWN' | grep -o ' A ' | wc -l) -ge 2 ]"
T0=$(lab_up)
if wait_for 40 health_ok; then ok "reinstated path: the array's record is ok again ($(el $T0) s)"; else bad "array-health stayed $(cat $W/h.json)"; fi

step detach
T0=$(lab_up)
if run "$PATHCTL" detach --backend $BACKEND --cinder-conf $W/cinder.conf $VOL > $W/d.out 2> $W/d.err; then
  ok "pathctl detach --backend $BACKEND $VOL ($(el $T0) s)"; else bad "pathctl detach: $(cat $W/d.err)"; fi
cat $W/d.out
udevadm settle --timeout=10
check "no PURE disk left" test -z "$(pure_disks)"
check "no dm map left" bash -c "! dmsetup info '$WWN' >/dev/null 2>&1 && [ -z \"\$(dmsetup ls --target multipath 2>/dev/null | grep -v 'No devices')\" ]"
check "no iSCSI session left" bash -c "! iscsiadm -m session >/dev/null 2>&1"
check "the array no longer connects $VOL to this host" bash -c "! tgtadm --lld iscsi --op show --mode target | grep -q 'LUN: [1-9]'"

step stop
kill $AGENT_PID 2>/dev/null; wait $AGENT_PID 2>/dev/null
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null
echo "--- agent log (tail)"; tail -n 30 $W/agent.log
finish
