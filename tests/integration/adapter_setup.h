// What a test needs to put governor-metrics-adapter behind the test cluster's aggregation
// layer as the chart does: the chart's ServiceAccounts and RBAC, a kubeconfig with a
// ServiceAccount's token, a serving certificate the APIServices trust, and the APIServices
// themselves (tests/e2e/adapter-apiservice.yaml.in). The adapter runs as a process at
// `address` inside the cluster's network namespace. Every function returns the commands'
// result; status 0 is success, the output says what failed.
#pragma once

#include <string>

#include "support/process.h"

namespace governor::testing {

// The cluster network namespace's own address, local and not loopback: where the API server
// reaches the adapters, Redis and Prometheus that the tests start.
inline constexpr const char* kAddress = "10.200.0.1";

// Namespace governor, and the chart's ServiceAccounts and RBAC (helm template --show-only).
CommandResult applyChartRbac();
// Writes DIR/SA.kubeconfig, authenticating with a token of ServiceAccount governor/SA.
CommandResult writeServiceAccountKubeconfig(const std::string& dir, const std::string& sa);
// DIR/adapter.crt and DIR/adapter.key for the adapter's Service name and `address`, signed
// by the cluster CA (the APIServices' caBundle).
CommandResult writeAdapterServingCert(const std::string& dir, const std::string& address);
// Both APIServices pointing at address:port; waits until they are Available.
CommandResult registerAdapter(const std::string& dir, const std::string& address, int port);
// Another replica of the adapter at address:port behind the same Service (an EndpointSlice
// of its own), `ready` or not, as the endpoints controller marks a pod that starts or
// terminates; for the replica of registerAdapter too.
CommandResult setAdapterEndpoint(const std::string& address, int port, bool ready);
// Undoes all of the above. The APIServices go first: an unavailable aggregated API breaks
// discovery (and namespace deletion) for the tests that run next.
void unregisterAdapter();

}  // namespace governor::testing
