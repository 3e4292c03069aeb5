# Shared by the cluster scripts: where the cluster lives and how its parts start.
# A cluster is a state directory (certificates, kubeconfig, etcd data, logs, pids) and a
# network namespace named after it, holding 10.200.0.1 on its loopback device. With a node
# (`up --node`), containerd, the kubelet, kube-scheduler, kube-proxy and CoreDNS run in the
# same namespace; pods get addresses from a bridge there (10.244.0.0/24).
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
# The node: its name, pod network, state (kubelet and containerd roots), runtime directory
# (short, for unix socket paths) and the cgroup every pod lives under.
node_name=governor-node
pod_cidr=10.244.0.0/24
service_cidr=10.0.0.0/24
node_dir="$state/node"
run_dir="/run/$netns"
containerd_socket="$run_dir/containerd.sock"
cgroup_root="/$netns"

say() { echo "cluster: $*" >&2; }
in_netns() { ip netns exec "$netns" "$@"; }
bin_dir() { "$cluster_scripts/build-binaries" | tail -n 1; }

pid_of() { cat "$state/$1.pid" 2>/dev/null || true; }
running() { local p; p=$(pid_of "$1"); [[ -n $p ]] && kill -0 "$p" 2>/dev/null; }

# start NAME ARGS...: runs a binary in the namespace, detached from our stdout so that
# callers (ctest fixtures) do not wait on it. NAME is one of the built binaries, else a
# program on PATH (containerd). It stays in our mount namespace: what the kubelet mounts,
# containerd sees.
start() { start_as "$1" "$@"; }

