#!/bin/bash
# pathagent benchmark suite (issue 9): pathagent against its peers on the same kernel,
# the same tgt target (two portals) and the same connection properties. Not part of
# `scripts/lab run` without names (bench* scenarios only run when named); driven by
# scripts/bench, which turns $LAB_OUT/bench.jsonl into the table.
#
# Every measurement is a line of bench.jsonl:
#   {"scenario":..., "tool":..., "metric":..., "unit":"s"|"us"|"MiB"|..., "values":[...],
#    "status":"ok"|"failed"|"not run", "note":...}
# A peer or a pathagent measurement that could not be run is recorded as "not run" or
# "failed" and counted as a FAIL of this scenario: nothing is skipped silently.
#
# Knobs (environment, passed by scripts/bench through /lab/out/bench.env):
#   BENCH_PA_TOOL   pathctl (default: `pathctl connect|disconnect` through the pathagent daemon,
#                   which runs only while pathagent is measured) | engine-probe (the engine
#                   in-process, without the daemon)
#   BENCH_REPEAT    repetitions of the attach/detach and path failure measurements (3)
#   BENCH_CONC      volumes attached concurrently (16)
#   BENCH_INV_TGTS, BENCH_INV_LUNS  scsi_debug targets x LUNs for the inventory (2 x 512)
#   BENCH_INV_UDEV_LUNS  LUNs per target (2 targets) of the smaller set udev initializes, so
#                   that multipathd lists them (16)
#   BENCH_UNMAP_GB  size of the scsi_debug disk that is unmapped (16: at 4 GiB blkdiscard is
#                   done in ~0.45 s and a process's start-up weighs as much as the UNMAPs)
. "$(dirname "$0")/lib.sh"
[ -f $LAB_OUT/bench.env ] && . $LAB_OUT/bench.env
PA_TOOL=${BENCH_PA_TOOL:-pathctl}
REPEAT=${BENCH_REPEAT:-3}
CONC=${BENCH_CONC:-16}
INV_TGTS=${BENCH_INV_TGTS:-2}
INV_LUNS=${BENCH_INV_LUNS:-512}
INV_UDEV_LUNS=${BENCH_INV_UDEV_LUNS:-16}
UNMAP_GB=${BENCH_UNMAP_GB:-16}
OSB="python3 $LAB/tools/osbrick_bench.py"
PAPI="python3 $LAB/tools/pathagent_api_bench.py"
RES=$LAB_OUT/bench.jsonl
W=/tmp/bench; mkdir -p $W
: >"$RES"

tnow() { date +%s.%N; }
# wait_wall SECONDS CMD...: poll CMD until it succeeds or SECONDS of wall time have passed
# (lib.sh's wait_for counts polls, which is unbounded when CMD itself is slow)
wait_wall() {
  local end=$(( $(date +%s) + $1 )); shift
  while [ "$(date +%s)" -lt $end ]; do "$@" && return 0; sleep 0.2; done
  return 1
}
dt() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.4f", b-a}'; }
# rec SCENARIO TOOL METRIC UNIT "v1 v2 ..." STATUS [NOTE]: one measurement line; a status
# other than ok is a FAIL of this scenario
rec() {
  local vals; vals=$(echo "$5" | tr -s ' ' '\n' | grep -v '^$' | paste -sd, -)
  jq -nc --arg s "$1" --arg t "$2" --arg m "$3" --arg u "$4" --argjson v "[${vals}]" \
    --arg st "$6" --arg n "${7:-}" \
    '{scenario:$s, tool:$t, metric:$m, unit:$u, values:$v, status:$st, note:$n}' >>"$RES"
  if [ "$6" = ok ]; then ok "$1/$2/$3: $5 $4"; else bad "$1/$2/$3: $6${7:+ ($7)}"; fi
}

