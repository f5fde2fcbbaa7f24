#!/usr/bin/env bash
# A throwaway single-node SLURM cluster for tests/test_slurm.py (Debian/Ubuntu, run as root).
#
#   tests/slurm_cluster.sh start    install slurm-wlm + munge (apt) if missing, write a minimal
#                                   slurm.conf/gres.conf, start munged, slurmctld, slurmd and wait
#                                   (bounded) until the node is idle; on failure print the logs
#   tests/slurm_cluster.sh status   daemons, sinfo, squeue (exit 0 when the node answers)
#   tests/slurm_cluster.sh stop     cancel jobs, stop the daemons, remove the config and state
#                                   (once every `start` has had its `stop`; `stop --force`: now)
#
# Test sessions running at the same time share the cluster: start/stop hold a lock, and each
# start counts one user; the last stop tears down.
# The node has all CPUs of this machine (nproc), its memory (free -m) minus a headroom, and one
# GPU GRES backed by a placeholder device file (no real GPU: a job asking --gpus=1 gets
# CUDA_VISIBLE_DEVICES=0). No cgroups (proctrack/linuxproc, task/none), no accounting database
# (keep finished jobs visible to squeue/scontrol for MinJobAge seconds instead).
#
# Exit status: 0 ok; 1 the cluster did not come up (logs printed); 3 it cannot be set up here
# (not root, no apt, packages not installable, a foreign slurm.conf present): tests skip on 3.
#
# Environment: SLURM_TEST_TIMEOUT (seconds to wait for the node, default 60),
# SLURM_TEST_MEM_HEADROOM_MB (default 1024).
set -uo pipefail

MARKER="# written by lstmfcn-bench tests/slurm_cluster.sh"
CONF_DIR=/etc/slurm
RUN_DIR=/run/lstmfcn-slurm          # pid files and the placeholder GPU device
STATE_DIR=/var/spool/lstmfcn-slurm  # slurmctld state and slurmd spool
LOG_DIR=/var/log/lstmfcn-slurm
NODE=localhost
PARTITION=debug
LOCK=/run/lstmfcn-slurm.lock
USERS=/run/lstmfcn-slurm.users      # how many started sessions have not stopped yet
TIMEOUT=${SLURM_TEST_TIMEOUT:-60}
HEADROOM_MB=${SLURM_TEST_MEM_HEADROOM_MB:-1024}

say() { echo "slurm_cluster: $*" >&2; }
cannot() { say "cannot set up a cluster here: $*"; exit 3; }

ours() { [ -f "$CONF_DIR/slurm.conf" ] && grep -qF "$MARKER" "$CONF_DIR/slurm.conf"; }

users() { cat "$USERS" 2>/dev/null || echo 0; }

# (the daemons are started with fd 9 closed, so they do not inherit the lock)
lock() {
    exec 9>"$LOCK"
    flock -w 900 9 || { say "could not take $LOCK"; exit 1; }
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

show_logs() {
    for f in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
        [ -f "$f" ] || continue
        echo "----- $f (last 60 lines)" >&2
        tail -n 60 "$f" >&2
    done
    echo "----- sinfo" >&2
    sinfo -N -l >&2 2>&1 || true
    scontrol show node "$NODE" >&2 2>&1 || true
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return 0
    fi
    command -v apt-get >/dev/null || cannot "no apt-get (the fixture needs Debian/Ubuntu)"
    say "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # Bounded, so an unreachable mirror means a skip, not a hang.
    timeout 300 apt-get update -qq -o Acquire::Retries=1 -o Acquire::http::Timeout=20 \
        >/dev/null 2>&1 || cannot "apt-get update failed (no package mirror reachable?)"
    timeout 600 apt-get install -y -qq --no-install-recommends slurm-wlm munge \
        >/tmp/lstmfcn-slurm-apt.log 2>&1 || {
        tail -n 20 /tmp/lstmfcn-slurm-apt.log >&2
        cannot "apt-get install slurm-wlm munge failed"
    }
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        || cannot "slurmctld/slurmd missing after apt-get install"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key --force
        else
            dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
        fi
    fi
    chown munge:munge /etc/munge /etc/munge/munge.key
    chmod 0700 /etc/munge
    chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    su -s /bin/sh munge -c /usr/sbin/munged 9>&- || { say "munged did not start"; show_logs; exit 1; }
    for _ in $(seq 1 20); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    say "munge does not work (munge -n | unmunge)"
    show_logs
    exit 1
}

write_config() {
    local cpus mem_total mem
    cpus=$(nproc)
    mem_total=$(free -m | awk '/^Mem:/ {print $2}')
    mem=$((mem_total - HEADROOM_MB))
    [ "$mem" -ge 1024 ] || mem=$((mem_total * 3 / 4))
    mkdir -p "$CONF_DIR" "$RUN_DIR" "$STATE_DIR/ctld" "$STATE_DIR/d" "$LOG_DIR"
    # The placeholder GPU: a character device like /dev/null, or a plain file where mknod is
    # not allowed. Nothing opens it; slurmd only needs it to exist.
    rm -f "$RUN_DIR/gpu0"
    mknod -m 0666 "$RUN_DIR/gpu0" c 1 3 2>/dev/null || touch "$RUN_DIR/gpu0"
    cat >"$CONF_DIR/slurm.conf" <<EOF
$MARKER
ClusterName=lstmfcn-ci
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# trust the node line below, not the hardware probe (containers)
SlurmdParameters=config_overrides
ReturnToService=2
# no accounting database: sacct has nothing, finished jobs stay in slurmctld (squeue, scontrol
# show job) for MinJobAge seconds
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MpiDefault=none
MailProg=/bin/true
KillWait=10
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$CONF_DIR/gres.conf" <<EOF
$MARKER
AutoDetect=off
NodeName=$NODE Name=gpu File=$RUN_DIR/gpu0
EOF
    say "node $NODE: CPUs=$cpus RealMemory=$mem Gres=gpu:1 (placeholder $RUN_DIR/gpu0)"
}

node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n 1; }

