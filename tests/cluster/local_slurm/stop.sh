#!/usr/bin/env bash
# tests/cluster/local_slurm/stop.sh - stop ONLY the daemons that start.sh started.
# (The project's own copy of the local-SLURM recipe's stop script.)
#
# It reads the pid records in $LOCAL_SLURM_RUN_DIR (default /run/local-slurm),
# checks that each pid still belongs to the expected program (/proc/PID/comm),
# sends SIGTERM to that pid, waits, and escalates to SIGKILL for that pid only.
# Never uses pkill/killall; daemons it did not start are left running.
set -uo pipefail

RUN_DIR="${LOCAL_SLURM_RUN_DIR:-/run/hetpref-local-slurm}"
WAIT="${LOCAL_SLURM_STOP_WAIT:-30}"

log() { printf '[hetpref-local-slurm] %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "must run as root"; exit 1; }
[ -d "$RUN_DIR" ] || { log "nothing recorded in $RUN_DIR; nothing to stop"; exit 0; }

# wait for a start.sh in progress (same lock as start.sh)
exec 9>"/run/lock/hetpref-local-slurm.lock"
flock -w "$(( WAIT * 10 ))" 9 || log "lock still held after $(( WAIT * 10 ))s; stopping anyway"

pid_from() { [ -s "$1" ] && tr -dc '0-9' < "$1" || true; }
alive() {
    local pid=$1 comm=$2
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]
}

# If we own slurmctld, cancel the jobs still on the cluster we started first so
# that no slurmstepd/job processes are left behind when slurmd goes away.
ctld=$(pid_from "$RUN_DIR/slurmctld.pid")
if alive "$ctld" slurmctld && command -v squeue >/dev/null 2>&1; then
    jobs=$(squeue -h -t PD,R,CG,S -o '%i' 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
        log "cancelling jobs on the local cluster: $jobs"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null || true
        for _ in $(seq 1 $((WAIT * 4))); do
            [ -z "$(squeue -h -t PD,R,CG,S -o '%i' 2>/dev/null)" ] && break
            sleep 0.25
        done
    fi
fi

stop_one() {
    local name=$1 comm=$2 rec="$RUN_DIR/$1.pid" pid
    [ -f "$rec" ] || return 0
    pid=$(pid_from "$rec")
    if alive "$pid" "$comm"; then
        log "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 $((WAIT * 4))); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) ignored SIGTERM, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    else
        log "$name: recorded pid '$pid' is not a running $comm; dropping record"
    fi
    rm -f "$rec"
}

# reverse start order
stop_one slurmd    slurmd
stop_one slurmctld slurmctld
stop_one slurmdbd  slurmdbd
stop_one mariadbd  mariadbd
stop_one munged    munged
# put /etc/slurm back as start.sh found it (see remember_config there): a config left behind
# makes every SLURM client on the machine wait for the controller just stopped
BACKUP_DIR="$RUN_DIR/etc-backup"
if [ -d "$BACKUP_DIR" ]; then
    for rec in "$BACKUP_DIR"/*; do
        [ -e "$rec" ] || continue
        case "$rec" in
            *.created) f="/etc/slurm/$(basename "$rec" .created)"; rm -f "$f"; log "removed $f" ;;
            *) f="/etc/slurm/$(basename "$rec")"; cp -p "$rec" "$f"; log "restored $f" ;;
        esac
        rm -f "$rec"
    done
    rmdir "$BACKUP_DIR" 2>/dev/null || true
fi
rmdir "$RUN_DIR" 2>/dev/null || true
log "stopped"
