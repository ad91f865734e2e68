#!/usr/bin/env bash
# A one-node Slurm cluster on localhost for the test suite (tests/runner/slurm_test.ts), all of its
# state in one folder:
#
#   .ci/slurm.sh start DIR   installs slurm-wlm and munge where missing (apt-get, as root), writes
#                            DIR/slurm.conf, starts munged, slurmctld and slurmd, and waits until
#                            the node is idle; then `SLURM_CONF=DIR/slurm.conf sbatch …` works
#   .ci/slurm.sh stop DIR    stops the three daemons (by their pid files) and removes DIR
#
# Needs root (slurmd runs jobs as their user; munged and slurmd are started as root). Exits 1 with
# a message when something cannot be set up.
set -euo pipefail
cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

stop() {
  for pid_file in "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" "$dir/munge/munged.pid"; do
    if [[ -f "$pid_file" ]]; then kill "$(cat "$pid_file")" 2>/dev/null || true; fi
  done
  sleep 1
  rm -rf "$dir"
}

if [[ "$cmd" == stop ]]; then stop; exit 0; fi
[[ "$cmd" == start ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ "$(id -u)" -eq 0 ]] || { echo "error: a local Slurm needs root" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  echo "installing slurm-wlm and munge" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq slurm-wlm munge || { apt-get update -qq && apt-get install -y -qq slurm-wlm munge; }; } >/dev/null 2>&1 ||
    { echo "error: could not install slurm-wlm and munge" >&2; exit 1; }
fi

mkdir -p "$dir"/{spool,state,log,run,munge}
chmod 700 "$dir/munge"
mungekey --create --force --keyfile "$dir/munge/munge.key" >/dev/null
chmod 400 "$dir/munge/munge.key"
munged --force --socket "$dir/munge/sock" --key-file "$dir/munge/munge.key" \
  --pid-file "$dir/munge/munged.pid" --log-file "$dir/munge/munged.log" --seed-file "$dir/munge/seed"

host=$(hostname -s)
# Ports from the folder's name, so that clusters of parallel runs do not collide.
port=$((20000 + $(cksum <<<"$dir" | cut -d' ' -f1) % 20000))
cat >"$dir/slurm.conf" <<CONF
ClusterName=lpbench-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/sock
CredType=cred/munge
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  if sinfo -h -o %t 2>/dev/null | grep -qx idle; then exit 0; fi
  sleep 0.5
done
echo "error: the Slurm node did not come up; logs:" >&2
tail -n 20 "$dir"/log/*.log "$dir/munge/munged.log" >&2 || true
exit 1
