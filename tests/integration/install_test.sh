#!/usr/bin/env bash
# install.helm: Governor installed as users install it, on the real API server of the test
# cluster, with helm and kubectl as users run them:
#   - the chart lints, the generated files are up to date (scripts/generate-manifests --check,
#     the chart's CRD is crds/' copy), the Dockerfiles name scripts and libraries that exist;
#   - the chart renders its options (cert-manager, one watched namespace, alerts, dashboard)
#     and the API server accepts its objects (server-side dry run);
#   - helm install creates every object (Deployments, ServiceAccounts, RBAC, Service,
#     Secret, APIServices with the Secret's CA as caBundle, CRD);
#   - RBAC: tokens of both ServiceAccounts may do what each binary does and nothing else;
#   - helm upgrade changes the Deployments' flags and keeps the certificate; bad values are
#     refused by the schema naming them; helm uninstall removes all but the CRD;
#   - kubectl apply -f manifests/governor.yaml and the samples work, kubectl explain shows
#     the CRD's descriptions, and kubectl delete removes it all.
# This suite needs no pod and runs on the control plane alone: the Deployments exist but never
# become ready (their pods select no node), so installs use --wait=false. install.pods (pods_test.sh) installs the chart
# again with its pods running on the node. Runs inside the cluster's network namespace:
#   tests/cluster/exec bash tests/integration/install_test.sh
# Prints "install: N passed, M failed" and exits 1 when anything failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
chart=$root/charts/governor
ns=governor
release=governor
tmp=$(mktemp -d)
source "$root/tests/support/checks.sh"

# ok NAME CMD...: CMD must succeed.
ok() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "failed: $*" "$out"; fi
}
# refused NAME TEXT... -- CMD...: CMD must fail, and its output contain every TEXT.
refused() {
  local name=$1 texts=() out t; shift
  while [[ $1 != -- ]]; do texts+=("$1"); shift; done
  shift
  if out=$("$@" 2>&1); then
    fail "$name" "it was accepted: $*" "$out"
    return
  fi
  for t in "${texts[@]}"; do
    if [[ $out != *"$t"* ]]; then
      fail "$name" "the error does not say \"$t\"" "$out"
      return
    fi
  done
  pass "$name"
}
# jp KIND/NAME JSONPATH [kubectl args]: one field, stderr dropped (an unavailable APIService
# makes kubectl warn about discovery there).
jp() {
  local object=$1 path=$2; shift 2
  kubectl get "$object" "$@" -o jsonpath="$path" 2>/dev/null
}
# doc KIND NAME < YAML: the document of that kind and metadata.name.
doc() {
  awk -v kind="$1" -v name="$2" '
    function flush() { if (k == kind && n == name) printf "%s", buf; buf = ""; k = ""; n = "" }
    /^---/ { flush(); next }
    { buf = buf $0 "\n" }
    /^kind: / && k == "" { k = $2 }
    /^  name: / && n == "" { n = $2 }
    END { flush() }'
}
render() { helm template "$release" "$chart" --namespace "$ns" "$@"; }

# Objects helm install creates, as kubectl names them (cluster-scoped ones without -n).
namespaced=(
  deployment/governor-operator deployment/governor-metrics-adapter
  serviceaccount/governor-operator serviceaccount/governor-metrics-adapter
  service/governor-metrics-adapter service/governor-operator-metrics
  secret/governor-metrics-adapter-tls
  role.rbac.authorization.k8s.io/governor-operator-leader-election
  rolebinding.rbac.authorization.k8s.io/governor-operator-leader-election
)
cluster_scoped=(
  clusterrole.rbac.authorization.k8s.io/governor-operator
  clusterrole.rbac.authorization.k8s.io/governor-metrics-adapter
  clusterrolebinding.rbac.authorization.k8s.io/governor-operator
  clusterrolebinding.rbac.authorization.k8s.io/governor-metrics-adapter
  clusterrolebinding.rbac.authorization.k8s.io/governor-metrics-adapter:system:auth-delegator
  apiservice.apiregistration.k8s.io/v1beta1.external.metrics.k8s.io
  apiservice.apiregistration.k8s.io/v1beta2.custom.metrics.k8s.io
)
auth_reader=rolebinding.rbac.authorization.k8s.io/governor-metrics-adapter-auth-reader
crd=customresourcedefinition.apiextensions.k8s.io/servicelevels.governor.io

# Whatever an earlier run (or another test: e2e.scaling deletes namespace governor without
# waiting) left behind: the release, Governor's cluster-scoped objects, the namespace and
# the CRD, so that helm install creates every object itself.
cleanup() {
  helm uninstall "$release" --namespace "$ns" --wait --timeout 60s >/dev/null 2>&1
  kubectl delete --ignore-not-found --wait=true --timeout=60s "${cluster_scoped[@]}" \
    -n kube-system "$auth_reader" >/dev/null 2>&1
  kubectl delete --ignore-not-found "${cluster_scoped[@]}" >/dev/null 2>&1
  kubectl delete namespace "$ns" --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
  kubectl delete "$crd" --ignore-not-found --wait=true --timeout=120s >/dev/null 2>&1
  for n in ${created_namespaces:-}; do
    kubectl delete namespace "$n" --ignore-not-found --wait=true --timeout=120s >/dev/null 2>&1
  done
  true
}
finish() {
  cleanup
  rm -rf "$tmp"
  # An EXIT trap's `exit` without a status keeps the script's: say it.
  summary install
  exit $?
}

for tool in helm kubectl openssl; do
  command -v "$tool" >/dev/null || { echo "install: $tool is not on PATH" >&2; exit 1; }
done
cleanup
trap finish EXIT

# --- The chart and the generated files, without a cluster -----------------------------------
ok "helm lint" helm lint "$chart" --strict
ok "helm lint with every option on" helm lint "$chart" --strict --set certManager.enabled=true \
  --set serviceMonitor.enabled=true --set prometheusRule.enabled=true --set dashboards.enabled=true \
  --set-json 'watchNamespaces=["shop"]' --set operator.replicas=2
ok "scripts/generate-manifests --check: the chart's CRD and manifests/governor.yaml are up to date" \
  env HELM="$(command -v helm)" "$root/scripts/generate-manifests" --check
