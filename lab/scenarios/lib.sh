# Scenario library for the pathagent lab guest; every scenario sources it:
#   . "$(dirname "$0")/lib.sh"
# Output protocol (read by scripts/lab): "PASS: what", "FAIL: what", "STEP name: N.Ns"
# (time spent in the step that just ended), "RESULT: N failures". A scenario ends with
# `finish`, which exits with its failure count.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
LAB=/lab
# guest-init copies the products to tmpfs (see there); /lab/bin when run by hand
LAB_BIN=$LAB/bin
[ -x /run/lab/bin/pathctl ] && LAB_BIN=/run/lab/bin
LAB_OUT=$LAB/out
FAILS=0
PASSES=0

lab_up() { cut -d' ' -f1 /proc/uptime; }
_STEP_T=$(lab_up)
_STEP_N=init

# step NAME: close the current step (print its duration) and open the next one
step() {
  local t; t=$(lab_up)
  echo "STEP $_STEP_N: $(awk -v a="$_STEP_T" -v b="$t" 'BEGIN{printf "%.1f", b-a}')s"
  _STEP_N=$1; _STEP_T=$t
  echo; echo "===== $1"
}
ok()  { echo "PASS: $*"; PASSES=$((PASSES + 1)); }
bad() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# check WHAT CMD...: PASS when CMD succeeds
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# run CMD...: echo (to stderr, so stdout can be redirected cleanly) and run, keep its status
run() { echo "+ $*" >&2; "$@"; }
# lab_watch SECONDS: if this scenario is still going SECONDS from now, guest-init's
# heartbeat prints every thread's state to the console (lab_watch 0 disarms)
lab_watch() {
  if [ "$1" = 0 ]; then : >/run/lab/watch; return 0; fi
  awk -v u="$(lab_up)" -v s="$1" 'BEGIN{printf "%.0f\n", u + s}' >/run/lab/watch
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds, for at most SECONDS of
# wall-clock time (a slow CMD, e.g. a TLS client under TCG, must not stretch the deadline:
# counting iterations once turned a 30 s wait into many minutes)
wait_for() {
  local end; end=$(awk -v u="$(lab_up)" -v s="$1" 'BEGIN{printf "%.2f", u + s}'); shift
  while :; do
    "$@" && return 0
    awk -v u="$(lab_up)" -v e="$end" 'BEGIN{exit !(u >= e)}' && return 1
    sleep 0.1
  done
}

# wait_until SECONDS 'EXPRESSION': wait_for with a shell expression evaluated afresh on each
# try (in `wait_for 10 test "$(cmd)" = x` the shell runs cmd once, before wait_for starts:
# such a wait cannot wait)
wait_until() { local s=$1; shift; wait_for "$s" eval "$*"; }

finish() {
  step end
  lab_cleanup
  echo "RESULT: $PASSES passed, $FAILS failures"
  exit "$FAILS"
}

# sd disks (sdX names) whose SCSI model contains $1
disks_by_model() {
  local b
  for b in /sys/block/sd*; do
    [ -e "$b/device/model" ] || continue
    grep -qs -- "$1" "$b/device/model" && basename "$b"
  done
  return 0
}

# ------------------------------------------------------------------ scsi_debug
# lab_scsi_debug [extra modprobe params]: thin-provisioned (lbpu=1) pseudo disks,
# 1 target x 4 LUNs by default. Sets SD_DEBUG_DISKS=(sdX ...).
SD_DEBUG_DISKS=()
lab_scsi_debug() {
  modprobe sd_mod; modprobe sg
  run modprobe scsi_debug lbpu=1 lbprz=1 dev_size_mb=64 max_luns=4 num_tgts=1 \
    unmap_granularity=8 unmap_max_blocks=65536 unmap_max_desc=16 "$@" || return 1
  udevadm settle --timeout=20
  wait_until 10 '[ -n "$(disks_by_model scsi_debug)" ]'
  mapfile -t SD_DEBUG_DISKS < <(disks_by_model scsi_debug)
  echo "scsi_debug disks: ${SD_DEBUG_DISKS[*]}"
  [ ${#SD_DEBUG_DISKS[@]} -gt 0 ]
}

# ------------------------------------------------------------------ tgt (iSCSI target)
TGT_IQN=iqn.2026-01.dev.pathagent:lab-tgt1
TGT_PORTALS=(127.0.0.1:3260 127.0.0.2:3261)
TGT_DIR=/srv/tgt
# lab_tgt_start [NLUNS [SIZE]]: tgtd listening on both portals, one target, NLUNS
# thin file-backed LUNs (LUN ids 1..NLUNS, sparse files in $TGT_DIR).
lab_tgt_start() {
  local nluns=${1:-1} size=${2:-256M} i
  ip addr show dev lo | grep -q 'inet 127.0.0.2/' || ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
  modprobe iscsi_tcp
  mkdir -p "$TGT_DIR"
  run tgtd --iscsi "portal=${TGT_PORTALS[0]}" || return 1
  wait_for 10 tgtadm --op show --mode sys >/dev/null 2>&1 || { echo "tgtd did not come up"; return 1; }
  run tgtadm --lld iscsi --op new --mode portal --param "portal=${TGT_PORTALS[1]}" || return 1
  run tgtadm --lld iscsi --op new --mode target --tid 1 -T "$TGT_IQN" || return 1
  for i in $(seq 1 "$nluns"); do
    truncate -s "$size" "$TGT_DIR/lun$i.img"
    run tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun "$i" -b "$TGT_DIR/lun$i.img" || return 1
    run tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun "$i" \
      --params thin_provisioning=1 || return 1
  done
  run tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL || return 1
}

# lab_tgt_chap USER PASSWORD: require session CHAP on target 1 (tgt's incoming account;
# only the scenario's own tgtadm carries the secret on its command line)
lab_tgt_chap() {
  tgtadm --lld iscsi --op new --mode account --user "$1" --password "$2" || return 1
  run tgtadm --lld iscsi --op bind --mode account --tid 1 --user "$1"
}

# lab_offline_at SDX...: set the sd devices offline (no I/O) and print CLOCK_MONOTONIC in
# µs (the clock the agent stamps its path changes with) right after the first write
lab_offline_at() {
  python3 - "$@" <<'PY'
import sys, time
t0 = None
for d in sys.argv[1:]:
    with open(f"/sys/block/{d}/device/state", "w") as f:
        f.write("offline\n")  # the kernel wants the state name followed by a newline
    t0 = t0 or time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
print(t0)
PY
}

# lab_agent_failed_at MAP MAJ:MIN: when the daemon recorded the path as failed
# (lastChangeMicros of `pathctl maps --json`, CLOCK_MONOTONIC µs); fails while it shows
# the path active. Measures the agent's reaction, not this shell's polling.
lab_agent_failed_at() {
  "${PATHCTL:-$LAB_BIN/pathctl}" maps --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
m = [m for m in d.get("maps", []) if m["name"] == sys.argv[1]]
p = [p for p in (m[0]["paths"] if m else []) if p["device"] == sys.argv[2] and p["dmState"] == "failed"]
sys.exit(1) if not p else print(p[0]["lastChangeMicros"])' "$1" "$2"
}

# lab_iscsi_login: start iscsid, discover and log in to every portal of $TGT_IQN.
# Sets ISCSI_DISKS=(sdX ...) (all sd disks of the tgt target, i.e. LUNs x portals).
ISCSI_DISKS=()
lab_iscsi_login() {
  local p rc
  pgrep -x iscsid >/dev/null || run iscsid || return 1
  # iscsiadm exits 4 while iscsid is not reachable yet
  for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; rc=$?; [ $rc -ne 4 ] && break; sleep 0.1; done
  for p in "${TGT_PORTALS[@]}"; do
    run iscsiadm -m discovery -t sendtargets -p "$p" >/dev/null || return 1
  done
  for p in "${TGT_PORTALS[@]}"; do
    run iscsiadm -m node -T "$TGT_IQN" -p "$p" --login || return 1
  done
  udevadm settle --timeout=20
  wait_until 10 '[ "$(disks_by_model VIRTUAL-DISK | wc -l)" -ge 2 ]'
  mapfile -t ISCSI_DISKS < <(disks_by_model VIRTUAL-DISK)
  echo "iSCSI disks: ${ISCSI_DISKS[*]}"
  iscsiadm -m session
  [ ${#ISCSI_DISKS[@]} -ge 2 ]
}

# ------------------------------------------------------------------ cleanup
lab_cleanup() {
  local t; t=$(lab_up)
  # daemons a scenario started and did not stop (a failed check can skip its own stop):
  # the next scenario must not talk to a stale agent through a leftover socket
  pkill -x pathagent 2>/dev/null && wait_for 10 eval '! pgrep -x pathagent >/dev/null'
  pkill -x fa-sim 2>/dev/null
  rm -f /run/pathagent/pathagent.sock
  dmsetup remove_all --force >/dev/null 2>&1
  iscsiadm -m node --logoutall=all >/dev/null 2>&1
  iscsiadm -m node -o delete >/dev/null 2>&1
  local t1; t1=$(lab_up)
  # tgtd has no state worth a graceful stop (its orderly shutdown took ~25 s under TCG),
  # but it must be gone before the next scenario binds the portals again
  pkill -9 -x tgtd 2>/dev/null && wait_for 5 eval '! pgrep -x tgtd >/dev/null'
  rm -rf "$TGT_DIR"
  # the second portal's address: each scenario adds it as it needs it (see flasharray.sh)
  local _pfx; for _pfx in 8 32; do ip addr del 127.0.0.2/$_pfx dev lo 2>/dev/null; done
  local t2; t2=$(lab_up)
  udevadm settle --timeout=10
  rmmod scsi_debug 2>/dev/null
  echo "cleanup: $(awk -v a="$t" -v b="$t1" -v c="$t2" -v d="$(lab_up)" \
    'BEGIN{printf "iscsi logout %.1fs, tgtd stop %.1fs, scsi_debug %.1fs", b-a, c-b, d-c}')"
  return 0
}


# lab_fa_array W PORT: the FlashArray lab array. tgtd on 127.0.0.1:3260 and 127.0.0.2:3260,
# iscsid, and fa-sim bound to tgtd (--tgt: each array volume a tgt LUN) serving REST over
# TLS with the lab CA on 127.0.0.1:PORT with a fresh API token in W/token; SIM_PID. The
# second address is a /32 so that sessions to 127.0.0.2 come from 127.0.0.2: fa-sim derives
# the host's port_connectivity (which controller a session reaches) from the initiator
# address (an earlier scenario's 127.0.0.2/8 is a secondary address of 127.0.0.1/8, and
# the kernel gives a secondary's local route the primary as source). Checks each part.
lab_fa_array() {
  local w=$1 port=$2 pki=$LAB/pki
  check "lab PKI present (CA + server cert for 127.0.0.1)" test -s $pki/ca.pem -a -s $pki/server.pem -a -s $pki/server.key
  ip addr del 127.0.0.2/8 dev lo 2>/dev/null
  ip addr show dev lo | grep -q 'inet 127.0.0.2/32' || ip addr add 127.0.0.2/32 dev lo
  modprobe iscsi_tcp; modprobe dm_multipath; modprobe dm_queue_length
  mkdir -p $TGT_DIR
  _fa_tgtd() {
    run tgtd --iscsi portal=127.0.0.1:3260 || return 1
    wait_for 10 tgtadm --op show --mode sys >/dev/null 2>&1 || return 1
    run tgtadm --lld iscsi --op new --mode portal --param portal=127.0.0.2:3260
  }
  check "tgtd up on 127.0.0.1:3260 and 127.0.0.2:3260" _fa_tgtd
  pgrep -x iscsid >/dev/null || run iscsid
  for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
  python3 -c "import secrets; print(secrets.token_hex(16))" > $w/token; chmod 600 $w/token
  _fa_sim() {
    "$LAB_BIN/fa-sim" --cert $pki/server.pem --key $pki/server.key --api-token-file $w/token --port $port \
      --tgt $TGT_DIR > $w/sim.log 2>&1 &
    SIM_PID=$!
    wait_for 20 grep -q "listening" $w/sim.log
  }
  check "fa-sim listens on 127.0.0.1:$port with --tgt" _fa_sim
}

# lab_nova_agent W AGENT: the user `nova` (group nova), pathagent (binary AGENT) with
# api.group nova on /run/pathagent/pathagent.sock (AGENT_PID, log W/agent.log), and brick/
# pip-installed into the guest's Python and enabled: what a compute node with the drop-in
# connector has. Checks each part.
lab_nova_agent() {
  local w=$1 agent=$2
  getent group nova >/dev/null || groupadd nova
  id nova >/dev/null 2>&1 || useradd -M -N -g nova -s /bin/false nova
  printf '[api]\nsocket = /run/pathagent/pathagent.sock\ngroup = nova\n' > $w/pathagent.conf
  "$agent" --config $w/pathagent.conf > $w/agent.log 2>&1 &
  AGENT_PID=$!
  check "pathagent listens (api.group nova)" wait_for 30 test -S /run/pathagent/pathagent.sock
  rm -rf $w/src && cp -r $LAB/brick $w/src
  check "brick/ pip-installed into the guest's Python" run python3 -m pip install -q --no-index --no-deps --no-build-isolation \
    --break-system-packages $w/src
  check "pathagent-brick enable" run python3 -m pathagent_brick enable
  cp $LAB/tools/nova_brick.py $w/nova.py
}

# lab_agent_conf W: W/agent.conf for a daemon on the lab socket with the checker every
# 2 s (a path back is reinstated, and a missing one healed, within seconds)
lab_agent_conf() {
  printf '[api]\nsocket = /run/pathagent/pathagent.sock\n[multipath]\npolling_interval = 2\n' > "$1/agent.conf"
}

# lab_metrics: the body of the daemon's GET /metrics (Prometheus text) on the lab socket
lab_metrics() {
  python3 - <<'PY'
import socket
s = socket.socket(socket.AF_UNIX); s.connect('/run/pathagent/pathagent.sock')
s.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
data = b''
while True:
    b = s.recv(65536)
    if not b: break
    data += b
head, _, body = data.partition(b'\r\n\r\n')
print(body.decode(errors='replace'))
PY
}

# lab_tally CMD...: run CMD (e.g. a python checker) and count its "PASS: "/"FAIL: " lines
# as checks of this scenario; other lines are echoed as they are.
lab_tally() {
  local l
  while IFS= read -r l; do
    case $l in
      PASS:\ *) ok "${l#PASS: }" ;;
      FAIL:\ *) bad "${l#FAIL: }" ;;
      *) echo "$l" ;;
    esac
  done < <("$@" 2>&1)
}
echo "scenario $(basename "$0" .sh): kernel $(uname -r)"
