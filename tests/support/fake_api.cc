// See fake_api.h.
#include "support/fake_api.h"

#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>

#include "kube/selector.h"

namespace governor::testing {

using kube::Json;

namespace {

kube::Error error(int code, std::string reason, const std::string& context) {
  return {{code, reason, "said the fake"}, context};
}

std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// What an error says was being done: "apply resourcequotas shop/team".
std::string doing(const std::string& verb, const kube::Resource& r, const std::string& ns, const std::string& name) {
  return verb + " " + r.plural + " " + key(ns, name);
}

}  // namespace

FakeApi::FakeApi() {
  // A thread per informer's watch (each kept alive between its empty streams) and the lists:
  // httplib's default of 8 would leave a list waiting for a watch's connection to time out.
  server_.server().new_task_queue = [] { return new httplib::ThreadPool(32); };
  server_.server().Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("watch")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // an empty stream, then a new watch
      return res.set_content("", "application/json");
    }
    auto plural = req.path.substr(req.path.rfind('/') + 1);
    {
      std::lock_guard lock(mu_);
      lists_.push_back(plural + " limit=" + req.get_param_value("limit"));
    }
    res.set_content(list(plural, req.get_param_value("labelSelector")).dump(), "application/json");
  });
  server_.start();
}

void FakeApi::put(const kube::Resource& r, const Json& object) {
  std::lock_guard lock(mu_);
  const auto& md = object.at("metadata");
  objects_[r.plural][key(md.value("namespace", ""), md.value("name", ""))] = object;
}

std::optional<Json> FakeApi::find(const kube::Resource& r, const std::string& ns, const std::string& name) const {
  std::lock_guard lock(mu_);
  auto kind = objects_.find(r.plural);
  if (kind == objects_.end() || !kind->second.contains(key(ns, name))) return std::nullopt;
  return kind->second.at(key(ns, name));
}

void FakeApi::fail(const std::string& verb, const kube::Resource& r, const std::string& name, kube::Status status) {
  std::lock_guard lock(mu_);
  failures_[verb + " " + r.plural + " " + name] = std::move(status);
}

std::vector<FakeApi::Write> FakeApi::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

void FakeApi::clearWrites() {
  std::lock_guard lock(mu_);
  writes_.clear();
}

void FakeApi::servePath(const std::string& path, kube::Result<Json> answer) {
  std::lock_guard lock(mu_);
  paths_.insert_or_assign(path, std::move(answer));
}

std::vector<std::string> FakeApi::reads() const {
  std::lock_guard lock(mu_);
  return reads_;
}

std::vector<std::string> FakeApi::lists() const {
  std::lock_guard lock(mu_);
  return lists_;
}

void FakeApi::clearReads() {
  std::lock_guard lock(mu_);
  reads_.clear();
}

kube::Result<Json*> FakeApi::lookup(const std::string& verb, const kube::Resource& r, const std::string& ns,
                                    const std::string& name) {
  auto context = doing(verb, r, ns, name);
  if (auto f = failures_.find(verb + " " + r.plural + " " + name); f != failures_.end()) {
    return kube::Error{f->second, context};
  }
  auto& stored = objects_[r.plural];
  auto it = stored.find(key(ns, name));
  if (it == stored.end()) return error(404, "NotFound", context);
  return &it->second;
}

kube::Result<Json*> FakeApi::write(const std::string& verb, const kube::Resource& r, const std::string& ns,
                                   const std::string& name, const Json& body, const std::string& uid) {
  writes_.push_back({verb, r.plural, name, body});
  auto found = lookup(verb, r, ns, name);
  if (found && !uid.empty() && uid != (**found)["metadata"].value("uid", "")) {
    return error(409, "Conflict", doing(verb, r, ns, name));
  }
  return found;
}

kube::Result<Json> FakeApi::get(const kube::Resource& r, const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  reads_.push_back(doing("get", r, ns, name));
  auto found = lookup("get", r, ns, name);
  if (!found) return found.error();
  return **found;
}

kube::Result<Json> FakeApi::create(const kube::Resource& r, const std::string& ns, const Json& object,
                                   const std::string& fieldManager) {
  std::lock_guard lock(mu_);
  Json made = object;
  auto& md = made["metadata"];
  if (md.value("name", "").empty()) md["name"] = md.value("generateName", "") + std::to_string(made_ + 1);
  const std::string name = md["name"];
  auto found = write("create", r, ns, name, object, "");
  if (found) return error(409, "AlreadyExists", doing("create", r, ns, name));
  if (!found.error().isNotFound()) return found.error();
  md["uid"] = "uid-" + std::to_string(++made_);
  // As POST records it.
  if (!fieldManager.empty()) md["managedFields"] = {{{"manager", fieldManager}, {"operation", "Update"}}};
  objects_[r.plural][key(ns, name)] = made;
  return made;
}