if cmp -s "$root/crds/governor.io_servicelevels.yaml" "$chart/crds/governor.io_servicelevels.yaml"; then
  pass "charts/governor/crds/ holds the same CRD as crds/"
else
  fail "the chart's CRD" "charts/governor/crds/governor.io_servicelevels.yaml differs from crds/; run scripts/generate-manifests" \
    "$(diff "$root/crds/governor.io_servicelevels.yaml" "$chart/crds/governor.io_servicelevels.yaml" | head -20)"
fi

# The Dockerfiles agree with the chart and the build (images.build, tests/images_test.sh, builds
# and runs them).
chart_uid=$(render --show-only templates/operator-deployment.yaml 2>/dev/null | awk '/runAsUser:/ {print $2; exit}')
build_dir=${GOVERNOR_BUILD_DIR:-$root/build}
for pair in operator:operator/governor-operator adapter:metrics-adapter/governor-metrics-adapter; do
  which=${pair%%:*} binary=${pair#*:}
  name=${binary##*/}
  file=$root/Dockerfile.$which
  if [[ ! -f $file ]]; then
    fail "Dockerfile.$which" "missing"
    continue
  fi
  problems=""
  for script in $(grep -o 'scripts/[A-Za-z0-9_.-]*' "$file" | sort -u); do
    [[ -x $root/$script ]] || problems+="$script does not exist or is not executable; "
  done
  grep -q 'scripts/install-deps' "$file" || problems+="no scripts/install-deps; "
  grep -q '^FROM debian:12 AS build' "$file" || problems+="no debian:12 build stage; "
  grep -q '^FROM debian:12-slim' "$file" || problems+="no debian:12-slim runtime stage; "
  grep -q -- "-G Ninja" "$file" && grep -q -- "-G Ninja" "$root/scripts/test" || problems+="configure differs from scripts/test; "
  grep -q -- "--target $name" "$file" || problems+="does not build target $name; "
  grep -q "^ENTRYPOINT \[\"/usr/local/bin/$name\"\]" "$file" || problems+="ENTRYPOINT is not $name; "
  user=$(awk '/^USER / {print $2}' "$file" | tail -n 1)
  [[ -n $user && ${user%%:*} != 0 && ${user%%:*} != root ]] || problems+="runs as root; "
  [[ ${user%%:*} == "$chart_uid" ]] || problems+="USER $user is not the chart's runAsUser $chart_uid; "
  if [[ -z $problems ]]; then pass "Dockerfile.$which: its scripts exist, debian:12 build, slim non-root runtime, ENTRYPOINT $name"
  else fail "Dockerfile.$which" "$problems"; fi

  # Every shared library the built binary links comes from a package the runtime stage
  # installs (or that debian:12-slim has).
  if [[ -x $build_dir/$binary ]] && command -v dpkg >/dev/null; then
    runtime=$(sed -n '/^FROM debian:12-slim/,$p' "$file")
    missing=""
    for lib in $(ldd "$build_dir/$binary" | awk '/=>/ {print $3}'); do
      pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null)
      pkg=${pkg%%:*}
      case $pkg in libc6 | libgcc-s1 | libstdc++6 | "") continue ;; esac
      grep -qw -- "$pkg" <<<"$runtime" || missing+="$pkg ($lib) "
    done
    if [[ -z $missing ]]; then pass "Dockerfile.$which installs every library $name links"
    else fail "Dockerfile.$which runtime libraries" "not installed: $missing"; fi
  else
    skip "Dockerfile.$which runtime libraries" "no built $build_dir/$binary to ldd"
  fi
done

# --- The chart's options, rendered ----------------------------------------------------------
out=$(render 2>&1)
if [[ $(doc APIService v1beta1.external.metrics.k8s.io <<<"$out") == *"caBundle: "?* &&
  $(doc Secret governor-metrics-adapter-tls <<<"$out") == *"tls.key: "?* ]]; then
  pass "default: a generated Secret and the APIServices' caBundle"
else
  fail "default render" "expected Secret governor-metrics-adapter-tls and a caBundle" "$out"
fi
out=$(render --set certManager.enabled=true 2>&1)
api=$(doc APIService v1beta2.custom.metrics.k8s.io <<<"$out")
cert=$(doc Certificate governor-metrics-adapter <<<"$out")
if [[ $api == *"cert-manager.io/inject-ca-from: $ns/governor-metrics-adapter"* && $api != *caBundle* &&
  $cert == *"secretName: governor-metrics-adapter-cert-manager-tls"* &&
  $cert == *"- governor-metrics-adapter.$ns.svc"* &&
  -n $(doc Issuer governor-metrics-adapter-ca <<<"$out") &&
  -z $(doc Secret governor-metrics-adapter-tls <<<"$out") &&
  $(doc Deployment governor-metrics-adapter <<<"$out") == *"secretName: governor-metrics-adapter-cert-manager-tls"* ]]; then
  pass "certManager.enabled: Issuer and Certificate, inject-ca-from on the APIServices, no generated Secret"
else
  fail "certManager.enabled" "expected an Issuer, a Certificate for governor-metrics-adapter.$ns.svc, the annotation and no caBundle" "$out"
fi
out=$(render --set certManager.enabled=true --set certManager.issuerRef.kind=ClusterIssuer \
  --set certManager.issuerRef.name=corp-ca 2>&1)
if [[ $(doc Certificate governor-metrics-adapter <<<"$out") == *"kind: ClusterIssuer"*"name: corp-ca"* &&
  -z $(doc Issuer governor-selfsigned <<<"$out") ]]; then
  pass "certManager.issuerRef: the given ClusterIssuer, no Issuer of the chart's"
else
  fail "certManager.issuerRef" "expected issuerRef ClusterIssuer corp-ca and no chart Issuer" "$out"
