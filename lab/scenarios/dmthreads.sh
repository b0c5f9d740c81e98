#!/bin/bash
# libdevmapper from many threads at once. The daemon's workers reach device-mapper in
# parallel (17 detaches at once remove 17 maps while the monitor polls the others), and
# libdevmapper keeps process-wide state (its queue of /dev/mapper node operations, the
# control fd, version checks) without locks of its own. engine-probe dm-stress creates,
# reads, suspends, resumes and removes zero-target maps from 16 threads through the
# agent's own LibDeviceMapper: the process must not crash, every operation must succeed,
# and no map or /dev/mapper node may be left behind.
. "$(dirname "$0")/lib.sh"
PROBE=$LAB_BIN/engine-probe
W=/tmp/dmthreads; mkdir -p $W

step setup
check "dm_mod and dm_zero loaded" modprobe -a dm_mod dm_zero

# Each map makes ~5 uevents, and under TCG udevd's dm rules take about a second each: its
# queue would slow every later scenario for minutes. udevd is stopped for the stress (the
# agent's default is no udev sync: libdevmapper makes the /dev/mapper nodes itself) and
# started again afterwards; the events of maps that no longer exist are dropped with it.
check "udevd stopped for the stress" udevadm control --exit

step stress
lab_watch 240
"$PROBE" dm-stress 16 20 >$W/out.txt 2>&1; rc=$?
sed 's/^/  /' $W/out.txt | head -25
check "dm-stress exited 0 (rc $rc; 134/139 = the process crashed)" test "$rc" = 0
check "all 320 maps created, read and removed" grep -q '320 maps, 0 failures' $W/out.txt
check "no stress map left in device-mapper" bash -c '! dmsetup ls | grep -q pathagent-stress'
check "no stress node left in /dev/mapper" bash -c '! ls /dev/mapper | grep -q pathagent-stress'
/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1
check "udevd running again and settled" bash -c 'pgrep -x systemd-udevd >/dev/null && udevadm settle --timeout=30'
finish
