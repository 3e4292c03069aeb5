#!/usr/bin/env bash
# crd.kubectl: the ServiceLevel CRD (crds/governor.io_servicelevels.yaml) as kubectl users see
# it, against the real API server of the test cluster: it installs and is Established, both
# samples are valid, `kubectl explain` prints the descriptions, defaults are filled in,
# invalid ServiceLevels are rejected with an error that names the field and says why, and
# `kubectl get sl` shows the printer columns. Runs inside the cluster's network namespace:
#   tests/cluster/exec bash tests/integration/crd_test.sh
# Prints "crd: N passed, M failed" and exits 1 when anything failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ns=governor-crd-test
source "$root/tests/support/checks.sh"
# squash: one line with single spaces, so that wrapped text can be searched.
squash() { tr -s ' \t\n' ' ' <<<"$1"; }

# ServiceLevel YAML named $1 in the test namespace, its spec read from stdin.
servicelevel() {
  printf 'apiVersion: governor.io/v1alpha1\nkind: ServiceLevel\nmetadata: {name: %s, namespace: %s}\nspec:\n' "$1" "$ns"
  sed 's/^/  /'
}

# reject NAME FIELD TEXT [OBJECT-NAME] < spec: a server-side dry run of the ServiceLevel
# must fail, and kubectl's error must name FIELD and contain TEXT.
reject() {
  local name=$1 field=$2 text=$3 object=${4:-invalid} out
  if out=$(servicelevel "$object" | kubectl create --dry-run=server -f - 2>&1); then
    fail "rejects $name" "the API server accepted it" "$out"
  elif [[ $out != *"$field"* || $out != *"$text"* ]]; then
    fail "rejects $name" "the error does not name $field with \"$text\"" "$out"
  else
    pass "rejects $name ($field)"
  fi
}

cleanup() { kubectl delete namespace "$ns" --ignore-not-found --wait=true --timeout=120s >/dev/null 2>&1; }

# A namespace of its own, left over from no earlier run.
cleanup
if ! out=$(kubectl create namespace "$ns" 2>&1); then
  echo "crd: cannot create namespace $ns: $out" >&2
  exit 1
fi
trap cleanup EXIT

# --- Install -------------------------------------------------------------------------------
if out=$(kubectl apply -f "$root/crds/" 2>&1); then
  pass "kubectl apply -f crds/"
else
  fail "kubectl apply -f crds/" "the API server refused the CRD" "$out"
  echo "crd: $passed passed, $failed failed"
  exit 1
fi
if out=$(kubectl wait --for=condition=Established --timeout=60s crd/servicelevels.governor.io 2>&1); then
  pass "the CRD is Established"
else
  fail "the CRD is Established" "not within 60s" "$out$(kubectl get crd servicelevels.governor.io -o jsonpath='{.status.conditions}' 2>&1)"
fi

out=$(kubectl api-resources --api-group=governor.io --no-headers 2>&1)
if [[ $(squash "$out") == "servicelevels sl governor.io/v1alpha1 true ServiceLevel " ]]; then
  pass "api-resources: servicelevels, short name sl, namespaced"
else
  fail "api-resources" "expected servicelevels sl governor.io/v1alpha1 true ServiceLevel" "$out"
fi

# --- The samples ---------------------------------------------------------------------------
checkout=$root/manifests/samples/servicelevel-checkout.yaml
worker=$root/manifests/samples/servicelevel-worker.yaml
example=$(awk '/^```yaml$/ {inside = 1; next} inside && /^```$/ {exit} inside' "$root/docs/servicelevel.md")  # the first example
if [[ $example == "$(grep -v '^#' "$checkout")" ]]; then
  pass "the checkout sample is the example of docs/servicelevel.md"
else
  fail "the checkout sample is the example of docs/servicelevel.md" "they differ" \
    "$(diff <(echo "$example") <(grep -v '^#' "$checkout"))"
fi
# The checkout sample lives in namespace shop; try it in ours.
if out=$(sed "s/namespace: shop/namespace: $ns/" "$checkout" | kubectl apply --dry-run=server -f - 2>&1); then
  pass "the checkout sample is valid (server dry run)"
