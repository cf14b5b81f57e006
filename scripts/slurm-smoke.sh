#!/usr/bin/env bash
# Runs the README's Slurm job array for real, on a one-node Slurm cluster on
# localhost, and checks that the merged shards are byte for byte what one
# local sweep writes.
#   scripts/slurm-smoke.sh [CACHESIM]   the binary to test (default: $CACHESIM,
#                                       else target/release/cachesim)
# Needs root and Debian's package registry. It installs Debian's slurm-wlm
# and munge (they stay installed; nothing else of the machine's changes).
# Everything it writes (slurm.conf, munge key and socket, state, spool, logs,
# the job's shards) lives in one temporary directory, removed at exit; the
# daemons it starts (munged, slurmctld, slurmd: plain background processes,
# no systemd) are stopped by PID at exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$SECONDS

say() { echo "slurm-smoke [$(date +%T)]: $*"; }
die() {
    echo "slurm-smoke [$(date +%T)]: FAILED: $*" >&2
    exit 1
}

bin=${1:-${CACHESIM:-target/release/cachesim}}
[ -x "$bin" ] || die "no cachesim binary at $bin (build it, or pass its path)"
bin=$(realpath "$bin")

tmp=""
created_policy=""  # a policy-rc.d we made for the install, removed after it
munged_pid=""      # the daemons we started, stopped at exit
ctld_pid=""
slurmd_pid=""
old_stepds=""      # slurmstepd processes that were there before us

