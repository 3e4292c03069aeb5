# Shared by the bench scripts (sourced): where things are, running inside the test cluster,
# the processes a script starts, and the small arithmetic of its tables.
set -euo pipefail
bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$bench")
cluster_scripts=$repo/tests/cluster
build=${GOVERNOR_BUILD_DIR:-$repo/build}  # scripts change it with --build-dir

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

# usage: prints the calling script's header comment (its lines 2.. up to the first blank one).
usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; }

# need FILE...: fails unless each built binary exists.
need() {
  local f
  for f in "$@"; do
    [[ -x $f ]] || die "$f is missing: build first (cmake --build $build), or point --build-dir at your build"
  done
}

# in_cluster ARGS...: outside the test cluster's network namespace, starts a fresh test
# cluster of the benchmarks' own (tests/cluster/down, then up, in
# $GOVERNOR_BENCH_CLUSTER_DIR, default BUILD/bench-cluster; never $GOVERNOR_CLUSTER_DIR,
# which may be a cluster someone keeps), runs the calling script again inside it with ARGS,
# stops the cluster and exits with the script's status. Inside, it returns at once.
in_cluster() {
  [[ -n ${GOVERNOR_BENCH_IN_CLUSTER:-} ]] && return 0
  local status=0
  export GOVERNOR_CLUSTER_DIR=${GOVERNOR_BENCH_CLUSTER_DIR:-$build/bench-cluster}
  say "starting a fresh test cluster in $GOVERNOR_CLUSTER_DIR"
  "$cluster_scripts/down" >&2
  "$cluster_scripts/up" >&2
  GOVERNOR_BENCH_IN_CLUSTER=1 GOVERNOR_BUILD_DIR=$build "$cluster_scripts/exec" "$0" "$@" || status=$?
  "$cluster_scripts/down" >&2
  exit "$status"
}

# workdir NAME: a fresh directory for this run's files and logs, kept afterwards.
workdir() {
  work=$build/bench-work/$1
  rm -rf "$work" && mkdir -p "$work"
}

# background LOG CMD...: starts CMD with its output in LOG; sets $started_pid. Everything
# started so is stopped (TERM, then KILL) when the script exits.
started_pids=()
background() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  started_pid=$!
  started_pids+=("$started_pid")
}
stop_started() {
  local p
  for p in "${started_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${started_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
}
trap stop_started EXIT

# wait_for SECONDS WHAT CMD...: until CMD succeeds; fails naming WHAT after SECONDS.
wait_for() {
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "timed out after ${limit}s waiting for $what"
}

# alive PID NAME LOG: fails with the end of LOG unless process PID still runs.
alive() {
  kill -0 "$1" 2>/dev/null && return 0
  tail -n 20 "$3" >&2
  die "$2 exited; its log is $3"
}

# rss_mib PID: the process' resident memory (VmRSS) in MiB.
rss_mib() { awk '/^VmRSS:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"; }

now() { date +%s.%N; }
# seconds_since T: seconds from epoch time T until now, to the millisecond.
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# ratio A B: A / B with two decimals; "-" when either is missing or B is 0.
ratio() { awk -v a="${1:--}" -v b="${2:--}" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
# median: the median of the numbers on standard input, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# row LABEL GOVERNOR PEER: one line of a table, with the ratio governor/peer.
row() { printf '%-36s %12s %12s %14s\n' "$1" "$2" "${3:--}" "$(ratio "$2" "${3:-}")"; }
header() { printf '%-36s %12s %12s %14s\n' "$1" governor peer governor/peer; }
