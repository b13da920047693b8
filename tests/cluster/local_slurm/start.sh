#!/usr/bin/env bash
# tests/cluster/local_slurm/start.sh - install (if needed), configure and start
# a real single-node SLURM cluster on this machine (Debian 12, root, no
# systemd) for tests/cluster/test_slurm.py and for CI.
#
# The project's own copy of a proven local-SLURM recipe (Debian's slurm 22.05,
# snakemake-executor-plugin-slurm 2.8.0). Changes from the recipe: pid records
# live in a project-specific folder, start/stop are serialised with flock,
# a missing apt-get and failed installs are reported with the apt log's tail,
# and generated configs are compared without their comment lines (so a cluster
# already configured by the same recipe is neither rewritten nor reconfigured).
#
# Idempotent: daemons that are already up are left alone; only daemons this
# script starts are recorded (pid files in $LOCAL_SLURM_RUN_DIR) so that
# stop.sh stops exactly those and nothing else.
#
# Usage (CI):  sudo tests/cluster/local_slurm/start.sh
#              trap 'sudo tests/cluster/local_slurm/stop.sh' EXIT
#
# Environment knobs:
#   LOCAL_SLURM_ACCOUNTING=1  (default) MariaDB + slurmdbd, so `sacct` works
#                             (the snakemake slurm plugin's default status cmd)
#   LOCAL_SLURM_ACCOUNTING=0  no database; sacct fails with "Slurm accounting
#                             storage is disabled" -> profiles must then set
#                             `slurm-status-command: squeue`
#   LOCAL_SLURM_RUN_DIR       where pid records go (default /run/hetpref-local-slurm)
#   LOCAL_SLURM_TIMEOUT       seconds to wait for each daemon (default 60)
#   LOCAL_SLURM_PARTITION     partition name (default debug)
set -euo pipefail

ACCOUNTING="${LOCAL_SLURM_ACCOUNTING:-1}"
RUN_DIR="${LOCAL_SLURM_RUN_DIR:-/run/hetpref-local-slurm}"
TIMEOUT="${LOCAL_SLURM_TIMEOUT:-60}"
PARTITION="${LOCAL_SLURM_PARTITION:-debug}"
APT_LOG="$(mktemp -t local-slurm-apt.XXXXXX)"

SLURM_ETC=/etc/slurm
SLURM_CONF="$SLURM_ETC/slurm.conf"
SLURMDBD_CONF="$SLURM_ETC/slurmdbd.conf"
SLURM_PID_DIR=/run/slurm-local
SLURM_LOG_DIR=/var/log/slurm
SLURM_STATE_DIR=/var/lib/slurm/slurmctld
SLURMD_SPOOL=/var/lib/slurm/slurmd
MYSQL_SOCK=/run/mysqld/mysqld.sock
MYSQL_PID=/run/mysqld/mysqld.pid
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=slurmlocal   # local-only: mariadb runs with --skip-networking

log() { printf '[hetpref-local-slurm] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
T_START=$(date +%s.%N)
elapsed() { awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}'; }

# wait_for SECONDS CMD... : poll CMD every 0.25 s until it succeeds
wait_for() {
    local secs=$1; shift
    local deadline=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.25
    done
}

# alive PID COMM : process PID exists and its command name is COMM
alive() {
    local pid=$1 comm=$2
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]
}
pid_from() { [ -s "$1" ] && tr -dc '0-9' < "$1" || true; }

# record NAME COMM PIDFILE : remember that *we* started this daemon
record() {
    local name=$1 comm=$2 pidfile=$3 pid
    wait_for 10 test -s "$pidfile" || die "$name did not write $pidfile"
    pid=$(pid_from "$pidfile")
    alive "$pid" "$comm" || die "$name (pid '$pid') is not running; see logs in $SLURM_LOG_DIR"
    echo "$pid" > "$RUN_DIR/$name.pid"
    log "started $name (pid $pid) [$(elapsed)]"
}