kube::Result<Json> FakeApi::change(const std::string& verb, const kube::Resource& r, const std::string& ns,
                                   const std::string& name, const Json& body, const std::string& uid,
                                   const std::function<void(Json&)>& edit) {
  std::lock_guard lock(mu_);
  auto found = write(verb, r, ns, name, body, uid);
  if (!found) return found.error();
  try {
    edit(**found);
  } catch (const Json::exception& e) {
    return kube::Error{{422, "Invalid", e.what()}, doing(verb, r, ns, name)};
  }
  return **found;
}

// As the API server applies: an absent object is created (its fields in an Apply entry of the
// field manager) unless the body names a uid; a uid or resourceVersion in the body must be the
// stored object's.
kube::Result<Json> FakeApi::apply(const kube::Resource& r, const std::string& ns, const std::string& name,
                                  const Json& object, const kube::ApplyOptions& opts) {
  const auto& md = object["metadata"];
  const std::string uid = md.value("uid", "");
  const std::string version = md.value("resourceVersion", "");
  {
    std::lock_guard lock(mu_);
    auto found = lookup("apply", r, ns, name);
    if (!found && found.error().isNotFound()) {
      writes_.push_back({"apply", r.plural, name, object});
      if (!uid.empty()) {
        return error(409, "Conflict",
                     doing("apply", r, ns, name) + ": uid mismatch: the provided object specified uid " + uid +
                         ", and no existing object was found");
      }
      Json made = object;
      made["metadata"].erase("resourceVersion");
      made["metadata"]["uid"] = "uid-" + std::to_string(++made_);
      made["metadata"]["managedFields"] = {{{"manager", opts.fieldManager}, {"operation", "Apply"}}};
      objects_[r.plural][key(ns, name)] = made;
      return made;
    }
    if (found) {
      const auto& stored = (**found)["metadata"];
      if (!uid.empty() && uid != stored.value("uid", "")) {
        writes_.push_back({"apply", r.plural, name, object});
        return error(422, "Invalid", doing("apply", r, ns, name) + ": metadata.uid: field is immutable");
      }
      if (!version.empty() && version != stored.value("resourceVersion", "")) {
        writes_.push_back({"apply", r.plural, name, object});
        return error(409, "Conflict", doing("apply", r, ns, name) + ": the object has been modified");
      }
    }
  }
  return change("apply", r, ns, name, object, "", [&](Json& stored) { stored.merge_patch(object); });
}

kube::Result<Json> FakeApi::mergePatch(const kube::Resource& r, const std::string& ns, const std::string& name,
                                       const Json& patch, const std::string&) {
  return change("mergePatch", r, ns, name, patch, "", [&](Json& stored) { stored.merge_patch(patch); });
}

kube::Outcome FakeApi::remove(const kube::Resource& r, const std::string& ns, const std::string& name,
                              const std::string& uid) {
  std::lock_guard lock(mu_);
  auto found = write("remove", r, ns, name, {{"uid", uid}}, uid);
  if (!found) return found.error();
  objects_[r.plural].erase(key(ns, name));
  return kube::Ok{};
}

// Unless a test serves it: the PrometheusRule CRD is absent, the adapter has no metrics.
kube::Result<Json> FakeApi::getPath(const std::string& path) {
  std::lock_guard lock(mu_);
  reads_.push_back("getPath " + path);
  if (auto served = paths_.find(path); served != paths_.end()) return served->second;
  return error(404, "NotFound", "GET " + path);
}

Json FakeApi::list(const std::string& plural, const std::string& labelSelector) const {
  auto selector = kube::parseSelector(labelSelector);
  std::lock_guard lock(mu_);
  Json items = Json::array();
  if (auto kind = objects_.find(plural); kind != objects_.end()) {
    for (const auto& [_, object] : kind->second) {
      auto labels = object["metadata"].value("labels", std::map<std::string, std::string>{});
      if (selector && selector->matches(labels)) items.push_back(object);
    }
  }
  return {{"kind", "List"}, {"metadata", {{"resourceVersion", "1"}}}, {"items", items}};
}

FakeOperator::FakeOperator(FakeApi& api) {
  kube::Config config;
  config.server = api.url();
  config.timeout = std::chrono::seconds(5);
  auto client = kube::Client::create(config);
  if (!client) throw std::runtime_error(client.error().what());
  client_ = std::move(*client);
  informers_ = std::make_unique<kube::Informers>(*client_);
  reconciler_ = std::make_unique<op::Reconciler>(api, *informers_, "", metrics_);
  reconciler_->registerInformers([](const std::string&) {});
  informers_->startAll();
  if (!informers_->waitForSync(std::chrono::seconds(10))) throw std::runtime_error("the informers did not sync");
}

FakeOperator::~FakeOperator() { informers_->stopAll(); }

op::Outcome reconcileOnce(FakeApi& api, const std::string& key) { return FakeOperator(api).reconcile(key); }

}  // namespace governor::testing
