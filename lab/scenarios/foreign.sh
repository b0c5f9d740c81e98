#!/bin/bash
# Foreign maps are left alone. The daemon owns one volume's map (attached through it from
# tgt over two portals); beside it, a map of multipathd's shape (name <wwn>, uuid
# mpath-<wwn>) is made by hand over a scsi_debug disk. Its path is failed and reinstated
# by hand and its sd set offline: the daemon sends it no message and reloads nothing
# (its table, status and dm event counter move only with our own messages, and the
# daemon's log never names it), while the same done to a path of the daemon's own map is
# acted on (an offline path failed within 1 s, a path failed by hand reinstated by the
# checker). `pathctl maps` marks each map pathagent or foreign. An attach of a volume
# whose map name is taken by a foreign map is refused and leaves that map as it was.
. "$(dirname "$0")/lib.sh"
PATHCTL=$LAB_BIN/pathctl
AGENT=$LAB_BIN/pathagent
W=/tmp/foreign; mkdir -p $W /run/pathagent /var/lib/pathagent

wwn_of_lun() { printf '360000000000000000e0000000001%04x' "$1"; }
props() {  # LUN -> connection properties (tgt over both portals)
  cat > $W/p$1.json <<J
{"target_discovered": false, "discard": true,
 "target_portals": ["${TGT_PORTALS[0]}", "${TGT_PORTALS[1]}"],
 "target_iqns": ["$TGT_IQN", "$TGT_IQN"], "target_luns": [$1, $1], "wwn": "$(wwn_of_lun $1)"}
J
  echo $W/p$1.json
}
# the tgt disks at LUN N (scsi_debug's disks sit at LUNs 0 and 1 of their own host)
sd_of_lun() {
  for d in /sys/bus/scsi/devices/*:*:*:$1; do
    [ -e "$d/block" ] && grep -qs VIRTUAL-DISK "$d/model" && ls "$d/block"
  done 2>/dev/null
}
events() { dmsetup info -c --noheadings -o events "$1" 2>/dev/null | tr -d ' '; }
path_is() { dmsetup status "$1" | grep -q " $2 $3 "; }  # MAP MAJ:MIN A|F
el() { awk -v a=$1 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}'; }
# a map of multipathd's shape over one disk: NAME, uuid mpath-NAME
foreign_map() {
  run dmsetup create "$1" --uuid "mpath-$1" \
    --table "0 $(cat /sys/block/$2/size) multipath 0 0 1 1 queue-length 0 1 1 $(cat /sys/block/$2/dev) 1"
}

step setup
check "tgtd up with 2 portals and 2 thin LUNs" lab_tgt_start 2 32M
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
modprobe dm_multipath; modprobe dm_queue_length
check "two scsi_debug disks" lab_scsi_debug max_luns=2
# multipath-tools' udev helpers (multipath -u / -U) act on maps of this shape: in the lab
# they fail the only path of a fresh one over scsi_debug within a second, and again after
# each reinstatement (not with udev stopped, nor with the disk blacklisted). Blacklisted
# here, so that every change to the foreign maps comes from this scenario or the daemon.
cat > /etc/multipath.conf <<EOC
blacklist {
    device {
        vendor "Linux"
        product "scsi_debug"
    }
}
EOC
trap 'rm -f /etc/multipath.conf' EXIT
# the checker every 2 s, so that "the daemon would have reinstated it" is seen quickly
lab_agent_conf $W
start_agent() {
  "$AGENT" --config $W/agent.conf > $W/agent.log 2>&1 &
  AGENT_PID=$!
  wait_for 30 test -S /run/pathagent/pathagent.sock
}
check "pathagent starts (checker every 2 s)" start_agent
W1=$(wwn_of_lun 1)
if run "$PATHCTL" connect --json "$(props 1)" > $W/c1.json 2> $W/c1.err; then ok "daemon attaches LUN 1 (its own map $W1)"; else bad "connect LUN 1: $(cat $W/c1.err)"; fi
P=($(sd_of_lun 1))
check "own map has two paths (${P[*]})" test ${#P[@]} = 2 -a "$(dmsetup table "$W1" 2>/dev/null | grep -o ' [0-9]*:[0-9]* ' | wc -l)" = 2
OWN=$(cat /sys/block/${P[0]}/dev)

step foreign_map
SD=${SD_DEBUG_DISKS[0]}
WWID=$(cat /sys/block/$SD/device/wwid)
FW=3${WWID#naa.}
FDEV=$(cat /sys/block/$SD/dev)
check "foreign map $FW (uuid mpath-$FW) over $SD ($FDEV)" foreign_map "$FW" "$SD"
udevadm settle --timeout=10
check "foreign map's path is active" path_is "$FW" "$FDEV" A
# the view: a poll interval for the daemon to have looked at the new map
sleep 0.5
"$PATHCTL" maps --json > $W/maps.json 2> $W/maps.err; echo "pathctl maps --json exit $?"
"$PATHCTL" maps --no-settings > $W/maps.txt 2>&1; cat $W/maps.txt
check "pathctl maps --json: $W1 is the agent's, $FW is foreign" python3 - $W/maps.json "$W1" "$FW" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); own, foreign = sys.argv[2], sys.argv[3]
m = {x["name"]: x for x in d["maps"]}
assert m[own]["owner"] == "pathagent" and m[own]["uuid"] == "mpath-" + own, m.get(own)
assert m[foreign]["owner"] == "foreign" and m[foreign]["uuid"] == "mpath-" + foreign, m.get(foreign)
assert len(m[foreign]["paths"]) == 1 and m[foreign]["paths"][0]["dmState"] == "active", m[foreign]
assert not m[foreign]["settings"], m[foreign]
PY
check "pathctl maps (text) marks the maps owner=pathagent and owner=foreign" \
  bash -c "grep -q '^$W1 .* owner=pathagent ' $W/maps.txt && grep -q '^$FW .* owner=foreign ' $W/maps.txt"
TABLE0=$(dmsetup table "$FW"); E0=$(events "$FW")
echo "foreign table: $TABLE0; events $E0"

step fail_path_by_hand
# the same by hand on both maps: the daemon's checker reinstates its own path (TUR up),
# and must leave the foreign one failed
run dmsetup message "$W1" 0 fail_path "$OWN"
run dmsetup message "$FW" 0 fail_path "$FDEV"
T0=$(lab_up)
check "foreign path failed by hand (events $E0 -> $(events "$FW"))" bash -c "dmsetup status '$FW' | grep -q ' $FDEV F ' && [ $(events "$FW") = $((E0 + 1)) ]"
if wait_for 8 path_is "$W1" "$OWN" A; then ok "own path failed by hand is reinstated by the daemon's checker ($(el $T0) s)"
else bad "daemon did not reinstate its own map's path within 8 s"; fi
# one more checker round for the foreign map
sleep 2.5
check "foreign path still failed $(el $T0) s later: not reinstated" path_is "$FW" "$FDEV" F
check "foreign map's event counter moved only with our message ($(events "$FW") = $((E0 + 1)))" test "$(events "$FW")" = $((E0 + 1))
"$PATHCTL" maps --json > $W/maps2.json 2>/dev/null; RC=$?
check "pathctl maps exits 0: the agent's paths are all active, a foreign map's failed path does not count" test $RC = 0
check "pathctl maps --json shows the foreign path failed (kernel state, read only)" python3 -c "
import json; m={x['name']:x for x in json.load(open('$W/maps2.json'))['maps']}
f=m['$FW']; assert f['owner']=='foreign' and f['activePaths']==0 and f['paths'][0]['dmState']=='failed', f"
run dmsetup message "$FW" 0 reinstate_path "$FDEV"
check "foreign path reinstated by hand" bash -c "dmsetup status '$FW' | grep -q ' $FDEV A ' && [ $(events "$FW") = $((E0 + 2)) ]"

step offline_sd
# both sd devices offline at once, no I/O: the daemon's state poll fails its own path in
# its map within 1 s and must not touch the foreign map
# (the time taken is the daemon's own record of the change against the offline write)
T0US=$(lab_offline_at ${P[0]} $SD)
T0=$(lab_up)
if wait_for 5 lab_agent_failed_at "$W1" "$OWN" >/dev/null; then
  DT=$(awk -v a=$T0US -v b=$(lab_agent_failed_at "$W1" "$OWN") 'BEGIN{printf "%.3f", (b-a)/1e6}')
  check "daemon failed its own offline path within 1 s (took $DT s)" awk -v d=$DT 'BEGIN{exit !(d < 1.0)}'
  check "dm shows its own path $OWN failed" path_is "$W1" "$OWN" F
else bad "daemon did not fail its own offline path within 5 s"; fi
sleep 1.5
check "foreign path still active with its sd offline $(el $T0) s" path_is "$FW" "$FDEV" A
check "foreign map's event counter unchanged ($(events "$FW") = $((E0 + 2)))" test "$(events "$FW")" = $((E0 + 2))
echo running > /sys/block/${P[0]}/device/state
echo running > /sys/block/$SD/device/state
check "own path reinstated by the checker" wait_for 8 path_is "$W1" "$OWN" A

step foreign_map_of_the_volume
# LUN 2's map name is taken by a foreign map (over another scsi_debug disk): the attach
# is refused, the foreign map keeps its table, and LUN 2's disks are removed again
W2=$(wwn_of_lun 2); SD2=${SD_DEBUG_DISKS[1]}
check "foreign map named $W2 over $SD2" foreign_map "$W2" "$SD2"
TABLE2=$(dmsetup table "$W2"); E2=$(events "$W2")
if "$PATHCTL" connect --json "$(props 2)" > $W/c2.json 2> $W/c2.err; then bad "attach of LUN 2 over a foreign map of its name was refused"
else ok "attach of LUN 2 over a foreign map of its name was refused"; fi
cat $W/c2.err
check "the error says the map is not pathagent's" grep -q "not pathagent's" $W/c2.err
check "the foreign map $W2 keeps its table and event counter" bash -c "[ '$(dmsetup table "$W2")' = '$TABLE2' ] && [ $(events "$W2") = $E2 ]"
check "LUN 2's disks removed again" wait_until 10 '[ -z "$(sd_of_lun 2)" ]'
run dmsetup remove "$W2"

step detach_own
if run "$PATHCTL" disconnect "$W/p1.json" > $W/d1.json 2> $W/d1.err; then ok "disconnect LUN 1"; else bad "disconnect LUN 1: $(cat $W/d1.err)"; fi
check "own map and its disks gone" bash -c "! dmsetup info '$W1' >/dev/null 2>&1 && [ -z \"\$(sd_of_lun 1)\" ]"
check "foreign map untouched throughout: same table, active, events $((E0 + 2))" \
  bash -c "[ '$(dmsetup table "$FW")' = '$TABLE0' ] && dmsetup status '$FW' | grep -q ' $FDEV A ' && [ $(events "$FW") = $((E0 + 2)) ]"
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
grep -F "$W1" $W/agent.log | grep -c "path state changed" | sed 's/^/daemon log: path changes of its own map: /'
check "daemon's log shows its own map's path changes" grep -q "path state changed.*$W1\|$W1.*path state changed" $W/agent.log
# (LUN 2's WWN is in the log: the refused attach was of that volume)
check "daemon's log never names the foreign map $FW" bash -c "! grep -q '$FW' $W/agent.log"
grep "$FW" $W/agent.log | head -5
run dmsetup remove "$FW"
finish