else
  fail "the checkout sample is valid" "the API server rejected it" "$out"
fi
if out=$(kubectl apply --dry-run=server -n "$ns" -f "$worker" 2>&1); then
  pass "the worker sample is valid (server dry run)"
else
  fail "the worker sample is valid" "the API server rejected it" "$out"
fi

# --- kubectl explain -----------------------------------------------------------------------
# The OpenAPI document is published a moment after the CRD is Established.
for _ in $(seq 30); do
  out=$(kubectl explain servicelevel.spec.cache 2>&1) && [[ $out == *maxMemory* ]] && break
  sleep 1
done
text=$(squash "$out")
missing=()
for want in "A Redis cache for the service" "Redis maxmemory, a quantity in bytes such as 256Mi" \
  "Default: 256Mi." "Default: allkeys-lru." "Default: 10%." "Default: redis:7.2." \
  "a percent of defaultTTL from 0% to 100%" "alert when the cache's hit ratio"; do
  [[ ${text,,} == *"${want,,}"* ]] || missing+=("$want")
done
if ((${#missing[@]} == 0)); then
  pass "kubectl explain servicelevel.spec.cache shows the descriptions"
else
  fail "kubectl explain servicelevel.spec.cache" "missing: ${missing[*]}" "$out"
fi

for _ in $(seq 30); do
  out=$(kubectl explain servicelevel.spec.autoscaling.behavior.scaleDown.policies 2>&1) && [[ $out == *periodSeconds* ]] && break
  sleep 1
done
res=$(kubectl explain servicelevel.spec.cache.resources 2>&1)
text=$(squash "$out $res")
missing=()
for want in "The changes allowed within a period" "periodSeconds" "The period the policy holds for, from 1 to 1800 seconds" \
  "Pods (a number of replicas) or Percent" "The Redis container's resources" "limits" "requests" \
  "resource claims are not supported"; do
  [[ $text == *"$want"* ]] || missing+=("$want")
done
if ((${#missing[@]} == 0)); then
  pass "kubectl explain shows autoscaling.behavior (the HPA's shape) and cache.resources (the container's)"
else
  fail "kubectl explain autoscaling.behavior and cache.resources" "missing: ${missing[*]}" "$out $res"
fi

# --- Defaults ------------------------------------------------------------------------------
out=$(servicelevel defaults <<'EOF' | kubectl create -f - 2>&1
workload: {name: api}
objectives:
  availability: {target: "99.5", errorQuery: "errors[{{.window}}]", totalQuery: "total[{{.window}}]"}
  latency: {threshold: 300ms, target: "95", histogram: http_request_duration_seconds_bucket}
autoscaling:
  maxReplicas: 5
  queue: {redis: {address: "redis:6379", key: jobs}, targetPerReplica: 10}
  latency: {target: 300ms}
cache: {}
alerting: {page: {}, ticket: {}}
EOF
)
want="Deployment 1 allkeys-lru 30d | 256Mi redis:7.2 5m 10% | list 0 false 95 | critical true warning true"
got=$(kubectl get sl defaults -n "$ns" -o jsonpath='{.spec.workload.kind} {.spec.autoscaling.minReplicas} {.spec.cache.evictionPolicy} {.spec.objectives.window} | {.spec.cache.maxMemory} {.spec.cache.image} {.spec.cache.defaultTTL} {.spec.cache.ttlJitter} | {.spec.autoscaling.queue.redis.type} {.spec.autoscaling.queue.redis.db} {.spec.autoscaling.queue.redis.tls} {.spec.autoscaling.latency.percentile} | {.spec.alerting.page.severity} {.spec.alerting.page.enabled} {.spec.alerting.ticket.severity} {.spec.alerting.ticket.enabled}' 2>&1)
if [[ $got == "$want" ]]; then
  pass "defaults are filled in ($want)"
else
  fail "defaults" "expected \"$want\", got \"$got\"" "$out"
fi

# --- Invalid ServiceLevels -----------------------------------------------------------------
queue='queue: {redis: {address: "redis:6379", key: jobs}, targetPerReplica: 10}'
percent_pattern="should match '^[0-9]{1,2}(\\.[0-9]{1,6})?\$'"
duration_pattern="should match '^([0-9]+(ms|s|m|h|d|w))+\$'"

reject "minReplicas above maxReplicas" spec.autoscaling.minReplicas \
  "minReplicas must be less than or equal to maxReplicas" <<EOF
workload: {name: api}
autoscaling: {minReplicas: 5, maxReplicas: 2, $queue}
EOF
reject 'availability target "0"' spec.objectives.availability.target 'target must be above 0' <<'EOF'
workload: {name: api}
objectives: {availability: {target: "0", errorQuery: "errors[{{.window}}]", totalQuery: "total[{{.window}}]"}}
EOF
reject 'availability target "100"' spec.objectives.availability.target "$percent_pattern" <<'EOF'
workload: {name: api}
objectives: {availability: {target: "100", errorQuery: "errors[{{.window}}]", totalQuery: "total[{{.window}}]"}}
EOF
reject 'latency target "abc"' spec.objectives.latency.target "$percent_pattern" <<'EOF'
workload: {name: api}
objectives: {latency: {threshold: 200ms, target: "abc", histogram: http_request_duration_seconds_bucket}}
EOF
reject 'hitRatioTarget "0.0"' spec.cache.hitRatioTarget 'hitRatioTarget must be above 0' <<'EOF'
workload: {name: api}
cache: {hitRatioTarget: "0.0"}
EOF
reject "a stream without consumerGroup" spec.autoscaling.queue.redis.consumerGroup \
  "Required value: a stream queue needs consumerGroup" <<'EOF'
workload: {name: api}
autoscaling:
  maxReplicas: 3
  queue: {redis: {address: "redis:6379", key: events, type: stream}, targetPerReplica: 10}
EOF
reject 'evictionPolicy "lru"' spec.cache.evictionPolicy \
  'Unsupported value: "lru": supported values: "allkeys-lru", "allkeys-lfu"' <<'EOF'
workload: {name: api}
cache: {evictionPolicy: lru}
EOF
reject 'defaultTTL "5 minutes"' spec.cache.defaultTTL "$duration_pattern" <<'EOF'
workload: {name: api}
cache: {defaultTTL: 5 minutes}
EOF
reject 'threshold "0ms"' spec.objectives.latency.threshold 'threshold must be longer than 0' <<'EOF'
workload: {name: api}
objectives: {latency: {threshold: 0ms, target: "95", histogram: http_request_duration_seconds_bucket}}
EOF
reject 'window "90m"' spec.objectives.window "should match '^[1-9][0-9]*(h|d|w)\$'" <<'EOF'
workload: {name: api}
objectives: {window: 90m, availability: {target: "99", errorQuery: "errors[{{.window}}]", totalQuery: "total[{{.window}}]"}}
EOF
reject "a missing workload.name" spec.workload.name 'Required value' <<'EOF'
workload: {kind: Deployment}
EOF
reject 'workload.kind "Job"' spec.workload.kind 'Unsupported value: "Job": supported values: "Deployment", "StatefulSet"' <<'EOF'
workload: {kind: Job, name: api}
EOF
reject 'workload.name "API"' spec.workload.name "should match '^[a-z0-9]" <<'EOF'
workload: {name: API}
EOF
reject "maxReplicas 0" spec.autoscaling.maxReplicas 'should be greater than or equal to 1' <<EOF
workload: {name: api}
autoscaling: {maxReplicas: 0, $queue}
EOF
reject 'ttlJitter "150%"' spec.cache.ttlJitter "should match '^([0-9]|[1-9][0-9]|100)%\$'" <<'EOF'
workload: {name: api}
cache: {ttlJitter: 150%}
EOF
reject "a histogram not ending in _bucket" spec.objectives.latency.histogram \
  "histogram must be a histogram's _bucket series" <<'EOF'
workload: {name: api}
objectives: {latency: {threshold: 200ms, target: "95", histogram: 'http_request_duration_seconds{job="api"}'}}
EOF
# Issue 16 part 4: PromQL that closes the adapter's rate( and reads another namespace.
reject "a histogram that is PromQL, not a selector" spec.objectives.latency.histogram \
  "histogram must be a histogram's _bucket series" <<'EOF'
workload: {name: api}
objectives: {latency: {threshold: 200ms, target: "95", histogram: 'x_bucket{}[1m]))) or vector(0) + scalar(count(up{namespace="kube-system"})) or sum(sum(rate(x_bucket{}'}}
EOF
reject "autoscaling with nothing to scale on" spec.autoscaling \
  'autoscaling needs queue, latency or resources to scale on' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3}
EOF
reject "minReplicas 0 without a queue" spec.autoscaling.minReplicas \
  'minReplicas 0 needs a queue' <<'EOF'
workload: {name: api}
autoscaling: {minReplicas: 0, maxReplicas: 3, resources: {cpu: {averageUtilization: 70}}}
EOF
reject "a cpu target with both averageUtilization and averageValue" spec.autoscaling.resources.cpu \
  'give exactly one of averageUtilization and averageValue' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, resources: {cpu: {averageUtilization: 70, averageValue: 500m}}}
EOF
reject 'idleFor "0s"' spec.autoscaling.idleFor 'idleFor must be longer than 0' <<EOF
workload: {name: api}
autoscaling: {minReplicas: 0, maxReplicas: 3, idleFor: 0s, $queue}
EOF
reject "a fallback above maxReplicas" spec.autoscaling.queue.fallback.replicas \
  'queue.fallback.replicas must be less than or equal to maxReplicas' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: "redis:6379", key: jobs}, targetPerReplica: 10, fallback: {replicas: 4}}}
EOF
reject "a fallback without replicas" spec.autoscaling.queue.fallback.replicas 'Required value' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: "redis:6379", key: jobs}, targetPerReplica: 10, fallback: {afterFailures: 2}}}
EOF
reject "a queue with neither targetPerReplica nor drainWithin" spec.autoscaling.queue \
  'queue needs targetPerReplica (a backlog per replica) or drainWithin' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: "redis:6379", key: jobs}}}