# start_as NAME BINARY ARGS...: as start, a second process of BINARY known as NAME (its pid
# and log files).
start_as() {
  local name=$1 binary=$2 program; shift 2
  running "$name" && return 0
  program="$(cat "$state/bin")/$binary"
  [[ -x $program ]] || program=$(command -v "$binary")
  # exec all the way down, so that $! is the binary's own pid.
  (exec nsenter --net="/var/run/netns/$netns" -- "$program" "$@" \
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

# start_apiserver [NAME PORT FLAGS...]: the cluster's kube-apiserver, or another one of the
# same cluster (its etcd, certificates and service accounts) known as NAME on PORT, with
# FLAGS added.
start_apiserver() {
  local pki=$state/pki name=${1:-kube-apiserver} port=${2:-$apiserver_port}
  shift $(($# < 2 ? $# : 2))
  start_as "$name" kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --advertise-address=$address --secure-port=$port \
    --cert-dir="$state/apiserver-certs" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --authorization-mode=Node,RBAC \
    --service-cluster-ip-range=$service_cidr --allow-privileged=true \
    --kubelet-client-certificate="$pki/admin.crt" --kubelet-client-key="$pki/admin.key" \
    --service-account-issuer=https://$address:$apiserver_port \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" \
    --proxy-client-key-file="$pki/front-proxy-client.key" \
    --enable-aggregator-routing=true --kubelet-preferred-address-types=InternalIP "$@"
  wait_until 90 "$name /readyz" apiserver_ready "$port"
}

apiserver_ready() {  # apiserver_ready [PORT]
  in_netns curl -sf --cacert "$state/pki/ca.crt" --cert "$state/pki/admin.crt" \
    --key "$state/pki/admin.key" "https://$address:${1:-$apiserver_port}/readyz"
}

start_controller_manager() {
  start kube-controller-manager --kubeconfig="$kubeconfig" --leader-elect=false --secure-port=0 \
    --controllers=deployment,replicaset,statefulset,horizontalpodautoscaling,garbagecollector,namespace,serviceaccount,root-ca-cert-publisher,endpointslice,resourcequota,nodelifecycle,podgc \
    --horizontal-pod-autoscaler-sync-period=1s \
    --horizontal-pod-autoscaler-downscale-stabilization=0s \
    --root-ca-file="$state/pki/ca.crt" --service-account-private-key-file="$state/pki/sa.key"
}

# --- the node ---------------------------------------------------------------------------------

kubelet_kubeconfig() {  # the kubelet's own identity (system:node:NAME), for the Node authorizer
  local pki=$state/pki
  sed -e "s#$pki/admin.crt#$pki/node.crt#; s#$pki/admin.key#$pki/node.key#" \
    -e "s#governor-admin#$node_name#g" "$kubeconfig" >"$node_dir/kubelet.kubeconfig"
}

write_node_config() {
  mkdir -p "$node_dir/net.d" "$node_dir/kubelet" "$node_dir/containerd" "$run_dir"
  kubelet_kubeconfig
  cat >"$node_dir/containerd.toml" <<EOF
version = 2
root = "$node_dir/containerd"
state = "$run_dir/containerd"
[grpc]
  address = "$containerd_socket"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/governor/pause:dev"
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = true
  # This machine's root has no CAP_SYS_RESOURCE: oom_score_adj may not go below our own
  # (the kubelet asks -998 for sandboxes, -997 for Guaranteed pods; runc would fail).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$run_dir/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node_dir/net.d"
EOF
  cat >"$node_dir/net.d/10-governor.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "governor", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$pod_cidr"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$node_dir/cni-ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
EOF
  echo "nameserver $address" >"$node_dir/resolv.conf"
  cat >"$node_dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1, which kubelet 1.35 refuses unless told (KEP-5573).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $cgroup_root
failSwapOn: false
containerRuntimeEndpoint: unix://$containerd_socket
address: $address
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $state/pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$address]
resolvConf: $node_dir/resolv.conf
podCIDR: $pod_cidr
# Not /var/log/pods: the kubelet removes log directories of pods it does not know, and
# another cluster's node may run beside this one.
podLogsDir: $node_dir/pod-logs
maxPods: 110
# Images are imported, never pulled: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 10s
EOF
  cat >"$node_dir/Corefile" <<EOF
.:53 {
  errors
  health 127.0.0.1:8080
  ready 127.0.0.1:8181
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    kubeconfig $kubeconfig governor-test
    pods insecure
  }
  cache 5
}
EOF
}

# The kubelet's cgroup root must exist in every hierarchy it uses.
make_cgroup_root() {
  local c
  for c in /sys/fs/cgroup/*/; do
    [[ -d $c && ! -L ${c%/} ]] || continue
    mkdir -p "$c${cgroup_root#/}"
  done
}

start_containerd() {
  start containerd --config "$node_dir/containerd.toml"
  wait_until 30 containerd ctr --address "$containerd_socket" version
}

start_node() {
  # Processes in the namespace (tests, kubectl, redis-cli) reach Services' cluster IPs too:
  # a route lets their packets leave, and kube-proxy's OUTPUT rules rewrite them.
  in_netns ip route replace "$service_cidr" dev lo
  in_netns sysctl -qw net.ipv4.ip_forward=1
  in_netns sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  start kubelet --config="$node_dir/kubelet.yaml" --kubeconfig="$node_dir/kubelet.kubeconfig" \
    --root-dir="$node_dir/kubelet" --cert-dir="$node_dir/kubelet/pki" \
    --hostname-override="$node_name" --node-ip="$address" --v=1
  start kube-scheduler --kubeconfig="$kubeconfig" --leader-elect=false --secure-port=0
  start kube-proxy --kubeconfig="$kubeconfig" --hostname-override="$node_name" \
    --bind-address="$address" --cluster-cidr=10.244.0.0/16 --proxy-mode=iptables \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 \
    --conntrack-tcp-timeout-close-wait=0 --healthz-bind-address=127.0.0.1:10256 \
    --metrics-bind-address=127.0.0.1:10249
  start coredns -conf "$node_dir/Corefile"
  wait_until 120 "node $node_name Ready" node_ready
}

kubectl_admin() { in_netns env KUBECONFIG="$kubeconfig" "$(cat "$state/bin")/kubectl" "$@"; }

# The kubelet answers its health check, and its Node says Ready.
node_ready() {
  in_netns curl -sf http://127.0.0.1:10248/healthz >/dev/null &&
    [[ $(kubectl_admin get node "$node_name" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

# Kills every process in the node's pods (their cgroups), then removes what the kubelet and
# containerd mounted and the pods' network namespaces.
stop_node() {
  local c p m
  [[ -d $node_dir ]] || return 0
  # A node that goes away is deleted, as a cloud's node controller would: its pods go with
  # it, and the next kubelet registers afresh instead of inheriting a stale Ready.
  running kube-apiserver && kubectl_admin delete node "$node_name" --ignore-not-found --wait=false \
    --request-timeout=10s >/dev/null 2>&1
  for c in kube-proxy kube-scheduler coredns kubelet; do stop "$c"; done
  for c in /sys/fs/cgroup/*/"${cgroup_root#/}"; do
    [[ -d $c ]] || continue
    for p in $(find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  done
  stop containerd
  for c in /sys/fs/cgroup/*/"${cgroup_root#/}"; do
    [[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  for m in $(findmnt -rn -o TARGET | grep -E "^($node_dir|$run_dir)/" | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$run_dir"
}
