# Shared by the cluster scripts: where the cluster lives and how its parts start.
# A cluster is a state directory (certificates, kubeconfig, etcd data, logs, pids) and a
# network namespace named after it, holding 10.200.0.1 on its loopback device.
set -euo pipefail
cluster_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_dir=${GOVERNOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/governor}
state=${GOVERNOR_CLUSTER_DIR:-$cache_dir/cluster}
mkdir -p "$state"
state=$(cd "$state" && pwd)
netns="governor-$(printf %s "$state" | cksum | cut -d' ' -f1)"
address=10.200.0.1
apiserver_port=6443
kubeconfig="$state/kubeconfig"

say() { echo "cluster: $*" >&2; }
in_netns() { ip netns exec "$netns" "$@"; }
bin_dir() { "$cluster_scripts/build-binaries" | tail -n 1; }

pid_of() { cat "$state/$1.pid" 2>/dev/null || true; }
running() { local p; p=$(pid_of "$1"); [[ -n $p ]] && kill -0 "$p" 2>/dev/null; }

# start NAME ARGS...: runs a binary in the namespace, detached from our stdout so that
# callers (ctest fixtures) do not wait on it.
start() {
  local name=$1; shift
  running "$name" && return 0
  # exec all the way down, so that $! is the binary's own pid.
  (exec nsenter --net="/var/run/netns/$netns" -- "$(cat "$state/bin")/$name" "$@" \
    </dev/null >>"$state/logs/$name.log" 2>&1) &
  echo $! >"$state/$name.pid"
}

stop() {  # stop NAME [SIGNAL]
  local name=$1 sig=${2:-TERM} p
  p=$(pid_of "$name")
  [[ -n $p ]] || return 0
  kill "-$sig" "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$state/$name.pid"
}

wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  say "timed out after ${limit}s waiting for $what"
  return 1
}

start_etcd() {
  start etcd --name governor --data-dir "$state/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster governor=http://127.0.0.1:2380 --unsafe-no-fsync=true --log-level=warn
  wait_until 30 etcd in_netns curl -sf http://127.0.0.1:2379/health
}

start_apiserver() {
  local pki=$state/pki
  start kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --advertise-address=$address --secure-port=$apiserver_port \
    --cert-dir="$state/apiserver-certs" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --authorization-mode=Node,RBAC \
    --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
    --disable-admission-plugins=ServiceAccount \
    --service-account-issuer=https://$address:$apiserver_port \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" \
    --proxy-client-key-file="$pki/front-proxy-client.key" \
    --enable-aggregator-routing=true
  wait_until 90 "kube-apiserver /readyz" apiserver_ready
}

apiserver_ready() {
  in_netns curl -sf --cacert "$state/pki/ca.crt" --cert "$state/pki/admin.crt" \
    --key "$state/pki/admin.key" "https://$address:$apiserver_port/readyz"
}

start_controller_manager() {
  start kube-controller-manager --kubeconfig="$kubeconfig" --leader-elect=false --secure-port=0 \
    --controllers=deployment,replicaset,horizontalpodautoscaling,garbagecollector,namespace \
    --horizontal-pod-autoscaler-sync-period=1s \
    --horizontal-pod-autoscaler-downscale-stabilization=0s \
    --root-ca-file="$state/pki/ca.crt" --service-account-private-key-file="$state/pki/sa.key"
}
