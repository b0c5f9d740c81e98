#!/bin/bash
# The pathagent daemon against the real kernel: Pure-like LUNs (tgt reports vendor PURE,
# product FlashArray) over two iSCSI portals, attached with `pathctl connect` using the
# properties Cinder's Pure driver returns. Proves the multipath engine (Pure profile,
# both paths carry I/O, path failure seen by the agent within 1 s, reinstatement, no
# queueing when all paths are gone, recovery_tmo) and attach/detach (session reuse,
# exact detach, kill -9 mid-attach then reconciliation, 16 parallel attaches). The target
# requires session CHAP, so every property set carries a password: it must never reach
# the daemon's log, and no process's command line while the first attach logs in.
. "$(dirname "$0")/lib.sh"
# run the static binaries from tmpfs: paging 80 MB in over 9p costs seconds under TCG
mkdir -p /run/lab-bin && cp $LAB_BIN/pathctl $LAB_BIN/pathagent /run/lab-bin/
PATHCTL=/run/lab-bin/pathctl
AGENT=/run/lab-bin/pathagent
W=/tmp/agent; mkdir -p $W /run/pathagent /var/lib/pathagent
NLUNS=18

step setup
check "tgtd up with 2 portals and $NLUNS thin LUNs" lab_tgt_start $NLUNS 32M
for i in $(seq 1 $NLUNS); do
  tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun $i --params vendor_id=PURE,product_id=FlashArray >/dev/null || bad "vendor PURE on LUN $i"
