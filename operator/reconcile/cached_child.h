// What the operator's informers keep of a child object: the fields the reconciler reads,
// with the values of a ConfigMap's data (the alert rules, the dashboard: most of a child's
// bytes) replaced by their digests, which are enough to tell whether they changed.
#pragma once

#include <nlohmann/json.hpp>

namespace governor::op {

using Json = nlohmann::json;

// `object` with only the metadata name, namespace, uid, resourceVersion, labels,
// annotations and ownerReferences, and every value of data and binaryData replaced by
// "sha256:" and its digest; the rest (spec, status) as it is. Applied to a live object and
// to a desired one, holds() of the two answers as it would of the whole objects.
Json cachedChild(Json object);

}  // namespace governor::op
