#include "adapter_setup.h"

#include <cstdlib>

namespace governor::testing {
namespace {

std::string clusterCa() { return std::string(std::getenv("GOVERNOR_CLUSTER_DIR")) + "/pki/ca"; }

const std::string kChartRbac = "helm template governor " GOVERNOR_SOURCE_DIR
                               "/charts/governor --namespace governor"
                               " --show-only templates/serviceaccounts.yaml --show-only templates/rbac-operator.yaml"
                               " --show-only templates/rbac-adapter.yaml";

}  // namespace

CommandResult applyChartRbac() {
  // The suite before may have left namespace governor terminating (unregisterAdapter does not
  // wait); nothing can be created in it until it is gone.
  return run(
      "(for _ in $(seq 120); do [ \"$(kubectl get namespace governor -o jsonpath='{.status.phase}' "
      "2>/dev/null)\" = Terminating ] || break; sleep 1; done; "
      "kubectl create namespace governor --dry-run=client -o yaml | kubectl apply -f - && " +
      kChartRbac + " | kubectl apply -f -)");
}

CommandResult writeServiceAccountKubeconfig(const std::string& dir, const std::string& sa) {
  const std::string kc = "KUBECONFIG=" + quote(dir + "/" + sa + ".kubeconfig") + " kubectl config ";
  return run(
      "(server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}') && "
      "token=$(kubectl create token " +
      sa + " -n governor --duration=2h) && " + kc + "set-cluster test --server=\"$server\" --certificate-authority=" +
      quote(clusterCa() + ".crt") + " --embed-certs && " + kc + "set-credentials " + sa + " --token=\"$token\" && " +
      kc + "set-context test --cluster=test --user=" + sa + " && " + kc + "use-context test)");
}

CommandResult writeAdapterServingCert(const std::string& dir, const std::string& address) {
  return run("cd " + quote(dir) +
             " && printf 'subjectAltName=DNS:governor-metrics-adapter.governor.svc,DNS:localhost,IP:" + address +
             "\\nextendedKeyUsage=serverAuth\\n' > adapter.ext"
             " && openssl req -newkey rsa:2048 -nodes -keyout adapter.key -out adapter.csr"
             " -subj /CN=governor-metrics-adapter"
             " && openssl x509 -req -in adapter.csr -CA " +
             quote(clusterCa() + ".crt") + " -CAkey " + quote(clusterCa() + ".key") +
             " -CAserial ca.srl -CAcreateserial -days 1 -out adapter.crt"
             " -extfile adapter.ext");
}

CommandResult registerAdapter(const std::string& dir, const std::string& address, int port) {
  const std::string yaml = quote(dir + "/apiservice.yaml");
  return run("ca=$(base64 -w0 " + quote(clusterCa() + ".crt") + ") && sed -e 's|@ADDRESS@|" + address +
             "|g; s|@PORT@|" + std::to_string(port) +
             "|g' -e \"s|@CA_BUNDLE@|$ca|g\" " GOVERNOR_SOURCE_DIR "/tests/e2e/adapter-apiservice.yaml.in > " + yaml +
             " && kubectl apply -f " + yaml +
             " && kubectl wait --for=condition=Available --timeout=60s"
             " apiservice/v1beta1.external.metrics.k8s.io apiservice/v1beta2.custom.metrics.k8s.io");
}

CommandResult setAdapterEndpoint(const std::string& address, int port, bool ready) {
  const std::string p = std::to_string(port);
  const std::string conditions = ready ? "{ready: true}" : "{ready: false, terminating: true}";
  return run(
      "(kubectl apply -f - <<'EOF'\n"
      "apiVersion: discovery.k8s.io/v1\n"
      "kind: EndpointSlice\n"
      "metadata:\n"
      "  name: governor-metrics-adapter-" +
      p +
      "\n"
      "  namespace: governor\n"
      "  labels: {kubernetes.io/service-name: governor-metrics-adapter}\n"
      "addressType: IPv4\n"
      "ports: [{name: https, port: " +
      p +
      ", protocol: TCP}]\n"
      "endpoints: [{addresses: [\"" +
      address + "\"], conditions: " + conditions +
      "}]\n"
      "EOF\n)");
}

void unregisterAdapter() {
  run("kubectl delete apiservice v1beta1.external.metrics.k8s.io v1beta2.custom.metrics.k8s.io --ignore-not-found");
  run("kubectl delete namespace governor --ignore-not-found --wait=false");
  run(kChartRbac + " | kubectl delete --ignore-not-found -f -");
}

}  // namespace governor::testing