done
# a fresh secret each run, so a hit can only come from this run's properties
CHAP_USER=lab-chap
CHAP_SECRET=chap-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
check "target requires session CHAP" lab_tgt_chap "$CHAP_USER" "$CHAP_SECRET"
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
modprobe dm_multipath; modprobe dm_queue_length
start_agent() {
  # each start's log replaces agent.log; the earlier ones are kept for the secrets check
  [ -f $W/agent.log ] && cat $W/agent.log >> $W/agent-earlier.log
  "$AGENT" --socket /run/pathagent/pathagent.sock > $W/agent.log 2>&1 &
  AGENT_PID=$!
  wait_for 30 test -S /run/pathagent/pathagent.sock
}
check "pathagent starts and listens" start_agent
wwn_of_lun() { printf '360000000000000000e0000000001%04x' "$1"; }
props() {  # LUN -> Pure-driver-shaped connection properties
  cat > $W/p$1.json <<J
{"target_discovered": false, "discard": true, "addressing_mode": "SAM2",
 "auth_method": "CHAP", "auth_username": "$CHAP_USER", "auth_password": "$CHAP_SECRET",
 "target_portals": ["${TGT_PORTALS[0]}", "${TGT_PORTALS[1]}"],
 "target_iqns": ["$TGT_IQN", "$TGT_IQN"], "target_luns": [$1, $1], "wwn": "$(wwn_of_lun $1)"}
J
  echo $W/p$1.json
}
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1" 2>/dev/null; }
sessions() { iscsiadm -m session 2>/dev/null | grep -c "$TGT_IQN"; }
sd_of_lun() { for d in /sys/bus/scsi/devices/*:*:*:$1; do [ -e "$d/block" ] && ls "$d/block"; done 2>/dev/null; }
no_disk_of_lun() { [ -z "$(sd_of_lun "$1")" ]; }
writes() { awk '{print $5}' /sys/block/$1/stat; }

step connect_pure_volume
# every process's command line, sampled in a tight loop while the attach logs in (the
# iscsiadm node updates that set the CHAP settings live for some tens of ms): the secret
# must be in none, iscsiadm's own included (`-n node.session.auth.password -v SECRET`
# would show here)
cat > $W/cmdline_watch.py <<'PY'
import os, sys
secret, stop, out, ready = sys.argv[1].encode(), sys.argv[2], sys.argv[3], sys.argv[4]
hits, tools, sweeps = {}, set(), 0
while not os.path.exists(stop):
    sweeps += 1
    if sweeps == 2:
        open(ready, "w").close()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == str(os.getpid()):
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read()
        except OSError:
            continue
        if argv.startswith(b"iscsiadm") or b"/iscsiadm\0" in argv:
            tools.add(pid)
        if secret in argv:
            hits[pid] = argv.replace(secret, b"<the secret>").replace(b"\0", b" ").decode(errors="replace")
with open(out, "w") as f:
    f.write(f"sweeps {sweeps} iscsiadm_processes {len(tools)} hits {len(hits)}\n")
    for pid, a in hits.items():
        f.write(f"{pid}: {a}\n")
PY
rm -f $W/cmdline.stop $W/cmdline.ready
python3 $W/cmdline_watch.py "$CHAP_SECRET" $W/cmdline.stop $W/cmdline.out $W/cmdline.ready &
WATCH_PID=$!
wait_for 10 test -e $W/cmdline.ready
T0=$(lab_up)
if run "$PATHCTL" connect --json "$(props 1)" > $W/c1.json 2> $W/c1.err; then ok "pathctl connect LUN 1 (session CHAP)"; else bad "pathctl connect LUN 1: $(cat $W/c1.err)"; fi
echo "attach: $(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}') s"; cat $W/c1.json
touch $W/cmdline.stop; wait $WATCH_PID
cat $W/cmdline.out
read -r _ SWEEPS _ NTOOLS _ NHITS < $W/cmdline.out
check "the /proc sampler saw the attach's iscsiadm processes ($NTOOLS in $SWEEPS sweeps)" test "${NTOOLS:-0}" -gt 0
check "no process's /proc/PID/cmdline held the CHAP secret while the attach ran ($NHITS did)" test "${NHITS:-1}" = 0
check "the CHAP secret is not in pathctl's output" bash -c "! grep -qF -- '$CHAP_SECRET' $W/c1.json $W/c1.err"
DEV1=$(jget $W/c1.json "['path']"); W1=$(wwn_of_lun 1)
check "device is /dev/dm-N with the volume's WWN" bash -c "[[ '$DEV1' == /dev/dm-* ]] && [ '$(jget $W/c1.json "['scsi_wwn']")' = '$W1' ]"
TABLE=$(dmsetup table "$W1"); echo "table: $TABLE"
check "Pure profile: queue-length, one group (multibus), no features (no queueing)" \
  bash -c "[[ '$TABLE' == *' multipath 0 0 1 1 queue-length 0 2 1 '* ]]"
for s in /sys/class/iscsi_session/session*; do
  check "$(basename $s) recovery_tmo = 10 (Pure fast_io_fail_tmo on iSCSI)" test "$(cat $s/recovery_tmo)" = 10
done
P=($(sd_of_lun 1))
for p in "${P[@]}"; do
  check "$p tuned: scheduler none, timeout 60, rq_affinity 2" bash -c "grep -q '\[none\]' /sys/block/$p/queue/scheduler && [ \$(cat /sys/block/$p/device/timeout) = 60 ] && [ \$(cat /sys/block/$p/queue/rq_affinity) = 2 ]"
done
dd if=/dev/urandom of=$W/pat bs=1M count=16 status=none
B0=$(writes ${P[0]}); B1=$(writes ${P[1]})
check "16 MiB written through the map" dd if=$W/pat of="$DEV1" bs=64k oflag=direct status=none
check "read back intact" bash -c "dd if='$DEV1' bs=1M count=16 iflag=direct status=none | cmp - $W/pat"
check "both paths carried I/O (${P[0]}: $(( $(writes ${P[0]}) - B0 )), ${P[1]}: $(( $(writes ${P[1]}) - B1 )) writes)" \
  test $(( $(writes ${P[0]}) - B0 )) -gt 0 -a $(( $(writes ${P[1]}) - B1 )) -gt 0

step path_failure_seen_within_1s
MAJMIN=$(cat /sys/block/${P[0]}/dev)
# take the path offline and start I/O, recording CLOCK_MONOTONIC (the clock the agent
# stamps its path changes with) at the moment of the offline write
T0US=$(python3 - "${P[0]}" "$DEV1" <<'PY'
import subprocess, sys, time
# the kernel wants the state name followed by a newline
with open(f"/sys/block/{sys.argv[1]}/device/state", "w") as f:
    f.write("offline\n")
t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
subprocess.Popen(["dd", "if=/dev/zero", f"of={sys.argv[2]}", "bs=64k", "count=64", "oflag=direct", "status=none"])
print(t0)
PY
)
DDPID=$(pgrep -n -x dd)
# the agent's view (daemon /v1/maps, fed by dm events): the path must show failed, and
# the time it recorded the change is compared with the offline write
seen=""
for _ in $(seq 100); do
  "$PATHCTL" maps --json > $W/m.json 2>/dev/null
  seen=$(python3 - "$W/m.json" "$W1" "$MAJMIN" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = [m for m in d.get("maps", []) if m["name"] == sys.argv[2]]
p = [p for p in (m[0]["paths"] if m else []) if p["device"] == sys.argv[3] and p["dmState"] == "failed"]
print(p[0]["lastChangeMicros"] if p else "")
PY
)
  [ -n "$seen" ] && break
  sleep 0.1
done
if [ -n "$seen" ]; then
  DT=$(awk -v a=$T0US -v b=$seen 'BEGIN{printf "%.3f", (b-a)/1e6}')
  check "agent recorded the failed path within 1 s of the offline write (took ${DT} s)" awk -v d=$DT 'BEGIN{exit !(d < 1.0)}'
else bad "agent never showed the failed path"; cat $W/m.json; fi
while kill -0 $DDPID 2>/dev/null; do sleep 0.1; done
check "I/O continued with ${P[0]} offline" bash -c "dd if='$DEV1' of=/dev/null bs=64k count=16 iflag=direct status=none"
"$PATHCTL" maps; echo "(maps exit $?)"
check "pathctl maps shows the Pure settings and their source" python3 -c "
import json; d=json.load(open('$W/m.json')); m=[m for m in d['maps'] if m['name']=='$W1'][0]
s={x['key']:(x['value'],x['origin']) for x in m['settings']}
assert s['path_selector'][0]=='queue-length 0' and 'PURE' in s['path_selector'][1], s['path_selector']
assert s['path_grouping_policy'][0]=='multibus' and s['no_path_retry'][0] in ('fail','0'), s"
"$PATHCTL" agent-health --json > $W/h.json; cat $W/h.json
check "agent-health reports the volume degraded" python3 -c "
import json; d=json.load(open('$W/h.json')); v=[v for v in d['volumes'] if v['wwn']=='$W1'][0]
assert v['status']=='degraded' and v['paths_active']==1, v"
check "dm shows $MAJMIN failed" bash -c "dmsetup status '$W1' | grep -q '$MAJMIN F'"
echo running > /sys/block/${P[0]}/device/state
# the TUR checker (polling_interval 10 s) reinstates the path
check "path reinstated by the checker within 25 s" wait_for 25 bash -c "dmsetup status '$W1' | grep -q '$MAJMIN A'"

step path_offline_without_io
# no I/O, so the kernel fails nothing: the agent's sysfs state poll (multipath.state_poll_ms,
# 250) must fail the path in the map, well before the TUR checker's next run. The time
# taken is the agent's own record of the change (as above) against the offline write: a
# shell polling `dmsetup status` measured its own process spawns under TCG (1.06 s once)
T0US=$(lab_offline_at ${P[0]})
if wait_for 10 lab_agent_failed_at "$W1" "$MAJMIN" >/dev/null; then
  DT=$(awk -v a=$T0US -v b=$(lab_agent_failed_at "$W1" "$MAJMIN") 'BEGIN{printf "%.3f", (b-a)/1e6}')
  check "agent failed the offline path in the map without I/O within 1 s (took ${DT} s)" awk -v d=$DT 'BEGIN{exit !(d < 1.0)}'
  check "dm shows $MAJMIN failed" bash -c "dmsetup status '$W1' | grep -q '$MAJMIN F'"
else bad "agent did not fail the offline path without I/O within 10 s"; fi
echo running > /sys/block/${P[0]}/device/state
check "path reinstated by the checker within 25 s" wait_for 25 bash -c "dmsetup status '$W1' | grep -q '$MAJMIN A'"

step all_paths_gone_fails_fast
for p in "${P[@]}"; do echo offline > /sys/block/$p/device/state; done
T0=$(lab_up)
timeout 20 dd if="$DEV1" of=/dev/null bs=4k count=1 iflag=direct status=none; RC=$?
DT=$(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}')
check "read fails at once with no path left (rc=$RC in ${DT} s, no queueing)" bash -c "[ $RC -ne 0 ] && [ $RC -ne 124 ] && awk -v d=$DT 'BEGIN{exit !(d < 5)}'"
for p in "${P[@]}"; do echo running > /sys/block/$p/device/state; done
check "paths come back" wait_for 25 bash -c "[ \$(dmsetup status '$W1' | grep -o ' A ' | wc -l) -ge 2 ]"

step second_volume_and_exact_detach
if run "$PATHCTL" connect --json "$(props 2)" > $W/c2.json 2> $W/c2.err; then ok "connect LUN 2"; else bad "connect LUN 2: $(cat $W/c2.err)"; fi
DEV2=$(jget $W/c2.json "['path']")
check "sessions reused (still 2)" test "$(sessions)" = 2
if run "$PATHCTL" disconnect --json "$W/p1.json" --device-info $W/c1.json > $W/d1.json 2> $W/d1.err; then ok "disconnect LUN 1"; else bad "disconnect LUN 1: $(cat $W/d1.err)"; fi
cat $W/d1.json
lun1_gone() { ! dmsetup info "$W1" >/dev/null 2>&1 && no_disk_of_lun 1; }
check "LUN 1 map and disks gone" lun1_gone
check "sessions kept for LUN 2" test "$(sessions)" = 2
check "LUN 2 still works" dd if="$DEV2" of=/dev/null bs=1M count=4 iflag=direct status=none

step kill9_mid_attach_then_reconcile
( "$PATHCTL" connect --json "$(props 3)" > $W/c3.json 2>&1 ) &
CPID=$!
# kill -9 the agent the moment LUN 3's first disk appears (after login and scan, before
# the map): a tight loop in one process, since spawning a command per poll is slow in TCG
MAP_AT_KILL=$(python3 - $AGENT_PID "$(wwn_of_lun 3)" <<'PY'
import glob, os, sys, time
pid, wwn = int(sys.argv[1]), sys.argv[2]
deadline = time.time() + 30
while time.time() < deadline:
    if glob.glob("/sys/bus/scsi/devices/*:*:*:3/block"):
        os.kill(pid, 9)
        break
    time.sleep(0.005)
maps = [open(n).read().strip() for n in glob.glob("/sys/block/dm-*/dm/name")]
print("map" if wwn in maps else "no-map")
PY
)
wait $AGENT_PID 2>/dev/null; wait $CPID 2>/dev/null
echo "killed mid-attach; at the kill: $MAP_AT_KILL; LUN 3 disks now: $(sd_of_lun 3 | tr '\n' ' ')"
check "pathagent restarts" start_agent
grep -E "reconcil|journal|rolled" $W/agent.log | tail -5
if [ "$MAP_AT_KILL" = no-map ]; then
  check "half-done attach rolled back: no disk of LUN 3" wait_for 20 no_disk_of_lun 3
  check "no map of LUN 3" bash -c "! dmsetup info '$(wwn_of_lun 3)' >/dev/null 2>&1"
