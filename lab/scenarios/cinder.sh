#!/bin/bash
# OpenStack end to end: Cinder's real PureISCSIDriver (PyPI cinder 29 + py-pure-client,
# installed in the guest image) against fa-sim bound to tgt (the array's volumes are real
# LUNs over two portals), and the compute side as Nova's libvirt iSCSI volume driver
# calls os-brick: the drop-in connector (brick/) enabled, os-brick's factory called by the
# unprivileged user `nova` in the agent's api.group. create_volume, the host's connector
# properties, initialize_connection, connect_volume through pathagent, data written and
# read back, extend through Cinder then the connector, disconnect_volume,
# terminate_connection, delete_volume, nothing left on the host or the array; then the
# same with CHAP (use_chap_auth), with no secret in the agent's log. lab/tools/cinder_e2e.py
# drives it.
. "$(dirname "$0")/lib.sh"
mkdir -p /run/lab-bin && cp $LAB_BIN/pathagent /run/lab-bin/
AGENT=/run/lab-bin/pathagent
PKI=$LAB/pki
W=/tmp/cinder; rm -rf $W; mkdir -p $W /run/pathagent /var/lib/pathagent
chmod 755 $W
SIM_PORT=8443

step setup
check "cinder and py-pure-client are in the guest's Python" python3 -c "from cinder import objects; objects.register_all(); import cinder.volume.drivers.pure, pypureclient.flasharray"
lab_fa_array $W $SIM_PORT
lab_nova_agent $W $AGENT

step cinder_end_to_end
lab_watch 600
T0=$(lab_up)
FA_TOKEN=$(cat $W/token) AGENT_LOG=$W/agent.log LAB_PYCLIENT=$LAB/pyclient \
  lab_tally python3 -u $LAB/tools/cinder_e2e.py 127.0.0.1:$SIM_PORT $PKI/ca.pem $W \
  setpriv --reuid nova --regid nova --init-groups python3 $W/nova.py
lab_watch 0
check "the end to end ran to its end ($(cat $W/e2e.done 2>/dev/null || echo 0) checks of the driver's and the host's state)" test -s $W/e2e.done
echo "cinder end to end: $(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.1f", b-a}') s"
check "nothing of the array left on the host (no PURE disk, no map, no session)" bash -c \
  "! grep -qs '^PURE' /sys/block/sd*/device/vendor && [ -z \"\$(dmsetup ls --target multipath 2>/dev/null | grep 3624a9370)\" ] && ! iscsiadm -m session >/dev/null 2>&1"
check "the daemon served every call and is still running" kill -0 $AGENT_PID

step disable
check "pathagent-brick disable" run python3 -m pathagent_brick disable
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null
cp $W/agent.log $LAB_OUT/cinder-daemon.log 2>/dev/null
cp $W/sim.log $LAB_OUT/cinder-fa-sim.log 2>/dev/null
finish