EOF
reject 'drainWithin "0m"' spec.autoscaling.queue.drainWithin 'drainWithin must be longer than 0' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: "redis:6379", key: jobs}, drainWithin: 0m, arrivalQuery: jobs_total}}
EOF
reject 'drainWithin "two minutes"' spec.autoscaling.queue.drainWithin 'should match' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: "redis:6379", key: jobs}, drainWithin: two minutes, arrivalQuery: jobs_total}}
EOF
reject "drainWithin on a list without a rate query" spec.autoscaling.queue.drainWithin \
  'drainWithin on a list needs arrivalQuery or processedQuery' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: "redis:6379", key: jobs}, drainWithin: 2m}}
EOF
reject "an arrivalQuery that is PromQL, not a selector" spec.autoscaling.queue.arrivalQuery \
  "arrivalQuery must be a counter's series selector" <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: "redis:6379", key: jobs}, drainWithin: 2m, arrivalQuery: "sum(rate(jobs_total[1m]))"}}
EOF
reject "a processedQuery that is PromQL, not a selector" spec.autoscaling.queue.processedQuery \
  "processedQuery must be a counter's series selector" <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: "redis:6379", key: jobs}, drainWithin: 2m, processedQuery: "jobs_total or vector(1)"}}
EOF
reject "a rate query on a stream" spec.autoscaling.queue \
  'arrivalQuery and processedQuery are for lists' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: "redis:6379", key: s, type: stream, consumerGroup: g}, drainWithin: 2m, arrivalQuery: jobs_total}}