else
  # the kill landed after the map was built: the journal either completed the attach or
  # rolls it back; either way nothing is left half-done
  wait_for 20 bash -c "! grep -q 'reconciling journal intent' $W/agent.log || grep -q 'journal reconciled' $W/agent.log"
  if dmsetup info "$(wwn_of_lun 3)" >/dev/null 2>&1; then
    check "attach had completed: LUN 3 map works" dd if=/dev/mapper/$(wwn_of_lun 3) of=/dev/null bs=1M count=1 iflag=direct status=none
    "$PATHCTL" disconnect "$W/p3.json" > /dev/null 2>&1
  else
    check "rolled back after the map: no disk of LUN 3" wait_for 20 no_disk_of_lun 3
  fi
fi
check "LUN 2 untouched" dd if="$DEV2" of=/dev/null bs=1M count=4 iflag=direct status=none

step kill9_mid_detach_then_reconcile
if "$PATHCTL" connect --json "$(props 3)" > $W/c3b.json 2> $W/c3b.err; then ok "connect LUN 3"; else bad "connect LUN 3: $(cat $W/c3b.err)"; fi
( "$PATHCTL" disconnect "$W/p3.json" > /dev/null 2>&1 ) &
CPID=$!
# kill the agent once the detach has begun (the map is gone, the disks may not be)
wait_for 20 bash -c "! dmsetup info '$(wwn_of_lun 3)' >/dev/null 2>&1"
kill -9 $AGENT_PID; wait $AGENT_PID 2>/dev/null; wait $CPID 2>/dev/null
echo "after kill: LUN 3 disks: $(sd_of_lun 3 | tr '\n' ' ')"
check "pathagent restarts" start_agent
check "half-done detach finished: no disk of LUN 3" wait_for 20 no_disk_of_lun 3
check "LUN 2 still works after the reconciliation" dd if="$DEV2" of=/dev/null bs=1M count=4 iflag=direct status=none

