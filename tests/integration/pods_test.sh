#!/usr/bin/env bash
# install.pods: Governor installed as users install it, with pods that really run on the
# test cluster's node (kubelet, containerd, runc), from the images scripts/build-images made
# here and tests/cluster/load-images put into the node (no registry):
#   - helm install of charts/governor: both Deployments Available, their pods running as
#     uid 65532 on a read-only root, both APIServices Available through the adapter's Service;
#   - a ServiceLevel with a cache and a queue: the Redis cache StatefulSet's pod runs the
#     redis.conf the operator rendered (CONFIG GET through its Service);
#   - jobs pushed into a real Redis list: the HPA scales the worker Deployment's running,
#     ready pods up, the workers (redis-cli in a shell loop) drain the list, and the HPA
#     scales them back down to the minimum;
#   - helm test passes (both metrics APIs through the API server, the adapter's /readyz);
#   - helm upgrade rolls the pods and keeps serving; helm uninstall leaves nothing behind;
#   - the same install with kubectl apply -f manifests/governor.yaml, and kubectl delete.
# Runs inside the cluster's network namespace, with the node up (ctest fixture `node`):
#   tests/cluster/exec bash tests/integration/pods_test.sh
# Prints "pods: N passed, M failed" and exits 1 when anything failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
chart=$root/charts/governor
ns=governor
app=shop
tag=${GOVERNOR_IMAGES_TAG:-dev}
source "$root/tests/support/checks.sh"

# ok NAME CMD...: CMD must succeed.
ok() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "failed: $*" "$out"; fi
}
jp() { kubectl get "$1" "${@:3}" -o jsonpath="$2" 2>/dev/null; }
# eventually SECONDS NAME CMD...: CMD succeeds within SECONDS.
eventually() {
  local limit=$1 name=$2 end out; shift 2
  end=$(($(date +%s) + limit))
  while :; do
    if out=$("$@" 2>&1); then pass "$name"; return 0; fi
    (($(date +%s) >= end)) && { fail "$name" "not within ${limit}s: $*" "$out"; return 1; }
    sleep 1
  done
}
available() { [[ $(jp "apiservice/$1" '{.status.conditions[?(@.type=="Available")].status}') == True ]]; }
ready_replicas() { local r; r=$(jp "deployment/$1" '{.status.readyReplicas}' -n "$2"); echo "${r:-0}"; }
cluster_ip() { jp "service/$1" '{.spec.clusterIP}' -n "$2"; }
rcli() { redis-cli -h "$(cluster_ip redis "$app")" "$@"; }
# helm test; on failure the test pod's log (a failed test pod stays).
helm_test() {
  helm test governor --namespace "$ns" --timeout 120s >/dev/null 2>&1 \
    || { kubectl -n "$ns" logs governor-test-metrics-apis 2>&1; return 1; }
}
diagnose() {
  kubectl get pods -A -o wide >&2
  kubectl get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -n 30 >&2
}

# Governor's objects by label, as kubectl lists them: what helm uninstall must remove.
leftovers() {
  {
    kubectl get deploy,rs,pod,svc,sa,secret,configmap,role,rolebinding,lease -n "$ns" \
      -l app.kubernetes.io/part-of=governor -o name 2>/dev/null
    kubectl get clusterrole,clusterrolebinding,apiservice -l app.kubernetes.io/part-of=governor \
      -o name 2>/dev/null
  } | sort
}