EOF
reject "autoscaling.latency without objectives.latency" spec.autoscaling.latency \
  'autoscaling.latency needs objectives.latency' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, latency: {target: 250ms}}
EOF
reject "scaleDownGuard without objectives" spec.autoscaling.scaleDownGuard \
  'autoscaling.scaleDownGuard needs objectives' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, resources: {cpu: {averageUtilization: 70}}, scaleDownGuard: {whileBurning: page}}
EOF
reject 'scaleDownGuard whileBurning "ticket"' spec.autoscaling.scaleDownGuard.whileBurning 'Unsupported value: "ticket"' <<'EOF'
workload: {name: api}
objectives: {latency: {threshold: 200ms, target: "95", histogram: h_bucket}}
autoscaling: {maxReplicas: 3, resources: {cpu: {averageUtilization: 70}}, scaleDownGuard: {whileBurning: ticket}}
EOF
reject "objectives with neither availability nor latency" spec.objectives \
  'objectives needs availability or latency (or both)' <<'EOF'
workload: {name: api}
objectives: {window: 28d}
EOF
reject 'maxMemory "lots"' spec.cache.maxMemory "in body should match '^(\\+|-)?(([0-9]+" <<'EOF'
workload: {name: api}
cache: {maxMemory: lots}
EOF
reject 'maxMemory "0"' spec.cache.maxMemory 'maxMemory must be more than 0' <<'EOF'
workload: {name: api}
cache: {maxMemory: "0"}
EOF
reject 'quota.hard pods "lots"' spec.quota.hard.pods "in body should match '^(\\+|-)?(([0-9]+" <<'EOF'
workload: {name: api}
quota: {hard: {pods: lots}}
EOF
reject "a latency percentile of 100" spec.autoscaling.latency.percentile 'should be less than or equal to 99' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, latency: {percentile: 100, target: 250ms}}
EOF
reject "a Redis address without a port" spec.autoscaling.queue.redis.address 'should match' <<'EOF'
workload: {name: api}
autoscaling: {maxReplicas: 3, queue: {redis: {address: redis, key: jobs}, targetPerReplica: 10}}
EOF
reject "runbookURL without a scheme" spec.alerting.runbookURL 'runbookURL must be an absolute http or https URL' <<'EOF'
workload: {name: api}
alerting: {runbookURL: runbooks/api}
EOF
reject "an alert label name with a dash" spec.alerting.labels 'alerting label names must be Prometheus label names' <<'EOF'
workload: {name: api}
alerting: {labels: {on-call: payments}}
EOF
reject "a cache under a name starting with a digit" metadata.name \
  "with a cache, the name must start with a letter" 1st-api <<'EOF'