fi
out=$(render --set-json 'watchNamespaces=["shop"]' 2>&1)
if [[ $(doc RoleBinding governor-operator <<<"$out") == *"namespace: shop"* &&
  $(doc RoleBinding governor-metrics-adapter <<<"$out") == *"namespace: shop"* &&
  -z $(doc ClusterRoleBinding governor-operator <<<"$out") &&
  -z $(doc ClusterRoleBinding governor-metrics-adapter <<<"$out") &&
  $(doc Deployment governor-operator <<<"$out") == *"--namespace=shop"* &&
  $(doc Deployment governor-metrics-adapter <<<"$out") == *"--namespace=shop"* ]]; then
  pass "watchNamespaces=[shop]: --namespace=shop and RoleBindings in shop instead of ClusterRoleBindings"
else
  fail "watchNamespaces=[shop]" "expected --namespace=shop and RoleBindings in shop" "$out"
fi
out=$(render 2>&1)
if [[ $(doc Deployment governor-operator <<<"$out") != *"--namespace="* &&
  $(doc Deployment governor-operator <<<"$out") == *"--leader-elect"* ]]; then
  pass "default: all namespaces (no --namespace), --leader-elect with one replica"
else
  fail "default operator flags" "expected --leader-elect and no --namespace" "$(doc Deployment governor-operator <<<"$out")"
fi
refused "operator.replicas=2 with leaderElect=false is refused" "operator.replicas > 1 needs operator.leaderElect" -- \
  render --set operator.replicas=2 --set operator.leaderElect=false
refused "watchNamespaces with two namespaces is refused" "/watchNamespaces" "maxItems" -- \
  render --set-json 'watchNamespaces=["a","b"]'
refused "adapter.pollInterval=0s is refused" "/adapter/pollInterval" "'0s'" -- \
  render --set adapter.pollInterval=0s
out=$(render --set adapter.redisTLS.caConfigMap=redis-ca --set adapter.redisTLS.clientCertSecret=redis-client \
  --show-only templates/adapter-deployment.yaml 2>&1)
if [[ $out == *"--redis-ca-file=/etc/governor/redis-ca/ca.crt"*"--redis-client-cert-file=/etc/governor/redis-client/tls.crt"*"--redis-client-key-file=/etc/governor/redis-client/tls.key"* &&
  $out == *"mountPath: /etc/governor/redis-ca"*"mountPath: /etc/governor/redis-client"*"configMap:"*"name: redis-ca"*"secretName: redis-client"* ]]; then
  pass "adapter.redisTLS: the CA ConfigMap and the client certificate Secret mounted and passed as --redis-* flags"
else
  fail "adapter.redisTLS" "expected ConfigMap redis-ca and Secret redis-client mounted and passed to the adapter" "$out"
fi
out=$(render --set 'adapter.redisAllowedCIDRs={10.96.0.0/12,fd00::/8}' \
  --set 'adapter.redisAllowedAddresses={redis.queues.svc:6379}' --show-only templates/adapter-deployment.yaml 2>&1)
if [[ $out == *"- --redis-allowed-cidrs=10.96.0.0/12,fd00::/8"*"- --redis-allowed-addresses=redis.queues.svc:6379"* &&
  $(render --show-only templates/adapter-deployment.yaml 2>&1) != *"--redis-allowed-"* ]]; then
  pass "adapter.redisAllowedCIDRs and redisAllowedAddresses become --redis-allowed-cidrs and --redis-allowed-addresses (none by default)"
else
  fail "adapter.redisAllowedCIDRs" "expected --redis-allowed-cidrs and --redis-allowed-addresses in the adapter's args" "$out"
fi
refused "adapter.redisAllowedCIDRs that is not a CIDR is refused by the schema" "redisAllowedCIDRs" -- \
  render --set 'adapter.redisAllowedCIDRs={redis.shop}'
refused "adapter.redisTLS with both caConfigMap and caSecret is refused" "set caConfigMap or caSecret, not both" -- \
  render --set adapter.redisTLS.caConfigMap=a --set adapter.redisTLS.caSecret=b

out=$(render --set prometheusRule.enabled=true --show-only templates/prometheusrule.yaml 2>&1)
alerts=$(grep -o 'alert: [A-Za-z]*' <<<"$out" | awk '{print $2}' | tr '\n' ' ')
if [[ $alerts == "GovernorOperatorDown GovernorOperatorNoLeader GovernorReconcileErrors GovernorMetricsAdapterDown GovernorMetricsAdapterSourceErrors " ]]; then
  pass "prometheusRule.enabled: alerts $alerts"
else
  fail "prometheusRule.enabled" "expected the five health alerts" "$out"
fi
if command -v promtool >/dev/null; then
  # The rule file is the PrometheusRule's spec, one level less indented.
  sed -n '/^spec:/,$p' <<<"$out" | sed '1d; s/^  //' >"$tmp/rules.yaml"
  ok "promtool check rules: the health alerts are valid PromQL" promtool check rules "$tmp/rules.yaml"
else
  skip "promtool check rules" "no promtool"
fi
out=$(render --set serviceMonitor.enabled=true --show-only templates/servicemonitor.yaml 2>&1)
if [[ $out == *"kind: ServiceMonitor"*"port: metrics"*"port: https"*"scheme: https"* ]]; then
  pass "serviceMonitor.enabled: a ServiceMonitor for the operator (http) and the adapter (https)"
else
  fail "serviceMonitor.enabled" "expected a ServiceMonitor with ports metrics and https" "$out"
fi
out=$(render --set dashboards.enabled=true --show-only templates/dashboard.yaml 2>&1)
if [[ $out == *'grafana_dashboard: "1"'* ]]; then
  json=$(sed -n '/governor.json: |-/,$p' <<<"$out" | sed '1d; s/^    //')
  if command -v jq >/dev/null; then
    if jq -e '.panels | length > 0' <<<"$json" >/dev/null 2>&1; then pass "dashboards.enabled: a ConfigMap with a valid dashboard"
    else fail "dashboards.enabled" "the dashboard is not valid JSON with panels" "$json"; fi
  else
    pass "dashboards.enabled: a ConfigMap labelled grafana_dashboard"
  fi
else
  fail "dashboards.enabled" "expected a ConfigMap labelled grafana_dashboard" "$out"
fi

