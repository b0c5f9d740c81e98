#!/bin/bash
# PID 1 of the pathagent lab guest (started by the initramfs on the real root).
# Brings up a minimal userspace (proc/sys/dev, udev), then runs each scenario named in
# /lab/scenarios.list in its own bash process: the output goes to the console and to
# /lab/out/NAME.log, and a line "NAME RC SECONDS" is appended to /lab/out/results.
# A failing or crashing scenario does not stop the next one; the state a scenario leaves
# behind (iSCSI sessions, tgtd, dm maps, scsi_debug) is torn down between scenarios.
# Kernel command line: lab.probe=1 (accelerator probe: power off at once),
# lab.shell=1 (interactive shell on the console).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
up() { cut -d' ' -f1 /proc/uptime; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
# devtmpfs has no /dev/fd: bash process substitution needs it
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin; ln -sfn /proc/self/fd/1 /dev/stdout; ln -sfn /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock /var/lock
hostname pathagent-lab
ip link set lo up
OUT=/lab/out
mkdir -p "$OUT"
echo "LAB: userspace up at $(up)s"

poweroff_now() {
  sync
  mkfifo /run/wait 2>/dev/null
  echo o >/proc/sysrq-trigger
  # do not exec anything from the root disk while it goes away
  read -t 60 <>/run/wait
  echo b >/proc/sysrq-trigger
}

if grep -qw 'lab.probe=1' /proc/cmdline; then
  touch "$OUT/probe-ok"; poweroff_now
fi

/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1
udevadm trigger --action=add >/dev/null 2>&1
udevadm settle --timeout=30
echo "LAB: udev settled at $(up)s, kernel $(uname -r)"

# The Swift products, scenarios and tools run from a tmpfs copy, so that processes that
# start many times (pathctl, 16 at once in the agent scenario) page their binary in from
# RAM rather than over 9p (cache=none). Only out/ stays on the share.
mkdir -p /run/lab
cp -r /lab/bin /lab/scenarios /run/lab/ 2>/dev/null
[ -d /lab/tools ] && cp -r /lab/tools /run/lab/
echo "LAB: products and scenarios copied to /run/lab at $(up)s"

# A heartbeat on the console, independent of the scenarios (which may block): every 30 s
# the guest's uptime, and once a scenario's watch deadline (uptime in /run/lab/watch,
# written by `lab_watch SECONDS` in lib.sh) has passed, the state of every thread.
(
  while sleep 30; do
    echo "LAB: heartbeat $(up)s, load $(cut -d' ' -f1-3 /proc/loadavg)" >/dev/ttyS0
    if [ -s /run/lab/watch ] && awk -v u="$(up)" -v d="$(cat /run/lab/watch)" 'BEGIN{exit !(u >= d)}'; then
      : >/run/lab/watch
      {
        echo "LAB: watch deadline passed; processes (kernel threads left out):"
        ps -eo pid,ppid,stat,wchan:28,etime,args | awk '$6 !~ /^\[/' | cut -c1-200 | head -80
        for p in $(pgrep -x pathagent; pgrep -x pathctl | head -3); do
          echo "LAB: threads of $p ($(cat /proc/$p/comm)): tid state wchan syscall"
          for t in /proc/$p/task/*; do
            echo "  $(basename $t) $(awk '{print $3}' $t/stat) $(cat $t/wchan) $(cut -d' ' -f1 $t/syscall 2>/dev/null) $(cat $t/comm)"
          done | head -60
        done
        echo "LAB: sessions:"; iscsiadm -m session 2>&1 | head -5
        echo "LAB: scsi disks: $(ls /sys/class/scsi_disk | wc -l); dm: $(dmsetup ls 2>&1 | head -20 | tr '\n' ' ')"
        free -m
      } >/dev/ttyS0 2>&1
    fi
  done
) &

if grep -qw 'lab.shell=1' /proc/cmdline; then
  echo "LAB: interactive shell; 'source /lab/scenarios/lib.sh' for the helpers; exit to power off"
  setsid -c bash -l </dev/ttyS0 >/dev/ttyS0 2>&1
  poweroff_now
fi

# stop_daemon NAME: SIGTERM, wait up to 5 s, then SIGKILL
stop_daemon() {
  local n=50
  pkill -x "$1" 2>/dev/null || return 0
  while pgrep -x "$1" >/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
  pkill -9 -x "$1" 2>/dev/null
  return 0
}

# Leave no state behind for the next scenario.
reset_state() {
  dmsetup remove_all --force >/dev/null 2>&1
  iscsiadm -m node --logoutall=all >/dev/null 2>&1
  iscsiadm -m node -o delete >/dev/null 2>&1
  pkill -9 -x tgtd 2>/dev/null
  for d in tgtd iscsid multipathd; do stop_daemon $d; done
  udevadm settle --timeout=10
  rmmod scsi_debug 2>/dev/null
  # the agent's journal (intents, and the claims on the maps it created) describes the
  # state just torn down: the next scenario's daemon starts as on a fresh host
  rm -rf /var/lib/pathagent
  return 0
}

: >"$OUT/results"
while read -r name; do
  [ -n "$name" ] || continue
  echo
  echo "LAB: scenario $name starting at $(up)s"
  t0=$(up)
  ( cd /tmp && exec bash "/run/lab/scenarios/$name.sh" </dev/null ) 2>&1 | tee "$OUT/$name.log"
  rc=${PIPESTATUS[0]}
  secs=$(awk -v a="$t0" -v b="$(up)" 'BEGIN{printf "%.1f", b-a}')
  echo "LAB: scenario $name finished rc=$rc in ${secs}s"
  echo "$name $rc $secs" >>"$OUT/results"
  sync
  reset_state
done </lab/scenarios.list
echo "LAB: all scenarios done at $(up)s"
free -m >"$OUT/free.txt"
poweroff_now