# pathagent's attach/detach tool: pa connect LUN | pa disconnect LUN
PA_BIN=$W/bin   # copies in tmpfs: loading a static Swift binary over 9p under TCG takes seconds
pa() {
  case $PA_TOOL in
    engine-probe) "$PA_BIN/engine-probe" "$1" $W/$([ $1 = connect ] && echo pa || echo pd)$2.json ;;
    pathctl)
      if [ $1 = connect ]; then "$PA_BIN/pathctl" connect --json $W/ob$2.json
      else "$PA_BIN/pathctl" disconnect --json $W/ob$2.json --device-info $W/pc$2.out; fi ;;
    *) echo "unknown BENCH_PA_TOOL $PA_TOOL" >&2; return 2 ;;
  esac
}
# the daemon (for BENCH_PA_TOOL=pathctl, the path monitor and the idle measurement); it is
# stopped before a peer runs, so that its monitor never touches the peer's maps
AGENT_PID=
agent_start() {
  [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null && return 0
  mkdir -p /run/pathagent /var/lib/pathagent; rm -f /run/pathagent/pathagent.sock
  "$PA_BIN/pathagent" >>$W/agent.log 2>&1 & AGENT_PID=$!
  wait_wall 30 test -S /run/pathagent/pathagent.sock
}
agent_stop() {
  [ -n "$AGENT_PID" ] || return 0
  kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
}
# start the daemon when the attach tool needs it
pa_ready() { [ $PA_TOOL != pathctl ] || agent_start; }

wwn_of_lun() { printf '360000000000000000e0000000001%04x' "$1"; }
cp_json() {  # LUN -> connection_properties (Cinder's Pure driver shape, tgt's WWN)
  printf '{"target_discovered": false, "discard": true, "addressing_mode": "SAM2",
  "target_portal": "%s", "target_iqn": "%s", "target_lun": %d,
  "target_portals": ["%s", "%s"], "target_iqns": ["%s", "%s"], "target_luns": [%d, %d],
  "wwn": "%s"}' "${TGT_PORTALS[0]}" "$TGT_IQN" "$1" "${TGT_PORTALS[0]}" "${TGT_PORTALS[1]}" \
    "$TGT_IQN" "$TGT_IQN" "$1" "$1" "$(wwn_of_lun "$1")"
}
mk_props() {  # LUN: $W/pa$LUN.json (pathagent request) and $W/ob$LUN.json (os-brick)
  cp_json "$1" >$W/ob$1.json
  echo "{\"protocol\": \"iscsi\", \"connection_properties\": $(cat $W/ob$1.json)}" >$W/pa$1.json
}
# pa_connect LUN: attach, leave the disconnect request in $W/pd$LUN.json; prints seconds
pa_connect() {
  local t0 t1 p
  t0=$(tnow)
  pa connect $1 >$W/pc$1.out 2>$W/pc$1.err || { tail -3 $W/pc$1.err >&2; return 1; }
  t1=$(tnow)
  jq '[.timings[]?.ms] | add // empty' $W/pc$1.out >$W/pc$1.steps 2>/dev/null
  p=$(jq -r .path $W/pc$1.out)
  [ -b "$p" ] || { echo "connect LUN $1 gave no block device ($p)" >&2; return 1; }
  jq -c --arg p "$p" --arg w "$(wwn_of_lun "$1")" \
    '. + {device_info: {type: "block", path: $p, scsi_wwn: $w}}' $W/pa$1.json >$W/pd$1.json
  dt "$t0" "$t1"
}
pa_disconnect() {
  local t0 t1
  t0=$(tnow)
  pa disconnect $1 >$W/px$1.out 2>$W/px$1.err || { tail -3 $W/px$1.err >&2; return 1; }
  t1=$(tnow)
  jq '[.timings[]?.ms] | add // empty' $W/px$1.out >$W/px$1.steps 2>/dev/null
  dt "$t0" "$t1"
}
sessions() { iscsiadm -m session 2>/dev/null | grep -c "$TGT_IQN"; }
logout_all() { iscsiadm -m node --logoutall=all >/dev/null 2>&1; udevadm settle --timeout=10; }