# Ready: the node answers and takes jobs (idle, or busy with another session's jobs).
wait_ready() {
    local deadline=$((SECONDS + TIMEOUT)) state="" resumed=""
    while [ "$SECONDS" -lt "$deadline" ]; do
        for d in slurmctld slurmd; do
            # (the pid file appears once the daemon has forked)
            if [ -f "$RUN_DIR/$d.pid" ] && ! pid_alive "$RUN_DIR/$d.pid"; then
                say "$d died"; show_logs; return 1
            fi
        done
        state=$(node_state)
        case "$state" in
        idle | mixed | allocated | completing) return 0 ;;
        down* | drain* | inval*)
            if [ -z "$resumed" ]; then
                scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
                resumed=1
            fi
            ;;
        esac
        sleep 1
    done
    say "node $NODE not ready after ${TIMEOUT}s (state: ${state:-no answer})"
    show_logs
    return 1
}

start() {
    [ "$(id -u)" = 0 ] || cannot "not root"
    if [ -f "$CONF_DIR/slurm.conf" ] && ! ours; then
        cannot "$CONF_DIR/slurm.conf exists and was not written by this script"
    fi
    install_packages
    lock
    if ours && pid_alive "$RUN_DIR/slurmctld.pid" && pid_alive "$RUN_DIR/slurmd.pid"; then
        wait_ready || exit 1
        echo $(($(users) + 1)) >"$USERS"
        say "already running; now used by $(users) session(s)"
        return 0
    fi
    stop_daemons
    start_munge
    write_config
    rm -rf "${STATE_DIR:?}/ctld/"* "${STATE_DIR:?}/d/"*
    : >"$LOG_DIR/slurmctld.log"
    : >"$LOG_DIR/slurmd.log"
    slurmctld -c 9>&- || { say "slurmctld did not start"; show_logs; exit 1; }
    slurmd -N "$NODE" 9>&- || { say "slurmd did not start"; show_logs; exit 1; }
    wait_ready || exit 1
    echo 1 >"$USERS"
    say "up: $(sinfo -h -o '%P %D %T %c CPUs %m MB %G')"
}

# Stop a daemon by its pid file; TERM, then KILL after a bounded wait.
stop_pid() {
    local file=$1 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$file"
}

stop_daemons() {
    if ours && pid_alive "$RUN_DIR/slurmctld.pid"; then
        scancel --full --quiet --partition "$PARTITION" 2>/dev/null || true
        sleep 1
    fi
    stop_pid "$RUN_DIR/slurmd.pid"
    stop_pid "$RUN_DIR/slurmctld.pid"
}

stop() {
    [ "$(id -u)" = 0 ] || cannot "not root"
    if [ -f "$CONF_DIR/slurm.conf" ] && ! ours; then
        say "$CONF_DIR/slurm.conf was not written by this script: leaving it alone"
        exit 0
    fi
    lock
    local left=$(($(users) - 1))
    if [ "${1:-}" != --force ] && [ "$left" -gt 0 ]; then
        echo "$left" >"$USERS"
        say "still used by $left other session(s): left running (stop --force stops it)"
        return 0
    fi
    stop_daemons
    stop_pid /run/munge/munged.pid
    rm -f "$USERS"
    rm -f "$CONF_DIR/slurm.conf" "$CONF_DIR/gres.conf"
    rm -rf "$RUN_DIR" "$STATE_DIR"
    say "stopped (logs kept in $LOG_DIR)"
}

status() {
    local rc=0
    for d in slurmctld slurmd; do
        if pid_alive "$RUN_DIR/$d.pid"; then echo "$d: running (pid $(cat "$RUN_DIR/$d.pid"))"
        else echo "$d: not running"; rc=1; fi
    done
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then echo "munge: ok"
    else echo "munge: not working"; rc=1; fi
    sinfo -N -o '%N %P %T %c %m %G' 2>&1 || rc=1
    squeue 2>&1 || rc=1
    return $rc
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
status) status ;;
*)
    echo "usage: $0 start|stop [--force]|status" >&2
    exit 2
    ;;
esac
