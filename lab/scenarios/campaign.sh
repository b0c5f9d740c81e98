#!/bin/bash
# Fault campaign through the daemon: seeded random cycles over 4 Pure-looking tgt LUNs on
# two portals (lab/tools/campaign.py drives them). Each cycle attaches or detaches
# (detach --force while I/O runs, re-attach, all at once; the daemon SIGKILLed at a
# random moment of an attach or a detach and restarted, so its reconcile runs) and injects
# faults: a path offline and back, a session logged out by a third party, tgtd killed and
# restarted, a LUN deleted on the target and added back. Every attached volume carries a
# per-volume pattern (seed, volume, WWN, generation in every block) checked after each
# cycle. Invariants, each a check: no leaked sd/dm/session, no wrong WWN (map vs every
# path's sysfs wwid and fresh VPD 0x83), no checksum mismatch, no other volume's data, no
# session logged out while a LUN on it was in use, journal empty, claims in step with the
# maps, no daemon death. The figures line prints the seed.
# Size: LAB_CAMPAIGN_N cycles (default 12 within 240 s, the vm tier's size),
# LAB_CAMPAIGN_SEED (random, printed), LAB_CAMPAIGN_VOLUMES (4), LAB_CAMPAIGN_BUDGET_S
# (no new cycle after that many seconds);
# scripts/lab passes LAB_CAMPAIGN_* from the host through out/campaign.env.
. "$(dirname "$0")/lib.sh"
[ -f $LAB_OUT/campaign.env ] && . $LAB_OUT/campaign.env
mkdir -p /run/lab-bin && cp $LAB_BIN/pathctl $LAB_BIN/pathagent /run/lab-bin/
TOOLS=/run/lab/tools; [ -d $TOOLS ] || TOOLS=$LAB/tools
export PATHCTL=/run/lab-bin/pathctl AGENT=/run/lab-bin/pathagent
# (TGT_PORTALS is an array, which bash cannot export: the driver gets them as one word list)
export W=/tmp/campaign LAB_OUT TGT_IQN TGT_DIR TGT_PORTAL_LIST="${TGT_PORTALS[*]}"
# the vm tier's size: 12 cycles, and no new cycle after 240 s (a loaded host's TCG guest
# can take 30 s a cycle); a size asked for has no time limit unless one is given too
if [ -z "${LAB_CAMPAIGN_N:-}" ]; then LAB_CAMPAIGN_N=12; LAB_CAMPAIGN_BUDGET_S=${LAB_CAMPAIGN_BUDGET_S:-240}; fi
export LAB_CAMPAIGN_N LAB_CAMPAIGN_VOLUMES=${LAB_CAMPAIGN_VOLUMES:-4}
export LAB_CAMPAIGN_SEED=${LAB_CAMPAIGN_SEED:-} LAB_CAMPAIGN_BUDGET_S=${LAB_CAMPAIGN_BUDGET_S:-}
mkdir -p $W /run/pathagent /var/lib/pathagent

step setup
ip addr show dev lo | grep -q 'inet 127.0.0.2/' || ip addr add 127.0.0.2/8 dev lo
modprobe iscsi_tcp; modprobe dm_multipath; modprobe dm_queue_length
mkdir -p $TGT_DIR
for i in $(seq 1 $LAB_CAMPAIGN_VOLUMES); do truncate -s 16M $TGT_DIR/lun$i.img; done
pgrep -x iscsid >/dev/null || run iscsid
for _ in $(seq 50); do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 4 ] && break; sleep 0.1; done
check "iscsid answers" bash -c "iscsiadm -m session >/dev/null 2>&1; [ \$? -ne 4 ]"
# the checker every 2 s, so that a path back is reinstated within a cycle
lab_agent_conf $W
export AGENT_CONF=$W/agent.conf

step campaign
echo "campaign: LAB_CAMPAIGN_N=$LAB_CAMPAIGN_N LAB_CAMPAIGN_SEED=${LAB_CAMPAIGN_SEED:-random} LAB_CAMPAIGN_BUDGET_S=${LAB_CAMPAIGN_BUDGET_S:-none} volumes $LAB_CAMPAIGN_VOLUMES"
# a hung cycle shows every thread on the console (guest-init's heartbeat)
lab_watch $(( ${LAB_CAMPAIGN_BUDGET_S:-0} > 0 ? LAB_CAMPAIGN_BUDGET_S + 300 : LAB_CAMPAIGN_N * 30 + 300 ))
rm -f $LAB_OUT/campaign.json
lab_tally python3 -u $TOOLS/campaign.py
check "the campaign driver ran to its end (figures in out/campaign.json)" test -s $LAB_OUT/campaign.json
lab_watch 0
cp $W/agent.log "$LAB_OUT/campaign-agent-daemon.log" 2>/dev/null
grep -c "reconciling journal intent" $W/agent.log | sed 's/^/daemon log: journal intents reconciled: /'
grep -E "SIGSEGV|fatal|Fatal error|crash" $W/agent.log | head -5
finish