# multipathd runs only while a peer needs it (it would otherwise race pathagent for maps)
mpd_start() {
  pgrep -x multipathd >/dev/null && return 0
  run multipathd || return 1
  wait_wall 20 eval 'timeout 5 multipathd show status >/dev/null 2>&1'
}
mpd_stop() {
  pgrep -x multipathd >/dev/null || return 0
  timeout 15 multipathd shutdown >/dev/null 2>&1
  wait_wall 10 eval '! pgrep -x multipathd >/dev/null' || pkill -9 -x multipathd
  # forget the WWIDs os-brick taught it (find_multipaths would claim pathagent's paths)
  : >/etc/multipath/wwids 2>/dev/null
  return 0
}
# osb MODE ARGS... > JSON lines; stderr to $W/osb.err
osb() { $OSB "$@" 2>>$W/osb.err; }
osb_vals() { jq -r --arg op "$2" 'select(.op==$op and .ok) | .seconds' "$1" | paste -sd' ' -; }
osb_errs() { jq -r 'select(.ok==false) | .error' "$1" | head -3 | paste -sd'|' -; }
# dropin_rows ATTACH_SCEN DETACH_SCEN MODE ARGS...: the same os-brick calls in
# osbrick_bench.py MODE, answered by the drop-in connector (brick/) through the running
# daemon (OSB_DROP_IN: its import hook installed in-process), recorded as the two rows
BRICK_OK=
dropin_rows() {
  local a=$1 d=$2 f=$W/dropin-$1.jsonl; shift 2
  if [ -z "$BRICK_OK" ]; then
    rm -rf $W/brick-src && cp -r $LAB/brick $W/brick-src
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --break-system-packages $W/brick-src >>$W/osb.err 2>&1 \
      && BRICK_OK=1 || BRICK_OK=0
  fi
  if [ $PY_OK = 1 ] && [ $BRICK_OK = 1 ] && agent_start; then
    OSB_DROP_IN=/run/pathagent/pathagent.sock osb "$@" >$f; cat $f
    rec_pair $a $d "drop-in connector" $f "os-brick's connect_volume, answered by pathagent_brick through the daemon" \
      "disconnect_volume through the daemon"
  else
    rec $a "drop-in connector" attach s "" "not run" "os-brick, brick/ or the daemon unavailable"
    rec $d "drop-in connector" detach s "" "not run" "os-brick, brick/ or the daemon unavailable"
  fi
}
# osb_rows ATTACH_SCEN DETACH_SCEN MODE ARGS...: os-brick (multipathd running) in
# osbrick_bench.py MODE, recorded as the two rows
osb_rows() {
  local a=$1 d=$2 f=$W/osb-$1.jsonl; shift 2
  if [ $PY_OK = 1 ] && mpd_start; then
    osb "$@" >$f; cat $f
    rec_pair $a $d os-brick $f "connect_volume in-process" "disconnect_volume in-process"
    mpd_stop
  else
    rec $a os-brick attach s "" "not run" "os-brick or multipathd unavailable"
    rec $d os-brick detach s "" "not run" "os-brick or multipathd unavailable"
  fi
}
# rec_pair ATTACH_SCEN DETACH_SCEN TOOL FILE.jsonl CONNECT_NOTE DISCONNECT_NOTE: the attach and
# detach rows from a client's JSON lines (osbrick_bench.py, pathagent_api_bench.py)
rec_pair() {
  local va vd e
  va=$(osb_vals "$4" connect) vd=$(osb_vals "$4" disconnect) e=$(osb_errs "$4")
  rec "$1" "$3" attach s "$va" "$([ -z "$e" ] && [ $(wc -w <<<"$va") = $REPEAT ] && echo ok || echo failed)" "$5${e:+; $e}"
  rec "$2" "$3" detach s "$vd" "$([ -z "$e" ] && [ $(wc -w <<<"$vd") = $REPEAT ] && echo ok || echo failed)" "$6"
}

# ==================================================================== setup
step setup
NL=$((2 + CONC))
check "tgtd up with 2 portals and $NL thin LUNs" lab_tgt_start $NL 64M
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
for m in dm_multipath dm_queue_length dm_service_time dm_round_robin; do modprobe $m; done
for l in $(seq 1 $NL); do mk_props $l; done
mkdir -p $PA_BIN; cp $LAB_BIN/engine-probe $LAB_BIN/pathctl $PA_BIN/ 2>/dev/null
[ -x $LAB_BIN/pathagent ] && cp $LAB_BIN/pathagent $PA_BIN/
# Pure's settings (DESIGN.md section 3), the device stanza for tgt's vendor/product
mkdir -p /etc/multipath
cat >/etc/multipath.conf <<'EOF'
defaults {
    polling_interval 10
    user_friendly_names no
}
blacklist {
    devnode "^vd[a-z]"
}
devices {
    device {
        vendor "IET"
        product "VIRTUAL-DISK"
        path_selector "queue-length 0"
        path_grouping_policy multibus
        path_checker tur
        fast_io_fail_tmo 10
        dev_loss_tmo 60
        no_path_retry 0
        features "0"
        detect_prio no
    }
}
EOF
PY_OK=1
if ! python3 -c 'import os_brick' 2>>$W/osb-import.err; then PY_OK=0; cat $W/osb-import.err; fi
check "os-brick importable in the guest" test $PY_OK = 1
check "$PA_TOOL available" test -x "$LAB_BIN/$PA_TOOL"
check "pathagent (daemon) available" test -x "$LAB_BIN/pathagent"
OSB_VER=$(python3 -c 'import importlib.metadata as m; print(m.version("os-brick"))' 2>/dev/null)
jq -nc --arg k "$(uname -r)" --arg cpus "$(nproc)" --arg mem "$(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo)" \
  --arg osb "${OSB_VER:-missing}" --arg mp "$(multipath -h 2>&1 | grep -o "multipath-tools v[0-9.]*" | head -1)" --arg tool "$PA_TOOL" \
  --arg date "$(date -u +%FT%TZ)" \
  '{meta:true, kernel:$k, cpus:$cpus, mem_mib:$mem, os_brick:$osb, multipath_tools:$mp, pathagent_tool:$tool, date:$date}' >>"$RES"