# Both Deployments' pods: Available, running as the chart's user on a read-only root.
check_governor_pods() {
  local how=$1 d
  for d in governor-operator governor-metrics-adapter; do
    ok "$how: $d Available" kubectl -n "$ns" rollout status "deployment/$d" --timeout=180s
    ok "$how: $d runs as uid 65532" test "$(kubectl -n "$ns" exec "deployment/$d" -- id -u 2>&1)" = 65532
    if kubectl -n "$ns" exec "deployment/$d" -- sh -c 'touch /probe' >/dev/null 2>&1; then
      fail "$how: $d has a read-only root" "touch /probe succeeded"
    else
      pass "$how: $d has a read-only root"
    fi
  done
  for a in v1beta1.external.metrics.k8s.io v1beta2.custom.metrics.k8s.io; do
    eventually 90 "$how: APIService $a Available (aggregator -> Service -> adapter pod)" available "$a"
  done
  ok "$how: external metrics API answers through the aggregator" \
    kubectl get --raw /apis/external.metrics.k8s.io/v1beta1
}

# --- a clean start: what other suites (e2e.scaling's APIServices and selectorless Service in
# namespace governor, an earlier run) left behind --------------------------------------------
helm uninstall governor --namespace "$ns" --wait --timeout 60s >/dev/null 2>&1
kubectl delete apiservice v1beta1.external.metrics.k8s.io v1beta2.custom.metrics.k8s.io \
  --ignore-not-found >/dev/null 2>&1
kubectl delete namespace "$ns" "$app" --ignore-not-found --wait --timeout=180s >/dev/null 2>&1

# --- images into the node ------------------------------------------------------------------
if ! out=$("$root/tests/cluster/load-images" 2>&1); then
  fail "images loaded into the node" "tests/cluster/load-images failed" "$out"
  summary pods
  exit
fi
pass "images loaded into the node"

# --- helm install --------------------------------------------------------------------------
start=$(date +%s)
ok "helm install (--wait)" helm install governor "$chart" --namespace "$ns" --create-namespace \
  --set operator.image.tag="$tag" --set adapter.image.tag="$tag" \
  --set adapter.pollInterval=1s --wait --timeout 240s
echo "helm install --wait took $(($(date +%s) - start))s"
check_governor_pods helm

# --- a queue, its workers (manifests/demo/queue.yaml) and a ServiceLevel with a cache ---------
kubectl create namespace "$app" >/dev/null
kubectl apply -n "$app" -f "$root/manifests/demo/queue.yaml" >/dev/null
kubectl apply -n "$app" -f - >/dev/null <<EOF
apiVersion: governor.io/v1alpha1
kind: ServiceLevel
metadata: {name: worker}
spec:
  workload: {name: worker}
  autoscaling:
    minReplicas: 1
    maxReplicas: 8
    queue:
      redis: {address: "redis.$app:6379", key: jobs}
      targetPerReplica: 10
    behavior:
      scaleDown: {stabilizationWindowSeconds: 0}
  cache:
    image: governor/redis:$tag
    maxMemory: 32Mi
    evictionPolicy: allkeys-lfu
EOF
ok "queue Redis Available" kubectl -n "$app" rollout status deployment/redis --timeout=120s
ok "worker Available" kubectl -n "$app" rollout status deployment/worker --timeout=120s
sl_ready() {
  [[ $(jp servicelevel/worker '{.status.conditions[?(@.type=="Ready")].status}' -n "$app") == True ]] \
    || { jp servicelevel/worker '{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' -n "$app"; return 1; }
}
eventually 120 "ServiceLevel worker Ready" sl_ready

# The cache pod runs the operator's redis.conf.
ok "cache StatefulSet worker-redis rolled out" \
  kubectl -n "$app" rollout status statefulset/worker-redis --timeout=120s
cache_ip=$(cluster_ip worker-redis "$app")
maxmemory=$(redis-cli -h "$cache_ip" CONFIG GET maxmemory 2>&1 | tail -n 1)
policy=$(redis-cli -h "$cache_ip" CONFIG GET maxmemory-policy 2>&1 | tail -n 1)
if [[ $maxmemory == 33554432 ]]; then pass "cache maxmemory 32Mi through its Service"
else fail "cache maxmemory 32Mi through its Service" "CONFIG GET maxmemory: $maxmemory"; fi
if [[ $policy == allkeys-lfu ]]; then pass "cache maxmemory-policy allkeys-lfu through its Service"
else fail "cache maxmemory-policy allkeys-lfu through its Service" "CONFIG GET maxmemory-policy: $policy"; fi