# ours_alive NAME COMM : a daemon recorded by a previous run is still up
ours_alive() { alive "$(pid_from "$RUN_DIR/$1.pid")" "$2"; }

mkdir -p "$RUN_DIR"

# one start/stop at a time on this machine (a second test run waits here);
# every daemon is started with fd 9 closed so that it does not keep the lock
exec 9>"/run/lock/hetpref-local-slurm.lock"
flock -w "$(( TIMEOUT * 5 ))" 9 || die "another start/stop of the local cluster holds the lock"

# same_config FILE TEXT : FILE exists and equals TEXT, comment lines ignored
same_config() {
    [ -f "$1" ] && [ "$(grep -v '^#' "$1")" = "$(grep -v '^#' <<<"$2")" ]
}

# remember_config FILE : before writing FILE, remember what stop.sh must put back. The
# configs have to be in /etc/slurm while the cluster runs (the executor plugin's job step drops
# SLURM_CONF from the environment of its inner srun), but every SLURM client on the machine reads
# them: one left pointing at a stopped controller makes each client wait (the plugin runs
# `scontrol show config` when Snakemake imports it: +9 s on every snakemake call). So stop.sh
# restores the file as it was before the first start: removed, or the saved copy put back.
# A file carrying this script's header with no record is a leftover of an older version: ours.
BACKUP_DIR="$RUN_DIR/etc-backup"
remember_config() {
    local file=$1 name
    name=$(basename "$file")
    mkdir -p "$BACKUP_DIR"
    if [ ! -e "$BACKUP_DIR/$name.created" ] && [ ! -e "$BACKUP_DIR/$name" ]; then
        if [ -f "$file" ] && ! head -1 "$file" | grep -q '^# generated by tests/cluster/local_slurm/start.sh'; then
            cp -p "$file" "$BACKUP_DIR/$name"          # someone else's config: put back at stop
        else
            : > "$BACKUP_DIR/$name.created"            # none (or a leftover of ours): removed at stop
        fi
    fi
}

# --------------------------------------------------------------------------
# 1. packages
# --------------------------------------------------------------------------
PKGS=(slurmctld slurmd slurm-client munge)
NEED_CMDS=(slurmctld slurmd sinfo sbatch squeue sacct scontrol munged munge)
if [ "$ACCOUNTING" = 1 ]; then
    PKGS+=(slurmdbd mariadb-server)
    NEED_CMDS+=(slurmdbd sacctmgr mariadbd mariadb mariadb-admin)
