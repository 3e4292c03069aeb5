// What the renderer tests start from: the ServiceLevel shop/checkout on Deployment
// checkout, as the API server would hand it over (with a uid), and cache sections.
#pragma once

#include <gtest/gtest.h>

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

// A cache section as the parser would give it for this maxMemory and eviction policy.
inline Cache cache(const std::string& maxMemory = "256Mi", const std::string& policy = "allkeys-lru") {
  Cache c;
  auto q = kube::parseQuantity(maxMemory);
  EXPECT_TRUE(q.ok()) << maxMemory;
  if (q) c.maxMemory = *q;
  c.evictionPolicy = policy;
  return c;
}

}  // namespace governor::op