workload: {name: api}
cache: {}
EOF
reject "a misspelt field (strict field validation)" spec.cache.maxmemory 'unknown field "spec.cache.maxmemory"' <<'EOF'
workload: {name: api}
cache: {maxmemory: 1Gi}
EOF

reject "an errorQuery without {{.window}}" spec.objectives.availability.errorQuery \
  'errorQuery must use {{.window}} as its range' <<'EOF'
workload: {name: api}
objectives:
  availability: {target: "99", errorQuery: 'sum(rate(errors[5m]))', totalQuery: 'sum(rate(total[{{.window}}]))'}
EOF
reject "a totalQuery without {{.window}}" spec.objectives.availability.totalQuery \
  'totalQuery must use {{.window}} as its range' <<'EOF'
workload: {name: api}
objectives:
  availability: {target: "99", errorQuery: 'sum(rate(errors[{{ .window }}]))', totalQuery: 'sum(rate(total[1h]))'}
EOF
reject "a misspelt behavior field" spec.autoscaling.behavior.scaleDown.stabilisationWindowSeconds \
  'unknown field "spec.autoscaling.behavior.scaleDown.stabilisationWindowSeconds"' <<EOF
workload: {name: api}
autoscaling: {maxReplicas: 3, $queue, behavior: {scaleDown: {stabilisationWindowSeconds: 60}}}
EOF
reject "a behavior policy of type Replicas" 'spec.autoscaling.behavior.scaleUp.policies[0].type' \
  'Unsupported value: "Replicas": supported values: "Pods", "Percent"' <<EOF
workload: {name: api}
autoscaling: {maxReplicas: 3, $queue, behavior: {scaleUp: {policies: [{type: Replicas, value: 4, periodSeconds: 15}]}}}
EOF
reject "a behavior policy period of 1 hour" 'spec.autoscaling.behavior.scaleUp.policies[0].periodSeconds' \
  'should be less than or equal to 1800' <<EOF