ATTACHED="2"
step parallel_16_attaches
# BENCH_* variables reach the guest through out/bench.env (see scripts/lab)
[ -f $LAB_OUT/bench.env ] && . $LAB_OUT/bench.env
T0=$(lab_up)
PIDS=()
lab_watch 150
for i in $(seq 3 18); do ( "$PATHCTL" connect --json "$(props $i)" > $W/pc$i.json 2> $W/pc$i.err; echo $? > $W/pc$i.rc ) & PIDS+=($!); done
all_done() { for p in "${PIDS[@]}"; do kill -0 $p 2>/dev/null && return 1; done; return 0; }
if ! wait_for 300 all_done; then
  bad "16 parallel attaches still running after 300 s; the daemon's threads:"
  for t in /proc/$AGENT_PID/task/*; do
    echo "tid $(basename $t) $(cat $t/comm) state=$(awk '{print $3}' $t/stat) wchan=$(cat $t/wchan) syscall=$(cut -d' ' -f1 $t/syscall)"
  done
  ps -eo pid,ppid,stat,wchan:28,etime,args | grep -vE '\[|ps -eo' | tail -40
  iscsiadm -m session; ls /sys/class/scsi_disk; dmsetup ls
  tail -40 $W/agent.log
  for p in "${PIDS[@]}"; do pkill -P $p 2>/dev/null; done
fi
# only the attaches: a bare `wait` would also wait for the daemon (a child of this shell)
wait "${PIDS[@]}"
lab_watch 0
echo "16 parallel attaches: $(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}') s"
okc=0; for i in $(seq 3 18); do [ "$(cat $W/pc$i.rc)" = 0 ] && okc=$((okc+1)) || { echo "LUN $i: $(cat $W/pc$i.err)"; }; done
check "16 of 16 parallel attaches succeeded ($okc)" test $okc = 16
check "16 more maps exist" test "$(dmsetup ls --target multipath | grep -c 360000)" = 17
wrong=""; for i in $(seq 3 18); do [ "$(jget $W/pc$i.json "['scsi_wwn']")" = "$(wwn_of_lun $i)" ] || wrong="$wrong $i"; done
check "each parallel attach returned its own volume's WWN (wrong:${wrong:- none})" test -z "$wrong"
ATTACHED="2 $(seq -s ' ' 3 18)"

step detach_everything_in_parallel
# every volume at once: each detach plans while the others' disks still exist, so the
# sessions must be logged out by whichever detach finds them idle last
T0=$(lab_up)
PIDS=()
for i in $ATTACHED; do ( "$PATHCTL" disconnect "$W/p$i.json" > /dev/null 2> $W/dd$i.err; echo $? > $W/dd$i.rc ) & PIDS+=($!); done
wait "${PIDS[@]}"
echo "$(wc -w <<<"$ATTACHED") parallel detaches: $(awk -v a=$T0 -v b=$(lab_up) 'BEGIN{printf "%.2f", b-a}') s"
for i in $ATTACHED; do [ "$(cat $W/dd$i.rc)" = 0 ] || bad "disconnect LUN $i: $(cat $W/dd$i.err)"; done
check "sessions logged out" test "$(sessions)" = 0
check "no sd disk of the target left" test -z "$(disks_by_model FlashArray)"
check "no dm device left" bash -c "[ -z \"\$(dmsetup ls --target multipath | grep 360000)\" ]"
metrics_served() { lab_metrics | grep -q '^# TYPE pathagent_attach'; }
check "metrics served" metrics_served
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null
check "the daemon's log never contains the CHAP secret ($(cat $W/agent-earlier.log $W/agent.log | wc -l) lines, 3 starts)" bash -c "test -s $W/agent.log && ! grep -qsF -- '$CHAP_SECRET' $W/agent-earlier.log $W/agent.log"
check "no iSCSI node record keeps the CHAP secret after the last detach" bash -c "! grep -rqsF -- '$CHAP_SECRET' /etc/iscsi/nodes /etc/iscsi/send_targets /var/lib/iscsi"
tail -20 $W/agent.log
cat $W/agent-earlier.log $W/agent.log > "$LAB_OUT/agent-daemon.log" 2>/dev/null
finish
