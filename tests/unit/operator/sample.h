// The ServiceLevel the renderer tests start from: shop/checkout on Deployment checkout,
// as the API server would hand it over (with a uid).
#pragma once

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

}  // namespace governor::op
