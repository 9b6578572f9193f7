#!/usr/bin/env bash
# Sets up and starts a single-node Slurm cluster on this machine, for the sweep tests
# (test/sweep.test.ts) and for trying `collapse sweep --executor slurm` without a real cluster:
#
#   bash scripts/setup-slurm.sh [--quiet] [--stop]
#
#   1. apt-installs Debian's slurmctld, slurmd, slurm-client and munge if sbatch is missing;
#   2. writes /etc/slurm/slurm.conf for one node (this host, all its CPUs and memory) in partition
#      `debug`: no cgroups (proctrack/linuxproc, task/none), no accounting database;
#   3. starts munged, slurmctld and slurmd (as root, no systemd needed) and waits until `sinfo`
#      shows the node idle.
#
# Idempotent: daemons already answering with this config are left alone (a second run takes well under a
# second); a changed config restarts them. --stop stops the daemons this script starts.
# Needs root and apt (Debian/Ubuntu). Exit codes: 0 ready, 1 a step failed, 2 not root / no apt.
set -euo pipefail

QUIET=0
STOP=0
for arg in "$@"; do
  case "$arg" in
    --quiet) QUIET=1 ;;
    --stop) STOP=1 ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-slurm: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
say() { (( QUIET )) || echo "setup-slurm: $*"; }
die() { echo "setup-slurm: $*" >&2; exit 1; }

[[ "$(id -u)" == 0 ]] || { echo "setup-slurm: needs root (it installs packages and starts daemons)" >&2; exit 2; }

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
SPOOL=/var/spool/slurm-collapse
LOG_DIR=/var/log/slurm-collapse
RUN_DIR=/run/slurm-collapse

stop_daemons() {
  # Only the daemons this script started: their pid files name them.
  local f pid
  for f in "$RUN_DIR/slurmd.pid" "$RUN_DIR/slurmctld.pid"; do
    pid="$(cat "$f" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$f"
  done
}

if (( STOP )); then
  stop_daemons
  say "stopped slurmctld and slurmd"
  exit 0
fi

# --- 1. packages ----------------------------------------------------------------------------------
if ! command -v sbatch >/dev/null 2>&1 || ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "setup-slurm: sbatch is missing and there is no apt-get to install Slurm with" >&2; exit 2; }
  say "[1/3] apt-get install slurmctld slurmd slurm-client munge (~10 s)"
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists only when the install cannot find the packages (a fresh image has none).
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; } ||
    die "apt-get could not install slurmctld slurmd slurm-client munge"
else
  say "[1/3] slurm and munge already installed (slurmd $(dpkg-query -W -f='${Version}' slurmd 2>/dev/null || echo '?'))"
fi

# --- 2. munge and slurm.conf ---------------------------------------------------------------------
HOST="$(hostname -s)"
CPUS="$(nproc)"
# slurmd -C reports what slurmd itself will see; a RealMemory above it would mark the node invalid.
MEM="$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)"
[[ -n "$MEM" ]] || MEM=1024
mkdir -p "$CONF_DIR" "$SPOOL/ctld" "$SPOOL/d" "$LOG_DIR" "$RUN_DIR"

if [[ ! -s /etc/munge/munge.key ]]; then
  mkdir -p /etc/munge
  if command -v mungekey >/dev/null 2>&1; then mungekey --create --keyfile=/etc/munge/munge.key --force >/dev/null
  else dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none; fi
fi
chown munge:munge /etc/munge/munge.key 2>/dev/null || true
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true

want_conf="$(cat <<EOF
# Written by collapse-kit's scripts/setup-slurm.sh: one node, no cgroups, no accounting database.
ClusterName=collapse
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
)"

running() { local pid; pid="$(cat "$RUN_DIR/$1.pid" 2>/dev/null || true)"; [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }

changed=0
if [[ ! -f "$CONF" || "$(cat "$CONF")" != "$want_conf" ]]; then
  printf '%s\n' "$want_conf" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
  changed=1
  say "[2/3] wrote $CONF ($HOST: $CPUS CPUs, $MEM MB)"
else
  say "[2/3] $CONF up to date ($HOST: $CPUS CPUs, $MEM MB)"
fi

# --- 3. daemons ------------------------------------------------------------------------------------
if ! pgrep -x munged >/dev/null 2>&1; then
  # munged refuses to run as root without --force; run it as its own user, as systemd would.
  if id munge >/dev/null 2>&1; then runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
  else /usr/sbin/munged --force || die "munged did not start"; fi
fi
for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null 2>&1 || die "munge does not work: munge -n | unmunge fails (see /var/log/munge/munged.log)"

if (( changed )); then stop_daemons; fi
if running slurmctld && running slurmd && scontrol ping >/dev/null 2>&1; then
  say "[3/3] slurmctld and slurmd already running"
else
  stop_daemons
  # -c: a fresh state each start, so a stale node or job from an older config cannot linger.
  slurmctld -c || die "slurmctld did not start: $(tail -3 "$LOG_DIR/slurmctld.log" 2>/dev/null)"
  for _ in $(seq 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.1; done
  scontrol ping >/dev/null 2>&1 || die "slurmctld does not answer: $(tail -3 "$LOG_DIR/slurmctld.log" 2>/dev/null)"
  slurmd || die "slurmd did not start: $(tail -3 "$LOG_DIR/slurmd.log" 2>/dev/null)"
  say "[3/3] started slurmctld and slurmd (logs in $LOG_DIR)"
fi

# The node registers within a second or two; a node marked down by an earlier run is resumed.
state=""
for i in $(seq 150); do
  state="$(sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | head -1)"
  case "$state" in
    idle|mixed|allocated|completing) break ;;
    down*|drain*|fail*) (( i % 10 == 0 )) && scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.2
done
case "$state" in
  idle|mixed|allocated|completing) say "OK: node $HOST is $state in partition debug" ;;
  *) die "node $HOST is '${state:-unknown}' after 30 s: $(sinfo -h -N -o '%N %T %E' 2>&1 | head -1); slurmd log: $(tail -3 "$LOG_DIR/slurmd.log" 2>/dev/null)" ;;
esac
