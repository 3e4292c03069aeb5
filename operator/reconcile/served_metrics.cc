// See served_metrics.h.
#include "operator/reconcile/served_metrics.h"

#include <spdlog/spdlog.h>

#include "api/servicelevel.h"

namespace governor::op {
namespace {

// Whom an item is about: a custom metric's object, or the ServiceLevel an external one is labelled with.
std::string nameOf(const Json& item) {
  if (auto described = item.find("describedObject"); described != item.end() && described->is_object()) {
    return described->value("name", "");
  }
  return item.value("metricLabels", Json::object()).value(api::kServiceLevelLabel, "");
}

}  // namespace

kube::Result<Json> ServedMetrics::read(const std::string& path) {
  auto res = api_.getPath(path);
  if (!res && res.error().status.code == 403)
    spdlog::warn("status: cannot read a served metric: {}", res.error().what());
  if (!res) return res.error();
  return res->value("items", Json::array());
}

std::optional<Json> ServedMetrics::item(const std::string& listPath, const std::string& name,
                                        const std::string& objectPath) {
  std::shared_ptr<List> list;
  {
    std::lock_guard lock(mu_);
    auto& kept = lists_[listPath];
    if (!kept) kept = std::make_shared<List>();
    list = kept;
  }
  {
    std::lock_guard reading(list->mu);
    if (!list->readAt || clock_() - *list->readAt >= maxAge_) {
      auto items = read(listPath);
      list->readAt = clock_();
      // 404: the adapter serves that metric for no object in the namespace.
      list->ok = items || items.error().isNotFound();
      list->items.clear();
      if (items) {
        for (auto& item : *items) {
          std::string name = nameOf(item);  // before the move: Json's assignment takes its operand by value
          list->items[name] = std::move(item);
        }
      }
    }
    if (list->ok) {
      auto found = list->items.find(name);
      if (found == list->items.end()) return std::nullopt;
      return found->second;
    }
  }
  auto one = read(objectPath);
  if (!one || one->empty()) return std::nullopt;
  return (*one)[0];
}

}  // namespace governor::op
