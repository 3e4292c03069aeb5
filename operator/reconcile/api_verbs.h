// The few API verbs the reconciler uses, as an interface: the operator passes KubeApi (over
// kube::Client); unit tests pass the in-memory fake of tests/support/fake_api.h, so that every
// condition reason and prune or conflict decision is tested without an API server.
#pragma once

#include <string>

#include "kube/client.h"

namespace governor::op {

class Api {
 public:
  virtual ~Api() = default;

  virtual kube::Result<kube::Json> get(const kube::Resource& r, const std::string& ns, const std::string& name) = 0;
  // POST: 409 AlreadyExists when an object of that name exists, whoever made it.
  virtual kube::Result<kube::Json> create(const kube::Resource& r, const std::string& ns, const kube::Json& object,
                                          const std::string& fieldManager) = 0;
  // Server-side apply; it creates an absent object unless the body names a uid.
  virtual kube::Result<kube::Json> apply(const kube::Resource& r, const std::string& ns, const std::string& name,
                                         const kube::Json& object, const kube::ApplyOptions& opts) = 0;
  // subresource: "" (the object), "status" or "scale".
  virtual kube::Result<kube::Json> mergePatch(const kube::Resource& r, const std::string& ns, const std::string& name,
                                              const kube::Json& patch, const std::string& subresource) = 0;
  // Deletes in the background; with `uid`, only that object (another answers 409).
  virtual kube::Outcome remove(const kube::Resource& r, const std::string& ns, const std::string& name,
                               const std::string& uid) = 0;
  // A GET of what the typed verbs do not cover: discovery, the aggregated metrics APIs.
  virtual kube::Result<kube::Json> getPath(const std::string& path) = 0;
};

// The verbs as requests to the API server.
class KubeApi final : public Api {
 public:
  explicit KubeApi(kube::Client& client) : client_(client) {}

  kube::Result<kube::Json> get(const kube::Resource& r, const std::string& ns, const std::string& name) override;
  kube::Result<kube::Json> create(const kube::Resource& r, const std::string& ns, const kube::Json& object,
                                  const std::string& fieldManager) override;
  kube::Result<kube::Json> apply(const kube::Resource& r, const std::string& ns, const std::string& name,
                                 const kube::Json& object, const kube::ApplyOptions& opts) override;
  kube::Result<kube::Json> mergePatch(const kube::Resource& r, const std::string& ns, const std::string& name,
                                      const kube::Json& patch, const std::string& subresource) override;
  kube::Outcome remove(const kube::Resource& r, const std::string& ns, const std::string& name,
                       const std::string& uid) override;
  kube::Result<kube::Json> getPath(const std::string& path) override;

 private:
  kube::Client& client_;
};

}  // namespace governor::op
