#!/bin/bash
# pathagent beside a running multipathd. Two Pure-looking tgt LUNs (vendor PURE, product
# FlashArray) over two portals; multipath.conf lets multipathd have LUN 1 only (every
# wwid blacklisted but LUN 1's), so multipathd builds and owns map W1 over both paths of
# LUN 1, while the daemon attaches LUN 2 (its map W2).
# The daemon leaves W1 alone: `pathctl maps` shows it foreign; a path of W1 set offline
# without I/O stays active in W1 well past the daemon's state poll (250 ms) and checker
# (2 s), is failed by multipathd's checker and reinstated by it once back (multipathd's
# log says so, the daemon's never names W1); an attach of LUN 1 is refused and leaves W1
# and its disks as they were; a SIGKILL and restart (reconcile) claims nothing of W1; the
# detach of LUN 2 removes W2 and its disks and keeps both sessions, which carry W1's paths.
# The other way round: multipathd takes every map whose dm uuid starts with mpath- for
# one of its own, pathagent's included (same shape, for os-brick's
# /dev/disk/by-id/dm-uuid-mpath-<wwn>). With W2's paths blacklisted it flushes W2 on the
# map's own 'change' uevent, a second after the attach returned: checked as the reason
# README and `pathctl doctor` (an error) say multipathd must not run beside pathagent;
# a W2 held open (as a guest's disk would be) survives multipathd's start and
# reconfigure. Last, the same with `pathctl config multipath` (--mode agent) as
# multipath.conf: multipathd removes W2 there too.
. "$(dirname "$0")/lib.sh"
PATHCTL=$LAB_BIN/pathctl
AGENT=$LAB_BIN/pathagent
W=/tmp/multipathd; mkdir -p $W /run/pathagent /var/lib/pathagent