workload: {name: api}
autoscaling: {maxReplicas: 3, $queue, behavior: {scaleUp: {policies: [{type: Pods, value: 4, periodSeconds: 3600}]}}}
EOF
reject "a misspelt resources field" spec.cache.resources.limts 'unknown field "spec.cache.resources.limts"' <<'EOF'
workload: {name: api}
cache: {resources: {limts: {memory: 1Gi}}}
EOF
reject 'a resources limit "lots"' spec.cache.resources.limits.memory "in body should match '^(\\+|-)?(([0-9]+" <<'EOF'
workload: {name: api}
cache: {resources: {limits: {memory: lots}}}
EOF

# --- The status subresource and the printer columns ----------------------------------------
out=$(kubectl apply -n "$ns" -f "$worker" 2>&1) || fail "create the worker sample" "kubectl apply failed" "$out"
status='{"spec": {"autoscaling": {"maxReplicas": 99}},
  "status": {"observedGeneration": 1, "replicas": {"current": 3, "desired": 4}, "backlog": "1200",
  "latencyP95": "180ms", "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled",
  "message": "all parts are ready", "lastTransitionTime": "2025-01-01T00:00:00Z", "observedGeneration": 1}]}}'
if ! out=$(kubectl patch sl worker -n "$ns" --subresource=status --type=merge -p "$status" 2>&1); then
  fail "status subresource" "patching the status failed" "$out"
else
  got=$(kubectl get sl worker -n "$ns" -o jsonpath='{.metadata.generation} {.spec.autoscaling.maxReplicas} {.status.replicas.desired}' 2>&1)
  if [[ $got == "1 10 4" ]]; then
    pass "status subresource: the status is written, spec changes through it are ignored"
  else
    fail "status subresource" "expected generation 1, maxReplicas 10, desired 4; got \"$got\"" "$out"
  fi
fi
bad_status='{"status": {"conditions": [{"type": "Ready", "status": "Maybe", "reason": "Reconciled",
  "message": "", "lastTransitionTime": "2025-01-01T00:00:00Z"}]}}'
if out=$(kubectl patch sl worker -n "$ns" --subresource=status --type=merge -p "$bad_status" --dry-run=server 2>&1); then
  fail "rejects a condition status \"Maybe\"" "the API server accepted it" "$out"
elif [[ $out != *'status.conditions[0].status: Unsupported value: "Maybe"'* ]]; then
  fail "rejects a condition status \"Maybe\"" "unexpected error" "$out"
else
  pass "rejects a condition status \"Maybe\" (status.conditions[0].status)"
fi

out=$(kubectl get sl -n "$ns" 2>&1)
header=$(squash "$(head -n 1 <<<"$out")")
row=$(squash "$(grep '^worker ' <<<"$out")")
if [[ $header == "NAME WORKLOAD MIN MAX REPLICAS BACKLOG P95 READY AGE " &&
  $row == "worker worker 1 10 3 1200 180ms True "* ]]; then
  pass "kubectl get sl shows Workload, Min, Max, Replicas, Backlog, P95, Ready and Age"
else
  fail "kubectl get sl printer columns" \
    "expected columns NAME WORKLOAD MIN MAX REPLICAS BACKLOG P95 READY AGE and row worker worker 1 10 3 1200 180ms True" "$out"
fi

got=$(kubectl get sl worker -n "$ns" -o name 2>&1; kubectl get servicelevel worker -n "$ns" -o name 2>&1;
  kubectl get servicelevels.governor.io worker -n "$ns" -o name 2>&1)
if [[ $(squash "$got") == "servicelevel.governor.io/worker servicelevel.governor.io/worker servicelevel.governor.io/worker " ]]; then
  pass "the names sl, servicelevel and servicelevels.governor.io all work"
else
  fail "resource names" "expected servicelevel.governor.io/worker three times" "$got"
fi

# --- Clean up ------------------------------------------------------------------------------
trap - EXIT
if out=$(kubectl delete namespace "$ns" --wait=true --timeout=120s 2>&1); then
  pass "the test namespace is deleted"
else
  fail "delete the test namespace" "kubectl delete failed" "$out"
fi

summary crd