# NetworkPolicies: each port admits only its peers. The peers as JSON, port by port.
np_values=(--set networkPolicy.enabled=true --set 'networkPolicy.apiServer[0].ipBlock.cidr=10.0.0.1/32'
  --set 'networkPolicy.metricsScrapers[0].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name=monitoring'
  --set 'networkPolicy.probes[0].ipBlock.cidr=10.0.0.0/24')
out=$(render "${np_values[@]}" --show-only templates/networkpolicy.yaml 2>&1)
if command -v jq >/dev/null && command -v kubectl >/dev/null; then
  got=$(kubectl create --dry-run=client --validate=false -o json -f - <<<"$out" 2>&1 | jq -s -c '[.[] | {name: .metadata.name,
    ingress: [.spec.ingress[] | {port: .ports[0].port, from: [.from[] | (.ipBlock.cidr // .namespaceSelector.matchLabels["kubernetes.io/metadata.name"])]}]}]' 2>&1)
  want='[{"name":"governor-metrics-adapter","ingress":[{"port":6443,"from":["10.0.0.1/32","monitoring"]},{"port":8081,"from":["10.0.0.0/24"]}]},{"name":"governor-operator","ingress":[{"port":8080,"from":["monitoring"]},{"port":8081,"from":["10.0.0.0/24"]}]}]'
  [[ $got == "$want" ]] && pass "networkPolicy.enabled: the adapter admits the API server and scrapers on 6443, the operator scrapers on 8080, probes on 8081" ||
    fail "networkPolicy.enabled" "expected $want" "$got"
fi
out=$(render --set networkPolicy.enabled=true --set 'networkPolicy.probes=null' --show-only templates/networkpolicy.yaml 2>&1)
[[ $out == *"name: governor-operator"* && $out != *"port: 8081"* && $out != *"port: 8080"* ]] &&
  pass "networkPolicy: empty peer lists admit no one on their ports (no scrapers: the operator's 8080 closed)" ||
  fail "networkPolicy with empty peer lists" "expected no rule for 8080 or 8081" "$out"
out=$(render --set networkPolicy.enabled=true --set 'networkPolicy.probes[0].bogus=1' 2>&1) &&
  fail "networkPolicy schema" "a peer with an unknown field was accepted" "$out" ||
  pass "networkPolicy: a peer with an unknown field is refused by the values schema"

# --- The API server accepts the chart's objects (server-side dry run) ------------------------
ok "kubectl create namespace $ns" kubectl create namespace "$ns"
if out=$(render --include-crds "${np_values[@]}" 2>&1 | kubectl apply --dry-run=server -f - 2>&1); then
  pass "helm template | kubectl apply --dry-run=server: the API server accepts every object (NetworkPolicies too)"
else
  fail "server-side dry run" "the API server refused an object" "$out"
fi

# --- helm install ------------------------------------------------------------------------
# The pods select a node that does not exist: with the test cluster's node up, a running
# operator would hold the Lease this suite's RBAC checks create.
never_run=(--set-string 'nodeSelector.governor\.io/test-node=none')
if out=$(helm install "$release" "$chart" --namespace "$ns" --create-namespace "${never_run[@]}" --wait=false 2>&1); then
  pass "helm install $release charts/governor -n $ns"
else
  fail "helm install" "failed" "$out"
  exit
fi
[[ $out == *"NOTES:"*"governor-metrics-adapter-tls"* ]] && pass "helm install prints NOTES.txt" ||
  fail "NOTES.txt" "not printed" "$out"

missing=""
for o in "${namespaced[@]}"; do kubectl get "$o" -n "$ns" >/dev/null 2>&1 || missing+="$o "; done
for o in "${cluster_scoped[@]}" "$crd"; do kubectl get "$o" >/dev/null 2>&1 || missing+="$o "; done
kubectl get "$auth_reader" -n kube-system >/dev/null 2>&1 || missing+="kube-system/$auth_reader "
if [[ -z $missing ]]; then
  pass "helm install created all $((${#namespaced[@]} + ${#cluster_scoped[@]} + 2)) objects (Deployments, ServiceAccounts, RBAC, Services, Secret, APIServices, CRD)"
else
  fail "helm install objects" "missing: $missing"
fi
ok "the CRD is Established" kubectl wait --for=condition=Established --timeout=60s "$crd"

ca=$(jp secret/governor-metrics-adapter-tls '{.data.ca\.crt}' -n "$ns")
ext_bundle=$(jp apiservice/v1beta1.external.metrics.k8s.io '{.spec.caBundle}')
custom_bundle=$(jp apiservice/v1beta2.custom.metrics.k8s.io '{.spec.caBundle}')
if [[ -n $ca && $ext_bundle == "$ca" && $custom_bundle == "$ca" ]]; then
  pass "both APIServices' caBundle is the Secret's ca.crt"
else
  fail "APIService caBundle" "expected the Secret's ca.crt in both (Secret: ${#ca} chars, external: ${#ext_bundle}, custom: ${#custom_bundle})"
fi
got=$(for a in v1beta1.external.metrics.k8s.io v1beta2.custom.metrics.k8s.io; do
  jp "apiservice/$a" '{.spec.group}/{.spec.version} -> {.spec.service.namespace}/{.spec.service.name}:{.spec.service.port} {.spec.groupPriorityMinimum}/{.spec.versionPriority};'
done)
if [[ $got == "external.metrics.k8s.io/v1beta1 -> $ns/governor-metrics-adapter:443 100/100;custom.metrics.k8s.io/v1beta2 -> $ns/governor-metrics-adapter:443 100/200;" ]]; then
  pass "the APIServices route both groups to Service $ns/governor-metrics-adapter:443"
else
  fail "APIService routing" "unexpected spec" "$got"
fi
got=$(jp service/governor-metrics-adapter '{.spec.ports[0].port}->{.spec.ports[0].targetPort}' -n "$ns")
[[ $got == "443->6443" ]] && pass "Service governor-metrics-adapter: 443 -> 6443" ||
  fail "adapter Service" "expected 443->6443" "$got"

# The generated pair: a certificate for the Service's DNS name, signed by the CA, and its key.
jp secret/governor-metrics-adapter-tls '{.data.tls\.crt}' -n "$ns" | base64 -d >"$tmp/tls.crt"
jp secret/governor-metrics-adapter-tls '{.data.tls\.key}' -n "$ns" | base64 -d >"$tmp/tls.key"
base64 -d <<<"$ca" >"$tmp/ca.crt"
san=$(openssl x509 -in "$tmp/tls.crt" -noout -ext subjectAltName 2>&1)
if openssl verify -CAfile "$tmp/ca.crt" "$tmp/tls.crt" >/dev/null 2>&1 &&
  [[ $san == *"DNS:governor-metrics-adapter.$ns.svc"* ]] &&
  [[ $(openssl x509 -in "$tmp/tls.crt" -noout -pubkey 2>&1) == "$(openssl pkey -in "$tmp/tls.key" -pubout 2>&1)" ]]; then
  pass "the Secret's certificate is for governor-metrics-adapter.$ns.svc, signed by ca.crt, with its key"
else
  fail "the generated certificate" "expected a certificate for governor-metrics-adapter.$ns.svc signed by ca.crt" \
    "$san$(openssl verify -CAfile "$tmp/ca.crt" "$tmp/tls.crt" 2>&1)"
fi

# How the binaries run: non-root, read-only root, probes, the TLS Secret mounted.
for d in governor-operator governor-metrics-adapter; do
  got=$(jp "deployment/$d" '{.spec.template.spec.serviceAccountName} {.spec.template.spec.securityContext.runAsNonRoot} {.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem} {.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation} {.spec.template.spec.containers[0].livenessProbe.httpGet.path} {.spec.template.spec.containers[0].readinessProbe.httpGet.path}' -n "$ns")
  if [[ $got == "$d true true false /healthz /readyz" ]]; then
    pass "Deployment $d: its ServiceAccount, non-root, read-only root filesystem, probes on /healthz and /readyz"
  else
    fail "Deployment $d" "expected '$d true true false /healthz /readyz'" "$got"
  fi
done
got=$(jp deployment/governor-metrics-adapter '{.spec.template.spec.volumes[0].secret.secretName} {.spec.template.spec.containers[0].volumeMounts[0].mountPath} {.spec.template.spec.containers[0].args}' -n "$ns")
if [[ $got == "governor-metrics-adapter-tls /etc/governor/tls "*"--tls-cert-file=/etc/governor/tls/tls.crt"*"--tls-private-key-file=/etc/governor/tls/tls.key"* ]]; then
  pass "the adapter mounts Secret governor-metrics-adapter-tls and serves its certificate"
else
  fail "adapter TLS mount" "expected the Secret at /etc/governor/tls and --tls-cert-file" "$got"
fi

# --- RBAC, with the ServiceAccounts' own tokens ------------------------------------------------
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
kubectl config view --raw --minify --flatten -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
  base64 -d >"$tmp/cluster-ca.crt"
# kubeconfig SA: a kubeconfig that authenticates with a token of ServiceAccount SA.
token_kubeconfig() {
  local sa=$1 file=$tmp/$1.kubeconfig token
  token=$(kubectl create token "$sa" -n "$ns" --duration=1h) || return 1
  KUBECONFIG=$file kubectl config set-cluster test --server="$server" \
    --certificate-authority="$tmp/cluster-ca.crt" --embed-certs=true >/dev/null &&
    KUBECONFIG=$file kubectl config set-credentials "$sa" --token="$token" >/dev/null &&
    KUBECONFIG=$file kubectl config set-context "$sa" --cluster=test --user="$sa" --namespace="$ns" >/dev/null &&
    KUBECONFIG=$file kubectl config use-context "$sa" >/dev/null && echo "$file"
}
op_kc=$(token_kubeconfig governor-operator)
ad_kc=$(token_kubeconfig governor-metrics-adapter)
for pair in "governor-operator:$op_kc" "governor-metrics-adapter:$ad_kc"; do
  sa=${pair%%:*} kc=${pair#*:}
  who=$(KUBECONFIG=$kc kubectl auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1)
  if [[ -n $kc && $who == "system:serviceaccount:$ns:$sa" ]]; then
    pass "kubectl create token $sa: a kubeconfig with it authenticates as system:serviceaccount:$ns:$sa"
  else
    fail "token of $sa" "expected to authenticate as system:serviceaccount:$ns:$sa" "$who"
  fi
done

# can KUBECONFIG yes|no VERB RESOURCE [ARGS...]: kubectl auth can-i under that token.
# Resources are fully qualified; -A asks about every namespace at once.
declare -A can_failures=()
can_checks=()
can() {
  local kc=$1 want=$2 sa; shift 2
  sa=$(basename "$kc" .kubeconfig)
  local got
  got=$(KUBECONFIG=$kc kubectl auth can-i "$@" 2>/dev/null)
  got=${got%%$'\n'*}
  can_checks+=("$sa")
  [[ $got == "$want" ]] || can_failures[$sa]+="  can-i $* -> ${got:-error}, want $want"$'\n'
}
# api KUBECONFIG yes|no VERB GROUP RESOURCE[/SUBRESOURCE] [NAMESPACE]: the same through a
# SelfSubjectAccessReview, for resources the API server does not serve now (the
# PrometheusRule CRD is not installed; the metrics APIs are unavailable): kubectl auth can-i
# cannot name their group and asks about the wrong resource.
api() {
  local kc=$1 want=$2 verb=$3 group=$4 resource=${5%%/*} subresource= namespace=${6:-} sa got
  [[ $5 == */* ]] && subresource=${5#*/}
  sa=$(basename "$kc" .kubeconfig)
  got=$(KUBECONFIG=$kc kubectl create --validate=false -o jsonpath='{.status.allowed}' -f - 2>&1 <<EOF
apiVersion: authorization.k8s.io/v1
kind: SelfSubjectAccessReview
spec:
  resourceAttributes: {verb: "$verb", group: "$group", resource: "$resource", subresource: "$subresource", namespace: "$namespace"}
EOF
  )
  [[ $got == true ]] && got=yes
  [[ $got == false || -z $got ]] && got=no
  can_checks+=("$sa")
  [[ $got == "$want" ]] || can_failures[$sa]+="  $verb $resource.$group ${namespace:-(all namespaces)} -> $got, want $want"$'\n'
}
# The operator: what operator/reconcile and kube/leader_election send.
o() { can "$op_kc" "$@"; }
for v in get list watch; do o yes "$v" servicelevels.governor.io -A; done
o yes patch servicelevels.governor.io --subresource=status -A
o yes create events -A
for r in horizontalpodautoscalers.autoscaling statefulsets.apps services configmaps resourcequotas limitranges; do
  for v in get list watch create patch delete; do o yes "$v" "$r" -A; done
done
for v in get list watch create patch delete; do api "$op_kc" yes "$v" monitoring.coreos.com prometheusrules; done
for v in list watch; do o yes "$v" deployments.apps -A; done
api "$op_kc" yes list external.metrics.k8s.io governor_queue_backlog
for w in deployments.apps statefulsets.apps; do
  api "$op_kc" yes get custom.metrics.k8s.io "$w/governor_latency_p95_seconds"
done
api "$op_kc" yes get custom.metrics.k8s.io servicelevels.governor.io/governor_cache_hit_ratio
api "$op_kc" yes get custom.metrics.k8s.io servicelevels.governor.io/governor_queue_backlog
o yes patch deployments.apps --subresource=scale -A
o yes patch statefulsets.apps --subresource=scale -A
o yes create leases.coordination.k8s.io -n "$ns"
o yes get leases.coordination.k8s.io/governor-operator -n "$ns"
o yes update leases.coordination.k8s.io/governor-operator -n "$ns"
# ... and nothing else.
o no delete deployments.apps -A
o no patch deployments.apps -A
o no update deployments.apps -A
o no update deployments.apps --subresource=scale -A
o no get secrets -A
o no get secrets -n "$ns"
o no list secrets -A
o no create servicelevels.governor.io -A
o no update servicelevels.governor.io -A
o no patch servicelevels.governor.io -A
o no delete servicelevels.governor.io -A
o no update servicelevels.governor.io --subresource=status -A
o no update horizontalpodautoscalers.autoscaling -A
o no update configmaps -A
o no deletecollection configmaps -A
api "$op_kc" no list external.metrics.k8s.io other_metric
api "$op_kc" no get custom.metrics.k8s.io deployments.apps/other_metric
api "$op_kc" no get custom.metrics.k8s.io pods/governor_latency_p95_seconds
api "$op_kc" no update monitoring.coreos.com prometheusrules
o no get deployments.apps -A
o no create pods -A
o no create events.events.k8s.io -A
o no get leases.coordination.k8s.io/governor-operator -n kube-system
o no update leases.coordination.k8s.io/someone-else -n "$ns"
o no delete leases.coordination.k8s.io/governor-operator -n "$ns"
o no list nodes
o no bind clusterroles.rbac.authorization.k8s.io
o no escalate clusterroles.rbac.authorization.k8s.io
o no impersonate users
o no create customresourcedefinitions.apiextensions.k8s.io
o no '*' '*' -A
# The adapter: what metrics-adapter/ sends.
a() { can "$ad_kc" "$@"; }
a yes list servicelevels.governor.io -A
a yes watch servicelevels.governor.io -A
# Secrets: only through the informer over governor.io/redis-credentials=true (RBAC cannot
# restrict by label, so the grant is list and watch; never get by name).
a yes list secrets -A
a yes watch secrets -A
for w in deployments.apps statefulsets.apps; do a yes list "$w" -A; a yes watch "$w" -A; done
a yes get configmaps/extension-apiserver-authentication -n kube-system
a yes create tokenreviews.authentication.k8s.io
a yes create subjectaccessreviews.authorization.k8s.io
# ... and nothing else.
a no create configmaps -n "$ns"
a no create configmaps -A
a no get configmaps -n default
a no get configmaps/some-other -n kube-system
a no get secrets -A
a no get secrets/anything -n "$ns"
a no create secrets -A
a no update secrets -A
a no get servicelevels.governor.io -A
a no patch servicelevels.governor.io --subresource=status -A
a no delete servicelevels.governor.io -A
a no get deployments.apps -A
a no get statefulsets.apps -A
a no patch deployments.apps -A
a no patch horizontalpodautoscalers.autoscaling -A
a no create events -A
a no create leases.coordination.k8s.io -n "$ns"
a no list nodes
a no '*' '*' -A
op_count=0 ad_count=0
for sa in "${can_checks[@]}"; do
  [[ $sa == governor-operator ]] && op_count=$((op_count + 1)) || ad_count=$((ad_count + 1))
done
for sa in governor-operator:$op_count governor-metrics-adapter:$ad_count; do
  n=${sa#*:} sa=${sa%%:*}
  if [[ -z ${can_failures[$sa]:-} ]]; then
    pass "RBAC of $sa: all $n kubectl auth can-i answers as expected (each needed verb yes, the rest no)"
  else
    fail "RBAC of $sa" "kubectl auth can-i answered otherwise" "${can_failures[$sa]}"
  fi
done

# Real requests under the tokens, as the binaries make them.
cat >"$tmp/hpa.yaml" <<EOF
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: rbac-probe, namespace: $ns}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: rbac-probe}
  minReplicas: 1
  maxReplicas: 2
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
EOF
ok "operator token: list ServiceLevels in every namespace" env KUBECONFIG="$op_kc" kubectl get servicelevels.governor.io -A
ok "operator token: server-side apply creates an HPA (as the operator applies children)" \
  env KUBECONFIG="$op_kc" kubectl apply --server-side --field-manager=governor-operator -f "$tmp/hpa.yaml"
ok "operator token: delete the HPA" env KUBECONFIG="$op_kc" kubectl delete -f "$tmp/hpa.yaml"
cat >"$tmp/lease.yaml" <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: governor-operator, namespace: $ns}
spec: {holderIdentity: rbac-probe, leaseDurationSeconds: 15}
EOF
if KUBECONFIG=$op_kc kubectl create -f "$tmp/lease.yaml" >/dev/null 2>&1 &&
  rv=$(KUBECONFIG=$op_kc kubectl get lease governor-operator -n "$ns" -o jsonpath='{.metadata.resourceVersion}' 2>&1) &&
  sed "s/name: governor-operator,/name: governor-operator, resourceVersion: \"$rv\",/; s/rbac-probe/rbac-probe-2/" "$tmp/lease.yaml" |
    KUBECONFIG=$op_kc kubectl replace -f - >/dev/null 2>&1; then
  pass "operator token: create, get and update the Lease governor-operator in $ns"
else
  fail "operator token: Lease" "create, get or update failed"
fi
kubectl delete lease governor-operator -n "$ns" --ignore-not-found >/dev/null 2>&1
refused "operator token: reading a Secret is Forbidden" "Forbidden" "secrets" -- \
  env KUBECONFIG="$op_kc" kubectl get secret governor-metrics-adapter-tls -n "$ns"
ok "adapter token: read kube-system/extension-apiserver-authentication" \
  env KUBECONFIG="$ad_kc" kubectl get configmap extension-apiserver-authentication -n kube-system
kubectl create secret generic rbac-probe -n "$ns" --from-literal=password=x >/dev/null 2>&1
kubectl label secret rbac-probe -n "$ns" governor.io/redis-credentials=true >/dev/null 2>&1
got=$(env KUBECONFIG="$ad_kc" kubectl get secrets -n "$ns" -l governor.io/redis-credentials=true \
  -o jsonpath='{.items[*].metadata.name}' 2>&1)
[[ $got == rbac-probe ]] && pass "adapter token: list the Secrets labelled governor.io/redis-credentials=true (a Redis password)" ||
  fail "adapter token: list labelled Secrets" "expected rbac-probe" "$got"
refused "adapter token: getting a Secret by name is Forbidden, labelled or not" "Forbidden" -- \
  env KUBECONFIG="$ad_kc" kubectl get secret rbac-probe -n "$ns"
kubectl delete secret rbac-probe -n "$ns" --ignore-not-found >/dev/null 2>&1
refused "adapter token: creating a ConfigMap is forbidden" 'cannot create resource "configmaps"' -- \
  env KUBECONFIG="$ad_kc" kubectl create configmap rbac-probe -n "$ns"
# No extra role for the HPA controller: the built-in one already reads both metrics APIs.
hpa_sa=system:serviceaccount:kube-system:horizontal-pod-autoscaler
got=$(for g in external.metrics.k8s.io:governor_queue_backlog custom.metrics.k8s.io:deployments.apps; do
  kubectl create --validate=false --as="$hpa_sa" -o jsonpath='{.status.allowed} ' -f - 2>&1 <<EOF
apiVersion: authorization.k8s.io/v1
kind: SelfSubjectAccessReview
spec:
  resourceAttributes: {verb: get, group: "${g%%:*}", resource: "${g#*:}", namespace: default}
EOF
done)
[[ $got == "true true " ]] && pass "the built-in HPA controller role reads external and custom metrics (no role needed from the chart)" ||
  fail "HPA controller access" "expected yes yes" "$got"

# --- helm upgrade ---------------------------------------------------------------------------
crt_before=$(jp secret/governor-metrics-adapter-tls '{.data.tls\.crt}' -n "$ns")
if out=$(helm upgrade "$release" "$chart" --namespace "$ns" --set logLevel=debug "${never_run[@]}" --wait=false 2>&1); then
  pass "helm upgrade --set logLevel=debug"
else
  fail "helm upgrade" "failed" "$out"
fi
op_args=$(jp deployment/governor-operator '{.spec.template.spec.containers[0].args}' -n "$ns")
ad_args=$(jp deployment/governor-metrics-adapter '{.spec.template.spec.containers[0].args}' -n "$ns")
if [[ $op_args == *'"--log-level=debug"'* && $ad_args == *'"--log-level=debug"'* && $op_args != *'--log-level=info'* ]]; then
  pass "the upgrade changed both Deployments' args to --log-level=debug"
else
  fail "upgrade args" "expected --log-level=debug in both" "$op_args"$'\n'"$ad_args"
fi
if [[ $(jp secret/governor-metrics-adapter-tls '{.data.tls\.crt}' -n "$ns") == "$crt_before" &&
  $(jp apiservice/v1beta1.external.metrics.k8s.io '{.spec.caBundle}') == "$ca" ]]; then
  pass "the upgrade kept the generated certificate and the caBundle (lookup)"
else
  fail "certificate across upgrades" "the Secret or caBundle changed"
fi
# Beside KEDA, which owns external.metrics.k8s.io: the chart's external APIService goes (the
# upgrade deletes it), the custom one stays, and the operator puts the backlog into HPAs as an
# Object metric on the ServiceLevel (--backlog-api=custom), which the custom API serves.
if out=$(helm upgrade "$release" "$chart" --namespace "$ns" --reuse-values --set adapter.apis.external=false \
  "${never_run[@]}" --wait=false 2>&1); then
  pass "helm upgrade --set adapter.apis.external=false"
else
  fail "helm upgrade adapter.apis.external=false" "failed" "$out"
fi
op_args=$(jp deployment/governor-operator '{.spec.template.spec.containers[0].args}' -n "$ns")
if ! kubectl get apiservice v1beta1.external.metrics.k8s.io >/dev/null 2>&1 &&
  [[ $(jp apiservice/v1beta2.custom.metrics.k8s.io '{.spec.service.name}') == governor-metrics-adapter &&
  $op_args == *'"--backlog-api=custom"'* ]]; then
  pass "adapter.apis.external=false: no external APIService, the custom one kept, the operator on --backlog-api=custom"
else
  fail "adapter.apis.external=false" "expected the external APIService gone and --backlog-api=custom" "$op_args"
fi
refused "adapter.apis with both off is refused by the schema, naming it" "/adapter/apis" -- \
  helm upgrade "$release" "$chart" --namespace "$ns" --reuse-values --set adapter.apis.custom=false --wait=false
refused "logLevel=loud is refused by the schema, naming /logLevel and the allowed values" \
  "/logLevel" "value must be one of" "'debug'" -- helm upgrade "$release" "$chart" --namespace "$ns" --set logLevel=loud --wait=false
refused "an unknown top-level key (logLevell) is refused by the schema, naming it" \
  "additional properties 'logLevell' not allowed" -- \
  helm upgrade "$release" "$chart" --namespace "$ns" --set logLevell=debug --wait=false
refused "helm install with an unknown top-level key is refused too" "additional properties 'replicas' not allowed" -- \
  helm install other "$chart" --namespace "$ns" --dry-run --set replicas=2
revision=$(helm status "$release" --namespace "$ns" -o json 2>/dev/null | grep -o '"version":[0-9][0-9]*' | tail -n 1)
[[ $revision == '"version":3' ]] && pass "the refused upgrades made no revision (still 3)" ||
  fail "refused upgrades" "expected revision 3" "$revision"

# --- helm uninstall -------------------------------------------------------------------------
if out=$(helm uninstall "$release" --namespace "$ns" --wait --timeout 120s 2>&1); then
  pass "helm uninstall"
else
  fail "helm uninstall" "failed" "$out"
fi
left=""
for o in "${namespaced[@]}"; do kubectl get "$o" -n "$ns" >/dev/null 2>&1 && left+="$o "; done
for o in "${cluster_scoped[@]}"; do kubectl get "$o" >/dev/null 2>&1 && left+="$o "; done
kubectl get "$auth_reader" -n kube-system >/dev/null 2>&1 && left+="kube-system/$auth_reader "
if [[ -z $left ]] && kubectl get "$crd" >/dev/null 2>&1; then
  pass "helm uninstall removed every object but the CRD, which stays"
else
  fail "helm uninstall" "left behind: ${left:-none}; the CRD is $(kubectl get "$crd" -o name 2>&1)"
fi

# --- kubectl apply -f manifests/governor.yaml ----------------------------------------------
if out=$(kubectl apply -f "$root/manifests/governor.yaml" 2>&1); then
  pass "kubectl apply -f manifests/governor.yaml"
else
  fail "kubectl apply -f manifests/governor.yaml" "failed" "$out"
fi
missing=""
for o in "${namespaced[@]}"; do kubectl get "$o" -n "$ns" >/dev/null 2>&1 || missing+="$o "; done
for o in "${cluster_scoped[@]}" "$crd"; do kubectl get "$o" >/dev/null 2>&1 || missing+="$o "; done
[[ -z $missing ]] && pass "manifests/governor.yaml created every object" || fail "manifests objects" "missing: $missing"
ca=$(jp secret/governor-metrics-adapter-tls '{.data.ca\.crt}' -n "$ns")
[[ -n $ca && $(jp apiservice/v1beta2.custom.metrics.k8s.io '{.spec.caBundle}') == "$ca" ]] &&
  pass "manifests: the APIServices' caBundle is the Secret's ca.crt" ||
  fail "manifests caBundle" "the caBundle is not the Secret's ca.crt"
ok "the CRD from manifests/ is Established" kubectl wait --for=condition=Established --timeout=60s "$crd"

# The namespaces the samples name, as a user would create them first.
created_namespaces=
for n in $(sed -n 's/.*namespace: *\([a-z0-9-]*\).*/\1/p' "$root"/manifests/samples/*.yaml | sort -u); do
  if ! kubectl get namespace "$n" >/dev/null 2>&1; then
    kubectl create namespace "$n" >/dev/null 2>&1 && created_namespaces+=" $n"
  fi
done
# A sample without a namespace goes to the context's (default).
if out=$(kubectl apply -f "$root/manifests/samples/" 2>&1); then
  pass "kubectl apply -f manifests/samples/"
else
  fail "kubectl apply -f manifests/samples/" "failed" "$out"
fi
want=$(for f in "$root"/manifests/samples/*.yaml; do
  kubectl create --dry-run=client --validate=false -f "$f" -o jsonpath='{.metadata.namespace}/{.metadata.name}' 2>/dev/null | sed 's|^/|default/|'
  echo
done | sort | tr '\n' ' ')
got=$(kubectl get servicelevels.governor.io -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' 2>/dev/null | sort | tr '\n' ' ')
[[ -n $got && $got == "$want" ]] &&
  pass "every sample exists: $got" || fail "samples" "expected $want" "$got"

# kubectl explain reads the published OpenAPI, which follows the CRD within seconds.
for _ in $(seq 30); do
  explain=$(kubectl explain servicelevel.spec 2>&1) && [[ $explain == *DESCRIPTION* ]] && break
  sleep 1
done
explain_sq=$(tr -s ' \t\n' ' ' <<<"$explain")
if [[ $explain_sq == *"KIND: ServiceLevel"* && $explain_sq == *"FIELDS:"* && $explain_sq == *"workload"* &&
  $explain_sq == *"autoscaling"* && $(grep -c . <<<"$explain") -gt 15 &&
  $(sed -n '/^DESCRIPTION:/,/^FIELDS:/p' <<<"$explain" | grep -c '[a-z]') -gt 2 ]]; then
  pass "kubectl explain servicelevel.spec shows the descriptions"
else
  fail "kubectl explain servicelevel.spec" "expected a DESCRIPTION and described FIELDS" "$explain"
fi

ok "kubectl delete -f manifests/samples/" kubectl delete -f "$root/manifests/samples/" --wait=true --timeout=60s
if out=$(kubectl delete -f "$root/manifests/governor.yaml" --wait=false 2>&1); then
  pass "kubectl delete -f manifests/governor.yaml"
else
  fail "kubectl delete -f manifests/governor.yaml" "failed" "$out"
fi
# The namespace goes once its objects are gone (and with them the APIServices, whose
# unavailability would otherwise stall the namespace controller's discovery).
if out=$(kubectl wait --for=delete "namespace/$ns" "$crd" --timeout=180s 2>&1); then
  pass "namespace $ns and the CRD are gone"
else
  fail "delete" "namespace $ns or the CRD is still there" "$out$(kubectl get namespace "$ns" -o jsonpath='{.status}' 2>&1)"
fi
left=""
for o in "${cluster_scoped[@]}"; do kubectl get "$o" >/dev/null 2>&1 && left+="$o "; done
kubectl get "$auth_reader" -n kube-system >/dev/null 2>&1 && left+="kube-system/$auth_reader "
[[ -z $left ]] && pass "kubectl delete removed every cluster-scoped object" || fail "kubectl delete" "left: $left"