# ==================================================================== 1. attach/detach, fresh login
step attach_fresh
# ms of the engine's own steps (from its "timings") in seconds
steps_s() { awk '{printf "%.4f", $1/1000}' "$1" 2>/dev/null; }
a=() d=() as=() ds=() err=
mpd_stop
pa_ready || err="pathagent did not start: $(tail -2 $W/agent.log)"
for i in $(seq $REPEAT); do
  [ "$(sessions)" = 0 ] || logout_all
  if v=$(pa_connect 1); then a+=("$v"); as+=("$(steps_s $W/pc1.steps)"); else err="connect failed"; continue; fi
  mkdir -p $LAB_OUT/bench-pa; cp $W/pc1.out $LAB_OUT/bench-pa/fresh-connect-$i.json
  if v=$(pa_disconnect 1); then d+=("$v"); ds+=("$(steps_s $W/px1.steps)"); else err="disconnect failed"; logout_all; fi
  cp $W/px1.out $LAB_OUT/bench-pa/fresh-disconnect-$i.json
  [ "$(sessions)" = 0 ] || err="sessions left after the last detach"
done
rec attach_fresh pathagent attach s "${a[*]}" "$([ ${#a[@]} = $REPEAT ] && echo ok || echo failed)" "$PA_TOOL, process wall time${err:+; $err}"
rec detach_last pathagent detach s "${d[*]}" "$([ ${#d[@]} = $REPEAT ] && echo ok || echo failed)" "$PA_TOOL; last volume: logs out both sessions"
rec attach_fresh "pathagent (engine steps)" attach s "${as[*]}" "$([ ${#as[@]} = $REPEAT ] && echo ok || echo failed)" "sum of the engine's step timings, without process start-up"
rec detach_last "pathagent (engine steps)" detach s "${ds[*]}" "$([ ${#ds[@]} = $REPEAT ] && echo ok || echo failed)" "sum of the engine's step timings"
# the daemon's API from one long-lived client process (as a compute service would call it)
if agent_start; then
  [ "$(sessions)" = 0 ] || logout_all
  $PAPI cycle $W/ob1.json $REPEAT >$W/papi1.jsonl 2>>$W/papi.err; cat $W/papi1.jsonl
  rec_pair attach_fresh detach_last "pathagent (API)" $W/papi1.jsonl "POST /v1/volumes/connect from one Python process" "POST /v1/volumes/disconnect"
else
  rec attach_fresh "pathagent (API)" attach s "" failed "pathagent did not start: $(tail -2 $W/agent.log)"
fi
[ "$(sessions)" = 0 ] || logout_all
dropin_rows attach_fresh detach_last cycle $W/ob1.json $REPEAT
agent_stop
[ "$(sessions)" = 0 ] || logout_all
osb_rows attach_fresh detach_last cycle $W/ob1.json $REPEAT
logout_all

# ==================================================================== 2. attach with sessions present
step attach_second
a=() d=() as=() ds=() err=
pa_ready || err="pathagent did not start"
if pa_connect 1 >/dev/null; then
  for i in $(seq $REPEAT); do
    if v=$(pa_connect 2); then a+=("$v"); as+=("$(steps_s $W/pc2.steps)"); else err="connect failed"; continue; fi
    if v=$(pa_disconnect 2); then d+=("$v"); ds+=("$(steps_s $W/px2.steps)"); else err="disconnect failed"; fi
  done
  [ "$(sessions)" = 2 ] || err="${err:+$err; }sessions not kept"
  pa_disconnect 1 >/dev/null || err="${err:+$err; }base disconnect failed"
else err="base volume (LUN 1) did not attach"; fi
rec attach_second pathagent attach s "${a[*]}" "$([ ${#a[@]} = $REPEAT ] && echo ok || echo failed)" "sessions already logged in${err:+; $err}"
rec detach_kept pathagent detach s "${d[*]}" "$([ ${#d[@]} = $REPEAT ] && echo ok || echo failed)" "sessions stay (another LUN uses them)"
rec attach_second "pathagent (engine steps)" attach s "${as[*]}" "$([ ${#as[@]} = $REPEAT ] && echo ok || echo failed)" "sum of the engine's step timings"
rec detach_kept "pathagent (engine steps)" detach s "${ds[*]}" "$([ ${#ds[@]} = $REPEAT ] && echo ok || echo failed)" "sum of the engine's step timings"
if agent_start; then
  logout_all
  $PAPI second $W/ob1.json $W/ob2.json $REPEAT >$W/papi2.jsonl 2>>$W/papi.err; cat $W/papi2.jsonl
  rec_pair attach_second detach_kept "pathagent (API)" $W/papi2.jsonl "POST /v1/volumes/connect from one Python process" "POST /v1/volumes/disconnect"
else
  rec attach_second "pathagent (API)" attach s "" failed "pathagent did not start"
