// What the renderer tests start from: the ServiceLevel shop/checkout on Deployment
// checkout, as the API server would hand it over (with a uid), and cache sections. Whole
// ServiceLevels beside what they render are table tests in testdata/ (render_table_test.cc).
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "api/servicelevel.h"
#include "kube/yaml.h"
#include "operator/render/render.h"

namespace governor::op {

inline ServiceLevel checkout() {
  ServiceLevel sl;
  sl.name = "checkout";
  sl.namespaceName = "shop";
  sl.uid = "0b6f3c1e-uid";
  sl.workload = {"Deployment", "checkout"};
  return sl;
}

// ServiceLevel shop/checkout as the parser reads it with `spec`, the YAML under "spec:"
// indented by two spaces, as a user writes it; checkout() when the parser refuses it.
inline ServiceLevel parsed(const std::string& spec) {
  auto docs = kube::parseYamlDocuments(
      "apiVersion: governor.io/v1alpha1\nkind: ServiceLevel\n"
      "metadata: {name: checkout, namespace: shop, uid: 0b6f3c1e-uid}\nspec:\n" +
      spec);
  EXPECT_TRUE(docs.ok()) << (docs.ok() ? "" : docs.error().status.message) << "\n" << spec;
  if (!docs.ok() || docs->size() != 1) return checkout();
  auto r = api::parseServiceLevel(docs->front());
  std::string problems;
  for (const auto& p : r.problems) problems += "\n  " + p;
  EXPECT_TRUE(r.serviceLevel) << "invalid:" << problems << "\n" << spec;
  return r.serviceLevel ? *r.serviceLevel : checkout();
}

// A cache section as the parser gives it for this maxMemory and eviction policy.
inline Cache cache(const std::string& maxMemory = "256Mi", const std::string& policy = "allkeys-lru") {
  ServiceLevel sl = parsed("  workload: {name: checkout}\n  cache: {maxMemory: '" + maxMemory +
                           "', evictionPolicy: " + policy + "}\n");
  return sl.cache.value_or(Cache{});
}

}  // namespace governor::op