wwn_of_lun() { printf '360000000000000000e0000000001%04x' "$1"; }
props() {  # LUN -> connection properties (tgt over both portals)
  cat > $W/p$1.json <<J
{"target_discovered": false, "discard": true,
 "target_portals": ["${TGT_PORTALS[0]}", "${TGT_PORTALS[1]}"],
 "target_iqns": ["$TGT_IQN", "$TGT_IQN"], "target_luns": [$1, $1], "wwn": "$(wwn_of_lun $1)"}
J
  echo $W/p$1.json
}
sd_of_lun() { for d in /sys/bus/scsi/devices/*:*:*:$1; do [ -e "$d/block" ] && ls "$d/block"; done 2>/dev/null; }
events() { dmsetup info -c --noheadings -o events "$1" 2>/dev/null | tr -d ' '; }
path_is() { dmsetup status "$1" 2>/dev/null | grep -q " $2 $3 "; }  # MAP MAJ:MIN A|F
active_paths() { dmsetup status "$1" 2>/dev/null | grep -o ' [0-9]*:[0-9]* A ' | wc -l; }
sessions() { iscsiadm -m session 2>/dev/null | grep -c "$TGT_IQN"; }
el() { awk -v a=$1 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}'; }
W1=$(wwn_of_lun 1) W2=$(wwn_of_lun 2)

step setup
check "tgtd up with 2 portals and 2 thin LUNs" lab_tgt_start 2 32M
for i in 1 2; do
  tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun $i --params vendor_id=PURE,product_id=FlashArray >/dev/null || bad "vendor PURE on LUN $i"
done
modprobe dm_multipath; modprobe dm_queue_length; modprobe dm_service_time 2>/dev/null
# multipathd may have LUN 1's WWN and nothing else; its checker every 5 s
cat > /etc/multipath.conf <<EOC
defaults {
    user_friendly_names no
    find_multipaths no
    polling_interval 5
}
blacklist {
    wwid ".*"
}
blacklist_exceptions {
    wwid "^$W1\$"
}
EOC
trap 'rm -f /etc/multipath.conf' EXIT
multipathd -d -s -v3 > $W/multipathd.log 2>&1 &
MPD_PID=$!
check "multipathd runs" wait_for 30 bash -c "multipathd show daemon 2>/dev/null | grep -q pid"
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
login() {
  local p
  for p in "${TGT_PORTALS[@]}"; do run iscsiadm -m discovery -t sendtargets -p "$p" >/dev/null || return 1; done
  for p in "${TGT_PORTALS[@]}"; do run iscsiadm -m node -T "$TGT_IQN" -p "$p" --login >/dev/null || return 1; done
  udevadm settle --timeout=20
  wait_until 20 '[ "$(sd_of_lun 1 | wc -l)" = 2 ] && [ "$(sd_of_lun 2 | wc -l)" = 2 ]'
}
check "logged in to both portals (the host's own sessions: LUNs 1 and 2 scanned)" login
check "multipathd built W1 $W1 over both paths of LUN 1" wait_until 30 '[ "$(active_paths "$W1")" = 2 ]'
P1=($(sd_of_lun 1))
multipathd show maps; multipathd show paths
# the checker every 2 s and the state poll at 250 ms: the daemon would act on a path of
# its own map well within the waits below
lab_agent_conf $W
start_agent() {
  [ -f $W/agent.log ] && cat $W/agent.log >> $W/agent-earlier.log
  rm -f /run/pathagent/pathagent.sock
  "$AGENT" --config $W/agent.conf > $W/agent.log 2>&1 &
  AGENT_PID=$!
  wait_for 30 test -S /run/pathagent/pathagent.sock
}
check "pathagent starts" start_agent
if run "$PATHCTL" connect --json "$(props 2)" > $W/c2.json 2> $W/c2.err; then ok "daemon attaches LUN 2 (its own map $W2) beside multipathd"; else bad "connect LUN 2: $(cat $W/c2.err)"; fi
TW2=$(dmsetup table "$W2" 2>/dev/null); TW1=$(dmsetup table "$W1")
echo "W1 (multipathd): $TW1"; echo "W2 (pathagent, right after the attach): ${TW2:-gone already}"
"$PATHCTL" maps --json > $W/maps.json 2>/dev/null
"$PATHCTL" maps --no-settings 2>&1
check "pathctl maps: W1 is foreign with its 2 paths" python3 - $W/maps.json "$W1" <<'PY'
import json, sys
m = {x["name"]: x for x in json.load(open(sys.argv[1]))["maps"]}
assert m[sys.argv[2]]["owner"] == "foreign" and len(m[sys.argv[2]]["paths"]) == 2, m.get(sys.argv[2])
PY
"$PATHCTL" doctor --json > $W/doctor.json 2>/dev/null
python3 -c "
import json
d = json.load(open('$W/doctor.json'))
fs = d.get('findings', []) if isinstance(d, dict) else d
for f in fs:
    if f.get('id') in ('multipath.multipathd', 'multipath.claims'):
        print('doctor:', f.get('id'), f.get('severity'), '-', f.get('found'))
" 2>/dev/null || echo "doctor output not parsed"
check "pathctl doctor reports the running multipathd as an error (multipath.claims)" python3 -c "
import json, sys
d = json.load(open('$W/doctor.json'))
fs = d.get('findings', []) if isinstance(d, dict) else d
sys.exit(0 if any(f.get('id') == 'multipath.claims' and f.get('severity') == 'error' for f in fs) else 1)"

step multipathd_and_the_agents_map
# multipathd sees W2 appear: a map of its own shape (uuid mpath-<wwid>) over paths it
# blacklists. pathagent's maps must stay as the daemon built them.
sleep 3
grep -F "$W2" $W/multipathd.log | grep -vE "uid =|blacklisted" | head -8
# README (Coexisting with multipathd) and doctor say multipathd must not run beside
# pathagent because of this: checked, so that the day it stops holding the docs change
check "multipathd removed the daemon's map W2 (its paths are blacklisted): why it must not run beside pathagent" \
  wait_for 10 bash -c "! dmsetup info '$W2' >/dev/null 2>&1"
grep -E "$W2: (map flushed|removed map)" $W/multipathd.log | head -2 | sed 's/^/multipathd: /'
grep -F "$W2" $W/agent.log | grep -v "volume attached" | head -3 | sed 's/^/daemon: /'
# once more, held open, as a guest's disk is: multipathd stopped, the volume attached
# again (its disks are still there), the map opened, multipathd started and reconfigured
kill $MPD_PID; wait $MPD_PID 2>/dev/null
if run "$PATHCTL" connect --json "$(props 2)" > $W/c2b.json 2> $W/c2b.err; then ok "LUN 2 attached again with multipathd stopped"; else bad "connect LUN 2 again: $(cat $W/c2b.err)"; fi
TW2=$(dmsetup table "$W2" 2>/dev/null)
DEV2=$(python3 -c "import json; print(json.load(open('$W/c2b.json'))['path'])" 2>/dev/null)
check "W2's device $DEV2 held open" wait_for 10 test -b "$DEV2"
sleep 600 < "$DEV2" & HOLD=$!
multipathd -d -s -v3 >> $W/multipathd.log 2>&1 &
MPD_PID=$!
check "multipathd runs again" wait_for 30 bash -c "multipathd show daemon 2>/dev/null | grep -q pid"
run multipathd reconfigure >/dev/null
sleep 5
check "W2, held open, survives multipathd's start and reconfigure unchanged" \
  bash -c "[ -n '$TW2' ] && [ '$(dmsetup table "$W2" 2>/dev/null)' = '$TW2' ] && [ $(active_paths "$W2") = 2 ]"
dmsetup table "$W2" 2>&1 | sed 's/^/W2 now: /'
kill $HOLD 2>/dev/null; wait $HOLD 2>/dev/null
check "W1 survives multipathd's restart and reconfigure with both paths" wait_until 20 '[ "$(active_paths "$W1")" = 2 ]'
TW1=$(dmsetup table "$W1")
W2_NOW=$(dmsetup info "$W2" >/dev/null 2>&1 && echo present || echo gone)
echo "W2 after the hold ended: $W2_NOW"

step fail_and_restore_multipathds_path
# multipathd is paused (SIGSTOP) around each change, so that whatever happens to W1 while
# it sleeps is the daemon's doing (no I/O, so the kernel fails nothing): the daemon's
# state poll (250 ms) and checker (2 s) would fail and reinstate a path of its own map
# within the 3 s waited here. Then multipathd runs on and does it itself.
E0=$(events "$W1"); DEV=$(cat /sys/block/${P1[0]}/dev)
ML0=$(wc -l < $W/multipathd.log)
kill -STOP $MPD_PID
run lab_offline_at ${P1[0]} >/dev/null
T0=$(lab_up); sleep 3
check "W1's path $DEV (${P1[0]} offline, no I/O, multipathd paused) still active $(el $T0) s later: the daemon did not fail it" path_is "$W1" "$DEV" A
check "W1's event counter unchanged ($(events "$W1") = $E0)" test "$(events "$W1")" = "$E0"
kill -CONT $MPD_PID
check "multipathd's checker fails it once it runs again" wait_for 40 path_is "$W1" "$DEV" F
E1=$(events "$W1"); echo "failed $(el $T0) s after the offline write; events $E0 -> $E1"
"$PATHCTL" maps --json > $W/maps2.json 2>/dev/null
check "pathctl maps shows W1's path failed (read only), still foreign" python3 -c "
import json; m={x['name']:x for x in json.load(open('$W/maps2.json'))['maps']}
f=m['$W1']; assert f['owner']=='foreign' and any(p['device']=='$DEV' and p['dmState']=='failed' for p in f['paths']), f"
kill -STOP $MPD_PID
echo running > /sys/block/${P1[0]}/device/state
T1=$(lab_up); sleep 3
check "W1's path back (${P1[0]} running, multipathd paused) still failed $(el $T1) s later: the daemon did not reinstate it" path_is "$W1" "$DEV" F
check "W1's event counter unchanged ($(events "$W1") = $E1)" test "$(events "$W1")" = "$E1"
kill -CONT $MPD_PID
check "multipathd reinstates it once it runs again" wait_for 40 path_is "$W1" "$DEV" A
echo "reinstated $(el $T1) s after the running write; events $(events "$W1")"
tail -n +$((ML0 + 1)) $W/multipathd.log | grep -E "$DEV|${P1[0]}" | grep -iE "checker failed|reinstated" | head -4 > $W/mpd-acts.txt; cat $W/mpd-acts.txt
check "multipathd's log records its own fail and reinstate of $DEV" \
  bash -c "grep -q 'checker failed path $DEV' $W/mpd-acts.txt && grep -q '$DEV: reinstated' $W/mpd-acts.txt"
check "W1's table unchanged" test "$(dmsetup table "$W1")" = "$TW1"
check "W1 carries I/O" dd if=/dev/mapper/$W1 of=/dev/null bs=64k count=16 iflag=direct status=none

step attach_of_multipathds_volume_refused
LOGN=$(wc -l < $W/agent.log)
check "the daemon's log has not named W1 so far ($LOGN lines)" bash -c "! cat $W/agent-earlier.log $W/agent.log 2>/dev/null | grep -q '$W1'"
if "$PATHCTL" connect --json "$(props 1)" > $W/c1.json 2> $W/c1.err; then bad "attach of LUN 1 (multipathd's map W1) refused"
else ok "attach of LUN 1 (multipathd's map W1) refused"; fi
cat $W/c1.err
check "the error says the map is not pathagent's" grep -q "not pathagent's" $W/c1.err
check "W1 keeps its table and both active paths" bash -c "[ '$(dmsetup table "$W1")' = '$TW1' ] && [ $(active_paths "$W1") = 2 ]"
check "LUN 1's disks (${P1[*]}) were there before and are still there" test "$(sd_of_lun 1 | tr '\n' ' ')" = "${P1[*]} "

step kill9_and_reconcile
kill -9 $AGENT_PID; wait $AGENT_PID 2>/dev/null
check "pathagent restarts (reconcile)" start_agent
claims() { python3 -c "
import sqlite3; c = sqlite3.connect('/var/lib/pathagent/journal.sqlite')
print('claims=' + ','.join(r[0] for r in c.execute('SELECT name FROM owned_maps')) + ' open=' + str(c.execute(\"SELECT count(*) FROM intents WHERE state='open'\").fetchone()[0]))"; }
CL=$(claims); echo "journal: $CL"
WANT="claims= open=0"; [ "$W2_NOW" = present ] && WANT="claims=$W2 open=0"
check "the journal claims no map of multipathd's and has no open intent ($CL)" test "$CL" = "$WANT"
check "W1 untouched by the restart" bash -c "[ '$(dmsetup table "$W1")' = '$TW1' ] && [ $(active_paths "$W1") = 2 ]"

step detach_own_beside_multipathd
if run "$PATHCTL" disconnect --json "$W/p2.json" > $W/d2.json 2> $W/d2.err; then ok "disconnect LUN 2"; else bad "disconnect LUN 2: $(cat $W/d2.err)"; fi
cat $W/d2.json; echo
lun2_gone() { ! dmsetup info "$W2" >/dev/null 2>&1 && [ -z "$(sd_of_lun 2)" ]; }
check "W2 and LUN 2's disks gone" lun2_gone
check "both sessions kept: they carry W1's paths" test "$(sessions)" = 2
check "W1 still has both paths and carries I/O" bash -c "[ $(active_paths "$W1") = 2 ] && dd if=/dev/mapper/$W1 of=/dev/null bs=64k count=16 iflag=direct status=none"
check "multipathd still has W1" bash -c "multipathd show maps 2>/dev/null | grep -q '$W1'"
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
cat $W/agent-earlier.log $W/agent.log > $W/agent-all.log 2>/dev/null
# (W1 is named by the refused attach of LUN 1: its request, the map it planned, its roll-back)
check "the daemon's log names W1 only for the refused attach of LUN 1" \
  bash -c "! grep '$W1' $W/agent-all.log | grep -vqE 'volumes/connect|map planned|failed attach rolled back|refusing to reload'"
grep "$W1" $W/agent-all.log | grep -vE 'volumes/connect|map planned|failed attach rolled back|refusing to reload' | head -5

step config_multipath_agent_mode
# the coexistence pathctl promises: with `pathctl config multipath` (--mode agent, the
# default) as multipath.conf, multipathd blacklists Pure devices and must leave the
# daemon's maps alone. (multipathd lets go of W1 now: it is a Pure device too.)
"$PATHCTL" config multipath > /etc/multipath.conf
grep -vE '^ *#' /etc/multipath.conf | sed 's/^/multipath.conf: /'
run multipathd reconfigure >/dev/null
sleep 3
check "pathagent starts again" start_agent
if run "$PATHCTL" connect --json "$(props 2)" > $W/c2c.json 2> $W/c2c.err; then ok "daemon attaches LUN 2 under pathctl's own multipath.conf"; else bad "connect LUN 2: $(cat $W/c2c.err)"; fi
TW2=$(dmsetup table "$W2" 2>/dev/null)
sleep 3
check "under pathctl config multipath's blacklist too, multipathd removed the daemon's map W2" \
  wait_for 10 bash -c "! dmsetup info '$W2' >/dev/null 2>&1"
"$PATHCTL" disconnect "$W/p2.json" > /dev/null 2>&1
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
kill $MPD_PID 2>/dev/null; wait $MPD_PID 2>/dev/null
cp $W/multipathd.log "$LAB_OUT/multipathd-multipathd.log" 2>/dev/null
cp $W/agent-all.log "$LAB_OUT/multipathd-agent-daemon.log" 2>/dev/null
dmsetup remove "$W1" 2>/dev/null
finish