fi
logout_all
dropin_rows attach_second detach_kept second $W/ob1.json $W/ob2.json $REPEAT
agent_stop
logout_all
osb_rows attach_second detach_kept second $W/ob1.json $W/ob2.json $REPEAT
logout_all

# ==================================================================== 3. concurrent attaches
step concurrent
LUNS=$(seq 3 $((2 + CONC)))
pa_ready
t0=$(tnow)
# (wait for these PIDs only: the daemon is a child of this shell too)
PIDS=(); for l in $LUNS; do ( pa_connect $l >$W/cc$l.t 2>$W/cc$l.e; echo $? >$W/cc$l.rc ) & PIDS+=($!); done
wait "${PIDS[@]}"
t1=$(tnow)
nok=0; for l in $LUNS; do [ "$(cat $W/cc$l.rc)" = 0 ] && nok=$((nok + 1)); done
# each process's own step timings, for the report
mkdir -p $LAB_OUT/bench-pa; for l in $LUNS; do cp $W/pc$l.out $LAB_OUT/bench-pa/conc-connect-$l.json 2>/dev/null; cp $W/pc$l.err $LAB_OUT/bench-pa/conc-connect-$l.err 2>/dev/null; done
rec "concurrent_$CONC" pathagent attach_all s "$(dt "$t0" "$t1")" "$([ $nok = $CONC ] && echo ok || echo failed)" "$CONC $PA_TOOL processes in parallel, $nok attached$( [ $nok = $CONC ] || echo "; $(cat $W/cc*.e | grep -v '^$' | head -2 | paste -sd'|' -)")"
t0=$(tnow)
PIDS=(); for l in $LUNS; do [ -s $W/pd$l.json ] && [ "$(cat $W/cc$l.rc)" = 0 ] && { ( pa_disconnect $l >/dev/null 2>$W/cd$l.e; echo $? >$W/cd$l.rc ) & PIDS+=($!); }; done
[ ${#PIDS[@]} -gt 0 ] && wait "${PIDS[@]}"
t1=$(tnow)
dok=0; for l in $LUNS; do [ "$(cat $W/cd$l.rc 2>/dev/null)" = 0 ] && dok=$((dok + 1)); done
left=$(sessions)
rec "concurrent_$CONC" pathagent detach_all s "$(dt "$t0" "$t1")" "$([ $dok = $CONC ] && [ "$left" = 0 ] && echo ok || echo failed)" "$dok detached; iSCSI sessions left after the last detach: $left"
agent_stop
logout_all; dmsetup remove_all --force >/dev/null 2>&1
if [ $PY_OK = 1 ] && mpd_start; then
  osb concurrent $(for l in $LUNS; do echo $W/ob$l.json; done) >$W/osb3.jsonl; cat $W/osb3.jsonl
  for op in connect_all disconnect_all; do
    v=$(jq -r --arg op $op 'select(.op==$op) | .seconds' $W/osb3.jsonl)
    good=$(jq -r --arg op $op 'select(.op==$op) | .ok' $W/osb3.jsonl)
    metric=attach_all; [ $op = disconnect_all ] && metric=detach_all
    rec "concurrent_$CONC" os-brick $metric s "$v" "$([ "$good" = true ] && echo ok || echo failed)" "$CONC threads, one process$( [ "$good" = true ] || echo "; $(osb_errs $W/osb3.jsonl)")"
  done
  mpd_stop
else
  rec "concurrent_$CONC" os-brick attach_all s "" "not run" "os-brick or multipathd unavailable"
fi
logout_all; dmsetup remove_all --force >/dev/null 2>&1

# ==================================================================== 4. path failure reaction
step path_failure
# dm_state WWN MAJ:MIN -> A or F (the path's state in `dmsetup status`)
dm_state() { dmsetup status "$1" 2>/dev/null | awk -v p="$2" '{for(i=1;i<NF;i++) if($i==p){print $(i+1); exit}}'; }
# offline_until_failed: set $SD offline (no I/O) and print the seconds until map $MAP shows
# the path F; fails after 60 s
offline_until_failed() {
  local t0; t0=$(tnow); echo offline >/sys/block/$SD/device/state
  while [ "$(dm_state $MAP $MM)" != F ]; do
    [ "$(dt "$t0" "$(tnow)" | cut -d. -f1)" -ge 60 ] && return 1
    sleep 0.05
  done
  dt "$t0" "$(tnow)"
}
pf_setup_ok=0
agent_start || echo "pathagent did not start: $(tail -3 $W/agent.log)"
if pa_connect 1 >/dev/null; then
  MAP=$(wwn_of_lun 1); DM=$(basename "$(readlink -f "$(jq -r .device_info.path $W/pd1.json)")")
  SD=$(ls /sys/block/$DM/slaves | head -1); MM=$(cat /sys/block/$SD/dev)
  echo "map $MAP ($DM), failing path $SD ($MM): $(dmsetup status $MAP)"
  pf_setup_ok=1
fi
# pathagent: the daemon's monitor, no I/O (as for multipathd below): the sysfs device
# state poll (multipath.state_poll_ms, 250) fails the path, the TUR checker
# (polling_interval 10) reinstates it
pv=() perr=
# (the daemon lists foreign maps too: the map must be its own, i.e. watched)
pa_monitors() { "$PA_BIN/pathctl" maps --json 2>/dev/null | jq -e --arg m "$MAP" '.maps[] | select(.name == $m and .owner == "pathagent")' >/dev/null; }
if [ $pf_setup_ok = 1 ] && agent_start && wait_wall 30 pa_monitors; then
  for i in $(seq $REPEAT); do
    sleep 2
    if v=$(offline_until_failed); then pv+=("$v"); else perr="not failed after 60 s"; fi
    echo running >/sys/block/$SD/device/state
    wait_wall 30 eval "[ \"\$(dm_state $MAP $MM)\" = A ]" || perr="${perr:+$perr; }not reinstated by the checker within 30 s"
    [ -n "$perr" ] && break
  done
  "$PA_BIN/pathctl" maps || true
  rec path_failure pathagent detect s "${pv[*]}" "$([ ${#pv[@]} = $REPEAT ] && [ -z "$perr" ] && echo ok || echo failed)" "daemon monitor: sysfs device state every 250 ms, TUR every 10 s; no I/O${perr:+; $perr}"
else
  rec path_failure pathagent detect s "" "failed" "the daemon did not monitor map $MAP (setup $pf_setup_ok): $(tail -2 $W/agent.log)"
fi
agent_stop
# multipathd (checker, no I/O): it adopts the agent-built map
mv=() merr=
# the WWID must be known, or multipathd (find_multipaths) would not keep the map
[ $pf_setup_ok = 1 ] && multipath -a $MAP
if [ $pf_setup_ok = 1 ] && mpd_start && wait_wall 30 eval "timeout 10 multipathd show paths 2>/dev/null | grep -w $SD | grep -q ready"; then
  multipathd show maps; multipathd show paths
  for i in $(seq $REPEAT); do
    sleep 2
    if v=$(offline_until_failed); then mv+=("$v"); else merr="not failed after 60 s"; fi
    echo running >/sys/block/$SD/device/state
    multipathd reinstate path $SD >/dev/null 2>&1
    wait_wall 30 eval "[ \"\$(dm_state $MAP $MM)\" = A ]" || merr="path not reinstated"
    [ -n "$merr" ] && break
  done
  rec path_failure multipathd detect s "${mv[*]}" "$([ ${#mv[@]} = $REPEAT ] && echo ok || echo failed)" "tur checker, polling_interval 10, no I/O${merr:+; $merr}"
else
  rec path_failure multipathd detect s "" "failed" "multipathd did not take the path (setup $pf_setup_ok)"
fi
mpd_stop
# kernel: dm-multipath fails the path on the first I/O error through the map
kv=() kerr=
if [ $pf_setup_ok = 1 ]; then
  dmsetup message $MAP 0 fail_if_no_path >/dev/null 2>&1
  for i in $(seq $REPEAT); do
    t0=$(tnow); echo offline >/sys/block/$SD/device/state
    n=0
    while [ "$(dm_state $MAP $MM)" != F ]; do
      dd if=/dev/$DM of=/dev/null bs=4k count=1 skip=$((RANDOM % 1000)) iflag=direct status=none 2>/dev/null
      n=$((n + 1)); [ $n -ge 200 ] && { kerr="not failed after 200 reads"; break; }
    done
    t1=$(tnow); [ -z "$kerr" ] && kv+=("$(dt "$t0" "$t1")")
    echo running >/sys/block/$SD/device/state
    dmsetup message $MAP 0 reinstate_path $MM
    [ -n "$kerr" ] && break
  done
  rec path_failure "kernel (dm on I/O error)" detect s "${kv[*]}" "$([ ${#kv[@]} = $REPEAT ] && echo ok || echo failed)" "agent-built map, direct 4k reads until dm marks the path F${kerr:+; $kerr}"
  pa_ready; pa_disconnect 1 >/dev/null; agent_stop
else
  rec path_failure "kernel (dm on I/O error)" detect s "" "failed" "LUN 1 did not attach"
fi
logout_all; dmsetup remove_all --force >/dev/null 2>&1

# ==================================================================== 5. UNMAP
step unmap
if lab_scsi_debug dev_size_mb=64 virtual_gb=$UNMAP_GB max_luns=1 num_tgts=1 unmap_max_blocks=65536 unmap_max_desc=16; then
  UD=/dev/${SD_DEBUG_DISKS[0]}
  BYTES=$(blockdev --getsize64 $UD); BLKS=$((BYTES / 512)); MIB=$((BYTES >> 20))
  echo "unmap device $UD: $MIB MiB, $(cat /sys/block/${UD#/dev/}/queue/discard_max_bytes) discard_max_bytes"
  mibps() { awk -v m=$MIB -v s="$1" 'BEGIN{printf "%.1f", m/s}'; }
  bv=() sv=() pv=() e=
  for i in $(seq $REPEAT); do
    t0=$(tnow); blkdiscard $UD || e="blkdiscard failed"; t1=$(tnow); bv+=("$(mibps "$(dt "$t0" "$t1")")")
  done
  rec "unmap_${UNMAP_GB}g" blkdiscard throughput MiB/s "${bv[*]}" "$([ -z "$e" ] && echo ok || echo failed)" "$e"
  # sg_unmap: 16 descriptors of unmap_max_blocks each per command
  e=
  for i in $(seq $REPEAT); do
    t0=$(tnow)
    lba=0
    while [ $lba -lt $BLKS ]; do
      lbas=() nums=()
      for _ in $(seq 16); do
        [ $lba -lt $BLKS ] || break
        n=$((BLKS - lba)); [ $n -gt 65536 ] && n=65536
        lbas+=($lba); nums+=($n); lba=$((lba + n))
      done
      sg_unmap --force --lba=$(IFS=,; echo "${lbas[*]}") --num=$(IFS=,; echo "${nums[*]}") $UD || { e="sg_unmap failed at lba $lba"; break; }
    done
    t1=$(tnow); sv+=("$(mibps "$(dt "$t0" "$t1")")")
  done
  rec "unmap_${UNMAP_GB}g" sg_unmap throughput MiB/s "${sv[*]}" "$([ -z "$e" ] && echo ok || echo failed)" "16 descriptors x 32 MiB per command, one process per command${e:+; $e}"
  # (an unknown subcommand's --help prints the top-level help and exits 0)
  if "$PA_BIN/pathctl" unmap --help 2>&1 | grep -q 'USAGE: pathctl unmap'; then
    e= cv=()
    for i in $(seq $REPEAT); do
      t0=$(tnow); "$PA_BIN/pathctl" unmap --yes --json --all $UD >$W/unmap$i.json 2>$W/unmap$i.err || e="pathctl unmap failed: $(tail -1 $W/unmap$i.err)"
      t1=$(tnow); pv+=("$(mibps "$(dt "$t0" "$t1")")"); tail -1 $W/unmap$i.json
      cv+=("$(jq -r 'select(.event == "result") | .result.bytesPerSecond / 1048576 * 10 | floor / 10' $W/unmap$i.json 2>/dev/null)")
    done
    rec "unmap_${UNMAP_GB}g" pathagent throughput MiB/s "${pv[*]}" "$([ -z "$e" ] && echo ok || echo failed)" "pathctl unmap --all, process wall time${e:+; $e}"
    rec "unmap_${UNMAP_GB}g" "pathagent (commands)" throughput MiB/s "${cv[*]}" "$([ -z "$e" ] && [ ${#cv[@]} = $REPEAT ] && echo ok || echo failed)" "the runner's own rate (result.bytesPerSecond), without process start-up"
  else
    rec "unmap_${UNMAP_GB}g" pathagent throughput MiB/s "" "not run" "pathctl unmap missing in this build"
  fi
  rmmod scsi_debug
else
  rec "unmap_${UNMAP_GB}g" blkdiscard throughput MiB/s "" "failed" "scsi_debug disk did not appear"
fi

# ==================================================================== 6. inventory
step inventory
# pathctl_inv SCENARIO NPATHS: 5 runs of `pathctl paths --json` (its own inventory.micros and
# the process wall time), then 5 of lsscsi
inv_pathctl_lsscsi() {
  local iv=() wv=() lv=() e= m p i t0 t1
  for i in $(seq 5); do
    t0=$(tnow); "$PA_BIN/pathctl" paths --json >$W/inv$i.json 2>$W/inv.err; t1=$(tnow)
    m=$(jq -r '.inventory.micros' $W/inv$i.json 2>/dev/null); p=$(jq -r '.inventory.paths' $W/inv$i.json 2>/dev/null)
    [[ $m =~ ^[0-9]+$ ]] || { e="no inventory.micros: $(tail -1 $W/inv.err)"; break; }
    iv+=("$(awk -v m=$m 'BEGIN{printf "%.4f", m/1e6}')"); wv+=("$(dt "$t0" "$t1")")
  done
  rec "$1" pathagent scan s "${iv[*]}" "$([ -z "$e" ] && [ "${p:-0}" -ge "$2" ] && echo ok || echo failed)" "inventory.micros of pathctl paths --json, ${p:-?} paths${e:+; $e}"
  rec "$1" pathagent process s "${wv[*]}" "$([ -z "$e" ] && echo ok || echo failed)" "pathctl paths --json, process wall time"
  e=
  for i in $(seq 5); do t0=$(tnow); lsscsi >$W/lsscsi.out || e=lsscsi; t1=$(tnow); lv+=("$(dt "$t0" "$t1")"); done
  rec "$1" lsscsi process s "${lv[*]}" "$([ -z "$e" ] && [ "$(grep -c scsi_debug $W/lsscsi.out)" -ge "$2" ] && echo ok || echo failed)" "$(grep -c scsi_debug $W/lsscsi.out) scsi_debug lines"
}
scsi_disks() { ls -d /sys/class/scsi_disk/* 2>/dev/null | wc -l; }
mpd_paths() { timeout 15 multipathd show paths 2>/dev/null | grep -cE ' sd[a-z]+ '; }
udevadm settle --timeout=30
# (a) a set udev initializes: multipathd only takes paths udev has finished with, and in TCG
# udev needs ~2.5 s per sd device, so this set is small; all three tools list the same paths
NS=$((2 * INV_UDEV_LUNS))
t0=$(tnow)
if run modprobe scsi_debug dev_size_mb=8 num_tgts=2 max_luns=$INV_UDEV_LUNS && wait_wall 120 eval '[ $(scsi_disks) -ge $NS ]'; then
  udevadm settle --timeout=600
  echo "scsi_debug: $(scsi_disks) sd devices initialized by udev in $(dt "$t0" "$(tnow)") s"
  inv_pathctl_lsscsi "inventory_udev_$NS" $NS
  if mpd_start && wait_wall 120 eval "[ \$(mpd_paths) -ge $NS ]"; then
    mv=(); for i in $(seq 5); do t0=$(tnow); timeout 30 multipathd show paths >$W/mpd.out; t1=$(tnow); mv+=("$(dt "$t0" "$t1")"); done
    rec "inventory_udev_$NS" multipathd "show paths" s "${mv[*]}" ok "$(grep -cE ' sd[a-z]+ ' $W/mpd.out) paths listed"
  else
    rec "inventory_udev_$NS" multipathd "show paths" s "" failed "multipathd did not list $NS paths within 120 s (it listed $(mpd_paths))"
  fi
  mpd_stop
else
  rec "inventory_udev_$NS" multipathd "show paths" s "" failed "scsi_debug did not give $NS disks"
fi
rmmod scsi_debug 2>/dev/null; udevadm settle --timeout=120
# (b) the large set: udev's queue is held while the LUNs appear (1024 would keep udev busy
# for ~40 min in TCG); pathctl and lsscsi read sysfs only
udevadm control --stop-exec-queue
t0=$(tnow)
run modprobe scsi_debug dev_size_mb=8 num_tgts=$INV_TGTS max_luns=$INV_LUNS lbpu=1 unmap_granularity=8
prev=-1; NP=0
for _ in $(seq 240); do
  NP=$(scsi_disks)
  [ "$NP" = "$prev" ] && [ "$NP" -gt 0 ] && break; prev=$NP; sleep 2
done
echo "scsi_debug: $NP sd devices in $(dt "$t0" "$(tnow)") s (udev exec queue held)"
inv_pathctl_lsscsi "inventory_$NP" $NP

# ==================================================================== 7. idle RSS/CPU
step idle
if [ -x $LAB_BIN/pathagent ] && agent_start; then
  AP=$AGENT_PID
  sleep 5
  if kill -0 $AP 2>/dev/null; then
    c0=$(awk '{print $14+$15}' /proc/$AP/stat); sleep 60
    c1=$(awk '{print $14+$15}' /proc/$AP/stat 2>/dev/null)
    rss=$(awk '/VmRSS/{printf "%.1f", $2/1024}' /proc/$AP/status 2>/dev/null)
    rec idle pathagent rss MiB "$rss" "$([ -n "$rss" ] && echo ok || echo failed)" "$NP paths present, after 65 s"
    rec idle pathagent cpu "%" "$(awk -v a=$c0 -v b=$c1 -v hz=$(getconf CLK_TCK) 'BEGIN{printf "%.2f", (b-a)/hz/60*100}')" ok "over 60 s"
    agent_stop
  else
    rec idle pathagent rss MiB "" failed "pathagent exited: $(tail -2 $W/agent.log)"
  fi
else
  rec idle pathagent rss MiB "" "not run" "no pathagent daemon in this build"
fi
mpd_stop
rmmod scsi_debug 2>/dev/null
udevadm control --start-exec-queue
finish
