// The in-memory API of the reconciler's unit tests: op::Api's verbs over objects stored by
// resource, namespace and name, answered as the API server answers them (404 for what is
// absent, 409 for a name taken, a resourceVersion that does not match or an apply naming a
// uid where nothing exists, 422 for an apply naming another uid), with one verb on one object
// failing when a test says so, every write and every read recorded. getPath answers what a
// test serves at a path, and 404 elsewhere. Informers still list through a
// kube::Client: url() answers their lists from the same store (and their watches with
// nothing), so informers started after a change see it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "operator/reconcile/api_verbs.h"
#include "operator/reconcile/reconciler.h"
#include "support/local_server.h"

namespace governor::testing {

class FakeApi final : public op::Api {
 public:
  struct Write {
    std::string verb;      // "create", "apply", "mergePatch" or "remove"
    std::string resource;  // the plural: "resourcequotas"
    std::string name;
    kube::Json body;  // as sent; for remove, {"uid": the precondition}
  };

  FakeApi();

  // Stores `object` as it is, under its metadata's namespace and name.
  void put(const kube::Resource& r, const kube::Json& object);
  std::optional<kube::Json> find(const kube::Resource& r, const std::string& ns, const std::string& name) const;
  // From now on `verb` ("get", "apply", ...) of the object of that name answers `status`.
  void fail(const std::string& verb, const kube::Resource& r, const std::string& name, kube::Status status);
  // From now on getPath(path) answers `answer`.
  void servePath(const std::string& path, kube::Result<kube::Json> answer);
  std::vector<Write> writes() const;
  void clearWrites();
  // "get plural ns/name" or "getPath PATH", for each read made through op::Api (not the
  // informers' lists).
  std::vector<std::string> reads() const;
  void clearReads();
  // "plural limit=N" for each list of an informer, as asked (N: the page size).
  std::vector<std::string> lists() const;
  std::string url() const { return server_.url(); }

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
  // The stored object, or the error a failing verb or an absent object answers. Under mu_.
  kube::Result<kube::Json*> lookup(const std::string& verb, const kube::Resource& r, const std::string& ns,
                                   const std::string& name);
  // Records a write and returns lookup's answer; with `uid`, 409 for an object of another. Under mu_.
  kube::Result<kube::Json*> write(const std::string& verb, const kube::Resource& r, const std::string& ns,
                                  const std::string& name, const kube::Json& body, const std::string& uid);
  // A write that changes the stored object with `edit`; what nlohmann-json throws answers 422.
  kube::Result<kube::Json> change(const std::string& verb, const kube::Resource& r, const std::string& ns,
                                  const std::string& name, const kube::Json& body, const std::string& uid,
                                  const std::function<void(kube::Json&)>& edit);
  kube::Json list(const std::string& plural, const std::string& labelSelector) const;

  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, kube::Json>> objects_;  // plural: "ns/name": object
  std::map<std::string, kube::Status> failures_;                      // "verb plural name"
  std::vector<Write> writes_;
  std::vector<std::string> reads_;
  std::vector<std::string> lists_;
  std::map<std::string, kube::Result<kube::Json>> paths_;
  int made_ = 0;        // objects created, for their uids and generated names
  LocalServer server_;  // last: stops before the members above go away
};

// A reconciler whose informers list what `api` stores once, at the start: the fake's watches
// carry no events, so they never see a later write, as informers that lag behind their
// operator's writes. Throws when the informers do not sync.
class FakeOperator {
 public:
  explicit FakeOperator(FakeApi& api);
  ~FakeOperator();
  FakeOperator(const FakeOperator&) = delete;
  FakeOperator& operator=(const FakeOperator&) = delete;
  op::Outcome reconcile(const std::string& key) { return reconciler_->reconcile(key); }

 private:
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<kube::Informers> informers_;
  op::Metrics metrics_;
  std::unique_ptr<op::Reconciler> reconciler_;
};

// Reconciles `key` once with informers listed afresh from what `api` stores, as after a
// restart of the operator: each reconcile sees the writes of the one before.
op::Outcome reconcileOnce(FakeApi& api, const std::string& key);

}  // namespace governor::testing