stop_pid() { # PID NAME: TERM, wait up to 10 s, then KILL
    local pid=$1 name=$2
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "slurm-smoke: $name ($pid) ignored TERM; killing it" >&2
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    if [ -n "$created_policy" ]; then
        rm -f "$created_policy"
    fi
    if [ "$rc" -ne 0 ] && [ -n "$tmp" ]; then
        # The tasks' output, each daemon's log file (or what it printed,
        # when it died before opening that).
        for f in "$tmp"/work/slurm-*.out "$tmp"/log/*; do
            [ -s "$f" ] || continue
            case "$f" in *.out) [ -s "${f%.out}.log" ] && continue ;; esac
            echo "---- $f (last 20 lines)" >&2
            tail -n 20 "$f" >&2
        done
    fi
    cd /
    # Our cluster runs our jobs only: cancel whatever is left and let slurmd
    # end the job steps, then stop the daemons.
    if [ -n "$ctld_pid" ] && [ -n "$slurmd_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
        scancel --partition=smoke >/dev/null 2>&1
        for _ in $(seq 50); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    [ -n "$slurmd_pid" ] && stop_pid "$slurmd_pid" slurmd
    [ -n "$ctld_pid" ] && stop_pid "$ctld_pid" slurmctld
    [ -n "$munged_pid" ] && stop_pid "$munged_pid" munged
    # A job step outliving slurmd is ours too (none was there before us).
    if [ -n "$slurmd_pid" ]; then
        local p
        for p in $(pgrep -x slurmstepd); do
            case " $old_stepds " in *" $p "*) continue ;; esac
            stop_pid "$p" slurmstepd
        done
    fi
    [ -n "$tmp" ] && rm -rf "$tmp"
    if [ "$rc" -eq 0 ]; then
        say "passed in $((SECONDS - start)) s"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "slurm-smoke: interrupted" >&2; exit 130' INT TERM

# == The packages (left installed).
t=$SECONDS
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    # Their maintainer scripts would start the daemons through /etc/init.d
    # where nothing forbids it: forbid it for the install (the usual
    # policy-rc.d), unless the machine has a policy already.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        created_policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$created_policy"
        chmod 755 "$created_policy"
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Anything else using apt (an unattended upgrade) is waited for, up to 10 min.
    apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends slurm-wlm munge >/dev/null ||
        die "apt-get install slurm-wlm munge failed"
    if [ -n "$created_policy" ]; then
        rm -f "$created_policy"
        created_policy=""
    fi
fi
say "packages ready in $((SECONDS - t)) s"

# == Nothing of ours may meet a Slurm or MUNGE already running here.
for d in munged slurmctld slurmd; do
    if pgrep -x "$d" >/dev/null; then
        die "a $d is already running (pid $(pgrep -x "$d" | tr '\n' ' ')); this test starts its own"
    fi
done
ctld_port=6817
slurmd_port=6818
for port in $ctld_port $slurmd_port; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port on 127.0.0.1 is in use"
    fi
done
old_stepds=$(pgrep -x slurmstepd | tr '\n' ' ' || true)

# == One temporary directory for everything.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/slurm-smoke.XXXXXX")
mkdir -p "$tmp"/{munge,state,spool,log,run,bin,work}
chmod 700 "$tmp/munge"
ln -s "$bin" "$tmp/bin/cachesim"
cp -r experiments models "$tmp/work/"

# == The job script, exactly as the README shows it (and docs/experiments.md
# shows the same one): the first sh block of "Running a sweep on a cluster".
extract() { # FILE HEADING-PATTERN: the first ```sh block after the pattern
    awk -v pat="$2" '$0 ~ pat { f = 1 } f && /^```sh$/ { p = 1; next } p && /^```$/ { exit } p' "$1"
}
job="$tmp/work/seed_matrix.sbatch"
extract README.md '^### Running a sweep on a cluster' >"$job"
[ -s "$job" ] || die "README.md: no sh block under 'Running a sweep on a cluster'"
head -n 1 "$job" | grep -qx '#!/bin/bash' || die "README.md: the job script does not start with #!/bin/bash"
shards=$(sed -n 's/^#SBATCH --array=1-\([0-9][0-9]*\)$/\1/p' "$job")
[ -n "$shards" ] || die "README.md: the job script has no '#SBATCH --array=1-N' line"
extract docs/experiments.md '^A Slurm job array' | cmp -s - "$job" ||
    die "docs/experiments.md's Slurm job script differs from README.md's"
say "job script (from README.md):"
sed 's/^/    /' "$job"

# == MUNGE: our own key, socket, log, pid and seed files.
export SLURM_CONF="$tmp/slurm.conf"
sock="$tmp/munge/munge.socket"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged --foreground --force --socket="$sock" --key-file="$tmp/munge/munge.key" \
    --log-file="$tmp/log/munged.log" --pid-file="$tmp/run/munged.pid" \
    --seed-file="$tmp/munge/munged.seed" >"$tmp/log/munged.out" 2>&1 &
munged_pid=$!
for _ in $(seq 100); do
    [ -S "$sock" ] && break
    kill -0 "$munged_pid" 2>/dev/null || die "munged exited (its output follows)"
    sleep 0.1
done
munge -n -S "$sock" | unmunge -S "$sock" >/dev/null || die "munged does not answer on $sock"

# == slurm.conf: one node (this host, as slurmd -C describes it), one partition.
host=$(hostname -s)
node=$(slurmd -C | head -n 1)
case "$node" in NodeName=*) ;; *) die "slurmd -C printed no node line: $node" ;; esac
node_name=${node%% *}
node_name=${node_name#NodeName=}
cat >"$SLURM_CONF" <<EOF
ClusterName=smoke
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
PlugStackConfig=$tmp/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=smoke Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
: >"$tmp/plugstack.conf"

# == The two Slurm daemons, each in the foreground (-D) of a background
# process of ours; what they log goes to $tmp/log (shown on failure).
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/log/slurmctld.out" 2>&1 &
ctld_pid=$!
slurmd -D -f "$SLURM_CONF" >"$tmp/log/slurmd.out" 2>&1 &
slurmd_pid=$!
t=$SECONDS
until [ "$(sinfo -h -n "$node_name" -o %t 2>/dev/null)" = idle ]; do
    kill -0 "$ctld_pid" 2>/dev/null || die "slurmctld exited"
    kill -0 "$slurmd_pid" 2>/dev/null || die "slurmd exited"
    [ $((SECONDS - t)) -lt 60 ] || die "node $node_name not idle after 60 s: $(sinfo -h -N -o '%N %T %E' 2>&1)"
    sleep 0.5
done
say "munged, slurmctld, slurmd up (pids $munged_pid $ctld_pid $slurmd_pid); node $node_name idle"

# == Submit the job array (cachesim on PATH for its tasks) and wait for
# every task (sbatch --wait polls too slowly: tens of seconds late).
t=$SECONDS
cd "$tmp/work"
jobid=$(PATH="$tmp/bin:$PATH" sbatch --parsable "$job") || die "sbatch refused the job script"
while [ -n "$(squeue -h -j "$jobid" -o %i 2>/dev/null)" ]; do
    kill -0 "$ctld_pid" 2>/dev/null || die "slurmctld exited"
    [ $((SECONDS - t)) -lt 1800 ] || die "job $jobid still running after 30 min: $(squeue -h -j "$jobid" -o '%i %T %R')"
    sleep 1
done
states=$(scontrol -o show job "$jobid") || die "scontrol cannot show job $jobid"
done_tasks=$(grep -c 'JobState=COMPLETED .*ExitCode=0:0' <<<"$states" || true)
if [ "$done_tasks" != "$shards" ]; then
    die "job $jobid: $done_tasks of $shards tasks completed with exit 0:
$(sed -E 's/^(JobId=[^ ]+) .*(JobState=[^ ]+) .*(ExitCode=[^ ]+).*/    \1 \2 \3/' <<<"$states")"
fi
for k in $(seq "$shards"); do
    [ -d "shards/$k" ] || die "task $k wrote no shards/$k"
done
say "job $jobid: $shards tasks done in $((SECONDS - t)) s"

# == Merge the shards, sweep locally, compare the four files merge documents
# as what one sweep writes.
t=$SECONDS
cachesim=$tmp/bin/cachesim
"$cachesim" merge shards/* --out results/seed_matrix >merge.out || die "cachesim merge failed"
"$cachesim" sweep experiments/seed_matrix.ron --out "$tmp/local" --quiet >sweep.out ||
    die "the local sweep failed"
mkdir -p "$tmp/cmp/merged" "$tmp/cmp/local"
for f in runs.csv points.csv summary.json matrix.md; do
    cp "results/seed_matrix/$f" "$tmp/cmp/merged/" || die "merge wrote no $f"
    cp "$tmp/local/$f" "$tmp/cmp/local/" || die "the local sweep wrote no $f"
done
diff -r "$tmp/cmp/merged" "$tmp/cmp/local" >&2 ||
    die "the merged shards differ from one local sweep"
cd "$repo"
say "merge of $shards shards = one local sweep (runs.csv points.csv summary.json matrix.md), checked in $((SECONDS - t)) s"