# --- push to scale: running pods up, drained, back down -----------------------------------
rcli DEL jobs >/dev/null
start=$(date +%s)
rcli RPUSH jobs $(seq 60) >/dev/null
peak_spec=0 peak_ready=0 first_move=""
while (($(date +%s) - start < 120)); do
  spec=$(jp deployment/worker '{.spec.replicas}' -n "$app")
  ready=$(ready_replicas worker "$app")
  ((spec > peak_spec)) && peak_spec=$spec
  ((ready > peak_ready)) && peak_ready=$ready
  [[ -z $first_move && $spec -gt 1 ]] && first_move=$(($(date +%s) - start))
  ((peak_ready >= 5)) && break
  sleep 0.5
done
echo "push 60 jobs: spec.replicas first moved after ${first_move:-never}s; peak spec $peak_spec, peak ready $peak_ready after $(($(date +%s) - start))s"
if ((peak_spec >= 5 && peak_ready >= 5)); then
  pass "60 jobs scale the worker to >= 5 running, ready pods"
else
  fail "60 jobs scale the worker to >= 5 running, ready pods" "peak spec.replicas $peak_spec, peak readyReplicas $peak_ready"
  diagnose
fi
backlog=$(jp servicelevel/worker '{.status.backlog}' -n "$app")
[[ -n $backlog ]] && pass "status.backlog is reported ($backlog)" || fail "status.backlog is reported" "empty"
drained() { [[ $(rcli LLEN jobs) == 0 ]]; }
eventually 180 "the workers drain the list" drained
echo "drained after $(($(date +%s) - start))s"
at_minimum() { [[ $(jp deployment/worker '{.spec.replicas}/{.status.replicas}' -n "$app") == 1/1 ]]; }
eventually 120 "the worker scales back to 1 replica" at_minimum
echo "back to 1 after $(($(date +%s) - start))s"

# --- helm test, upgrade ----------------------------------------------------------------------
# Retried: kube-proxy programs a new pod's Service address within a second or two.
eventually 60 "helm test" helm_test
ok "helm upgrade (--wait)" helm upgrade governor "$chart" --namespace "$ns" --reuse-values \
  --set adapter.pollInterval=2s --wait --timeout 240s
ok "upgraded adapter runs --poll-interval=2s" \
  grep -q -- --poll-interval=2s <<<"$(jp deployment/governor-metrics-adapter '{.spec.template.spec.containers[0].args}' -n "$ns")"
check_governor_pods "helm upgrade"
eventually 60 "helm test after the upgrade" helm_test

# --- uninstall: nothing left -----------------------------------------------------------------
ok "ServiceLevel's namespace deleted" kubectl delete namespace "$app" --timeout=120s
ok "helm uninstall (--wait)" helm uninstall governor --namespace "$ns" --wait --timeout 120s
nothing_left() { local l; l=$(leftovers); [[ -z $l ]] || { echo "$l"; return 1; }; }
eventually 120 "helm uninstall leaves nothing behind" nothing_left

# --- kubectl apply -f manifests/governor.yaml -------------------------------------------------
version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$chart/Chart.yaml")
for image in governor-operator governor-metrics-adapter; do
  ctr --address "$GOVERNOR_CONTAINERD_SOCKET" -n k8s.io images tag --force \
    "docker.io/governor/$image:$tag" "docker.io/governor/$image:$version" >/dev/null
done
ok "kubectl apply -f manifests/governor.yaml" kubectl apply -f "$root/manifests/governor.yaml"
check_governor_pods "kubectl apply"
ok "kubectl delete -f manifests/governor.yaml" kubectl delete -f "$root/manifests/governor.yaml" --wait --timeout=120s
eventually 120 "kubectl delete leaves nothing behind" nothing_left

summary pods
