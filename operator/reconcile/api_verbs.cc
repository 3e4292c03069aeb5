// KubeApi: each verb is one request of kube::Client; see api_verbs.h.
#include "operator/reconcile/api_verbs.h"

namespace governor::op {

using kube::Json;

kube::Result<Json> KubeApi::get(const kube::Resource& r, const std::string& ns, const std::string& name) {
  return client_.get(r, ns, name);
}

kube::Result<Json> KubeApi::create(const kube::Resource& r, const std::string& ns, const Json& object,
                                   const std::string& fieldManager) {
  return client_.create(r, ns, object, fieldManager);
}

kube::Result<Json> KubeApi::apply(const kube::Resource& r, const std::string& ns, const std::string& name,
                                  const Json& object, const kube::ApplyOptions& opts) {
  return client_.apply(r, ns, name, object, opts);
}

kube::Result<Json> KubeApi::mergePatch(const kube::Resource& r, const std::string& ns, const std::string& name,
                                       const Json& patch, const std::string& subresource) {
  return client_.mergePatch(r, ns, name, patch, subresource);
}

kube::Outcome KubeApi::remove(const kube::Resource& r, const std::string& ns, const std::string& name,
                              const std::string& uid) {
  return client_.remove(r, ns, name, kube::Propagation::Background, uid);
}

kube::Result<Json> KubeApi::getPath(const std::string& path) { return client_.raw("GET", path); }

}  // namespace governor::op