fi
missing=0
for c in "${NEED_CMDS[@]}"; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || { missing=1; break; }
done
if [ "$missing" = 1 ]; then
    command -v apt-get >/dev/null 2>&1 || die "SLURM packages missing and no apt-get to install ${PKGS[*]}"
    log "installing: ${PKGS[*]} (log: $APT_LOG)"
    # keep Debian maintainer scripts from auto-starting daemons we do not own
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${PKGS[@]}" >"$APT_LOG" 2>&1; then
        log "apt-get install failed; running apt-get update and retrying"
        apt-get update -q >>"$APT_LOG" 2>&1
        apt-get install -y -q --no-install-recommends "${PKGS[@]}" >>"$APT_LOG" 2>&1 \
            || { [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
                 tail -n 20 "$APT_LOG" >&2; die "apt-get install failed, see $APT_LOG"; }
    fi
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    log "packages installed [$(elapsed)]"
fi
export PATH="$PATH:/usr/sbin:/sbin"

# --------------------------------------------------------------------------
# 2. munge
# --------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
    log "creating munge key"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 0755 /run/munge

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if munge_ok; then
    log "munged already running"
else
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged 9>&-
    wait_for "$TIMEOUT" munge_ok || die "munged did not come up (see /var/log/munge/munged.log)"
    record munged munged /run/munge/munged.pid
fi

# --------------------------------------------------------------------------
# 3. MariaDB + slurmdbd (accounting, makes `sacct` work)
# --------------------------------------------------------------------------
mkdir -p "$SLURM_PID_DIR" "$SLURM_LOG_DIR" "$SLURM_STATE_DIR" "$SLURMD_SPOOL" "$SLURM_ETC"
chown slurm:slurm "$SLURM_PID_DIR" "$SLURM_LOG_DIR" "$SLURM_STATE_DIR"

if [ "$ACCOUNTING" = 1 ]; then
    db_ok() { mariadb-admin --socket="$MYSQL_SOCK" ping; }
    if db_ok >/dev/null 2>&1; then
        log "mariadb already running"
    else
        mkdir -p /run/mysqld && chown mysql:root /run/mysqld
        if [ ! -d /var/lib/mysql/mysql ]; then
            log "initialising mariadb datadir"
            mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
        fi
        rm -f "$MYSQL_PID"
        # setsid + nohup: detach from this shell; no TCP listener at all
        setsid nohup /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql \
            --socket="$MYSQL_SOCK" --pid-file="$MYSQL_PID" --skip-networking \
            --innodb-lock-wait-timeout=900 \
            --log-error="$SLURM_LOG_DIR/mariadb.err" </dev/null >/dev/null 2>&1 9>&- &
        wait_for "$TIMEOUT" db_ok || die "mariadb did not come up (see $SLURM_LOG_DIR/mariadb.err)"
        record mariadbd mariadbd "$MYSQL_PID"
    fi
    mariadb --socket="$MYSQL_SOCK" -e "
        CREATE DATABASE IF NOT EXISTS $DB_NAME;
        CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
        GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';
        FLUSH PRIVILEGES;"

    new_dbd=$(cat <<EOF
# generated by tests/cluster/local_slurm/start.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
DebugLevel=info
LogFile=$SLURM_LOG_DIR/slurmdbd.log
PidFile=$SLURM_PID_DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
)
    remember_config "$SLURMDBD_CONF"
    if ! same_config "$SLURMDBD_CONF" "$new_dbd"; then
        printf '%s\n' "$new_dbd" > "$SLURMDBD_CONF"
    fi
    chown slurm:slurm "$SLURMDBD_CONF"
    chmod 0600 "$SLURMDBD_CONF"
fi

# --------------------------------------------------------------------------
# 4. slurm.conf (single node, derived from this machine)
# --------------------------------------------------------------------------
NODE=$(hostname -s)
if ! getent hosts "$NODE" >/dev/null 2>&1; then
    NODE=localhost   # hostname does not resolve: fall back to a name that does
fi
HW=$(slurmd -C | head -1)
hwval() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$HW"; }
CPUS=$(hwval CPUs); BOARDS=$(hwval Boards); SPB=$(hwval SocketsPerBoard)
CPS=$(hwval CoresPerSocket); TPC=$(hwval ThreadsPerCore); MEM=$(hwval RealMemory)
[ -n "$CPUS" ] || CPUS=$(nproc)
MEM_FOR_JOBS=$(( ${MEM:-2048} * 90 / 100 ))
TOPO="CPUs=$CPUS"
if [ -n "$BOARDS" ] && [ -n "$SPB" ] && [ -n "$CPS" ] && [ -n "$TPC" ]; then
    TOPO="CPUs=$CPUS Boards=$BOARDS SocketsPerBoard=$SPB CoresPerSocket=$CPS ThreadsPerCore=$TPC"
fi

if [ "$ACCOUNTING" = 1 ]; then
    ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819"
else
    ACCT="AccountingStorageType=accounting_storage/none"
fi

new_conf=$(cat <<EOF
# generated by tests/cluster/local_slurm/start.sh: single-node local cluster
ClusterName=localcluster
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
# bind daemons to the address of the host name (loopback) instead of 0.0.0.0
CommunicationParameters=NoInAddrAny
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$SLURM_STATE_DIR
SlurmdSpoolDir=$SLURMD_SPOOL
SlurmctldPidFile=$SLURM_PID_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_PID_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_LOG_DIR/slurmctld.log
SlurmdLogFile=$SLURM_LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups needed
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
$ACCT
MailProg=/bin/true
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_LOG_DIR/jobcomp.log
# keep finished jobs visible to squeue for 5 min (plugin's squeue status path)
MinJobAge=300
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 $TOPO RealMemory=$MEM_FOR_JOBS State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
)
conf_changed=0
remember_config "$SLURM_CONF"
if ! same_config "$SLURM_CONF" "$new_conf"; then
    printf '%s\n' "$new_conf" > "$SLURM_CONF"
    chmod 0644 "$SLURM_CONF"
    conf_changed=1
    log "wrote $SLURM_CONF"
fi

# stop_ours NAME COMM : stop a daemon we started earlier (used on config change)
stop_ours() {
    local pid
    pid=$(pid_from "$RUN_DIR/$1.pid")
    if alive "$pid" "$2"; then
        kill -TERM "$pid"
        wait_for 30 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/$1.pid"
}
if [ "$conf_changed" = 1 ]; then
    # config changed under running daemons that we own: restart them
    ours_alive slurmd slurmd && { log "config changed: restarting slurmd"; stop_ours slurmd slurmd; }
    ours_alive slurmctld slurmctld && { log "config changed: restarting slurmctld"; stop_ours slurmctld slurmctld; }
fi

# --------------------------------------------------------------------------
# 5. daemons: slurmdbd -> slurmctld -> slurmd
# --------------------------------------------------------------------------
if [ "$ACCOUNTING" = 1 ]; then
    dbd_ok() { sacctmgr -n -P list cluster; }
    dbd_pid=$(pid_from "$SLURM_PID_DIR/slurmdbd.pid")
    if alive "$dbd_pid" slurmdbd; then
        log "slurmdbd already running (pid $dbd_pid)"
    else
        rm -f "$SLURM_PID_DIR/slurmdbd.pid"
        /usr/sbin/slurmdbd 9>&-
        record slurmdbd slurmdbd "$SLURM_PID_DIR/slurmdbd.pid"
    fi
    wait_for "$TIMEOUT" dbd_ok || die "slurmdbd not answering (see $SLURM_LOG_DIR/slurmdbd.log)"
fi

ctld_pid=$(pid_from "$SLURM_PID_DIR/slurmctld.pid")
if alive "$ctld_pid" slurmctld; then
    log "slurmctld already running (pid $ctld_pid)"
    if [ "$conf_changed" = 1 ]; then scontrol reconfigure || true; fi
else
    rm -f "$SLURM_PID_DIR/slurmctld.pid"
    /usr/sbin/slurmctld 9>&-
    record slurmctld slurmctld "$SLURM_PID_DIR/slurmctld.pid"
fi
wait_for "$TIMEOUT" scontrol ping || die "slurmctld not answering (see $SLURM_LOG_DIR/slurmctld.log)"

slurmd_pid=$(pid_from "$SLURM_PID_DIR/slurmd.pid")
if alive "$slurmd_pid" slurmd; then
    log "slurmd already running (pid $slurmd_pid)"
else
    rm -f "$SLURM_PID_DIR/slurmd.pid"
    /usr/sbin/slurmd -N "$NODE" 9>&-
    record slurmd slurmd "$SLURM_PID_DIR/slurmd.pid"
fi

# --------------------------------------------------------------------------
# 6. wait until the node is idle (resume it if it came back down/drained)
# --------------------------------------------------------------------------
node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -1; }
deadline=$(( $(date +%s) + TIMEOUT ))
resumed=0
while :; do
    st=$(node_state)
    case "$st" in
        idle|mixed|allocated) break ;;
        down*|drain*|fail*)
            if [ "$resumed" = 0 ]; then
                log "node $NODE is '$st', resuming"
                scontrol update NodeName="$NODE" State=RESUME || true
                resumed=1
            fi ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || die "node $NODE not idle after ${TIMEOUT}s (state '$st')"
    sleep 0.25
done
log "cluster ready: node $NODE is $st, partition $PARTITION, accounting=$ACCOUNTING [$(elapsed)]"
sinfo
