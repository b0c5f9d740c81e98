#!/bin/bash
# Session CHAP through the daemon, on a LUN above 255 with SAM2 addressing. tgt requires
# CHAP on the target and presents LUN 256 (tgt reports and decodes LUNs above 255 in flat
# space addressing, so the host scans SCSI LUN 16384 + 256). A wrong password: the attach
# fails with an error that says the login was refused, and leaves nothing behind: no
# session, no disk, no node record holding the password. The right one: LUN 256 attaches
# at SCSI LUN 16640 on both portals and carries I/O; the detach logs out and deletes the
# node records, so the secret stays on no disk.
. "$(dirname "$0")/lib.sh"
PATHCTL=$LAB_BIN/pathctl
AGENT=$LAB_BIN/pathagent
W=/tmp/chap; mkdir -p $W /run/pathagent /var/lib/pathagent
LUN=256 SCSI_LUN=$((16384 + 256))
CHAP_USER=lab-chap
CHAP_SECRET=chap-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
WRONG=wrong-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
NODE_DIRS="/etc/iscsi/nodes /etc/iscsi/send_targets /var/lib/iscsi"

wwn_of_lun() { printf '360000000000000000e0000000001%04x' "$1"; }
props() {  # NAME PASSWORD -> connection properties of LUN 256 with SAM2 addressing
  cat > $W/p$1.json <<J
{"target_discovered": false, "discard": true, "addressing_mode": "SAM2",
 "auth_method": "CHAP", "auth_username": "$CHAP_USER", "auth_password": "$2",
 "target_portals": ["${TGT_PORTALS[0]}", "${TGT_PORTALS[1]}"],
 "target_iqns": ["$TGT_IQN", "$TGT_IQN"], "target_luns": [$LUN, $LUN], "wwn": "$(wwn_of_lun $LUN)"}
J
  echo $W/p$1.json
}
sd_of_lun() { for d in /sys/bus/scsi/devices/*:*:*:$1; do [ -e "$d/block" ] && ls "$d/block"; done 2>/dev/null; }
sessions() { iscsiadm -m session 2>/dev/null | grep -c "$TGT_IQN"; }
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1" 2>/dev/null; }

step setup
check "tgtd up with 2 portals" lab_tgt_start 0
truncate -s 32M $TGT_DIR/lun$LUN.img
lun256() {
  run tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun $LUN -b $TGT_DIR/lun$LUN.img &&
    run tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun $LUN --params thin_provisioning=1
}
check "tgt presents LUN $LUN" lun256
check "target requires session CHAP" lab_tgt_chap "$CHAP_USER" "$CHAP_SECRET"
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
modprobe dm_multipath; modprobe dm_queue_length
start_agent() {
  "$AGENT" --socket /run/pathagent/pathagent.sock > $W/agent.log 2>&1 &
  AGENT_PID=$!
  wait_for 30 test -S /run/pathagent/pathagent.sock
}
check "pathagent starts" start_agent

step wrong_password
if "$PATHCTL" connect --json "$(props wrong "$WRONG")" > $W/cw.json 2> $W/cw.err; then bad "attach with a wrong CHAP password fails"
else ok "attach with a wrong CHAP password fails"; fi
cat $W/cw.err
check "the error says the login was refused (authorization)" grep -qi 'authori[sz]ation\|authentication' $W/cw.err
check "no session left" test "$(sessions)" = 0
check "no disk of SCSI LUN $SCSI_LUN" test -z "$(sd_of_lun $SCSI_LUN)"
check "no map" bash -c "! dmsetup info '$(wwn_of_lun $LUN)' >/dev/null 2>&1"
ls -R /etc/iscsi/nodes 2>/dev/null | head -5
check "no node record holds the wrong password" bash -c "! grep -rqsF -- '$WRONG' $NODE_DIRS"
check "no node record of the target left" test -z "$(ls /etc/iscsi/nodes 2>/dev/null)"
check "the wrong password is in neither pathctl's output nor the daemon's log" bash -c "! grep -qsF -- '$WRONG' $W/cw.json $W/cw.err $W/agent.log"

step right_password
T0=$(lab_up)
if run "$PATHCTL" connect --json "$(props right "$CHAP_SECRET")" > $W/cr.json 2> $W/cr.err; then ok "attach with the right CHAP password ($(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}') s)"
else bad "attach with the right CHAP password: $(cat $W/cr.err)"; fi
cat $W/cr.json
DEV=$(jget $W/cr.json "['path']")
check "two sessions" test "$(sessions)" = 2
check "LUN $LUN is SCSI LUN $SCSI_LUN on both portals ($(sd_of_lun $SCSI_LUN | tr '\n' ' '))" test "$(sd_of_lun $SCSI_LUN | wc -l)" = 2
check "map of LUN $LUN's WWN with two paths" bash -c "[ \$(dmsetup table '$(wwn_of_lun $LUN)' | grep -o ' [0-9]*:[0-9]* ' | wc -l) = 2 ]"
dd if=/dev/urandom of=$W/pat bs=64k count=16 status=none
check "I/O through the map" bash -c "dd if=$W/pat of='$DEV' bs=64k oflag=direct status=none && dd if='$DEV' bs=64k count=16 iflag=direct status=none | cmp - $W/pat"

step detach
if run "$PATHCTL" disconnect "$W/pright.json" > $W/d.json 2> $W/d.err; then ok "detach"; else bad "detach: $(cat $W/d.err)"; fi
check "sessions logged out" test "$(sessions)" = 0
check "no disk of SCSI LUN $SCSI_LUN" test -z "$(sd_of_lun $SCSI_LUN)"
check "no node record keeps the CHAP secret" bash -c "! grep -rqsF -- '$CHAP_SECRET' $NODE_DIRS"
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
check "the daemon's log never contains either password" bash -c "test -s $W/agent.log && ! grep -qsF -e '$CHAP_SECRET' -e '$WRONG' $W/agent.log"
finish
