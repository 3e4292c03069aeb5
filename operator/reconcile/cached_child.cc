// See cached_child.h.
#include "operator/reconcile/cached_child.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <string>

namespace governor::op {
namespace {

constexpr const char* kKeptMetadata[] = {"name",        "namespace",      "uid", "resourceVersion", "labels",
                                         "annotations", "ownerReferences"};

std::string sha256Hex(const std::string& text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  std::string out = "sha256:";
  char hex[3];
  for (unsigned int i = 0; i < size; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", digest[i]);
    out += hex;
  }
  return out;
}

}  // namespace

Json cachedChild(Json object) {
  if (!object.is_object()) return object;
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
    Json kept = Json::object();
    for (const char* field : kKeptMetadata) {
      if (auto it = md->find(field); it != md->end()) kept[field] = std::move(*it);
    }
    *md = std::move(kept);
  }
  for (const char* field : {"data", "binaryData"}) {
    auto values = object.find(field);
    if (values == object.end() || !values->is_object()) continue;
    for (auto& value : *values) {
      if (value.is_string()) value = sha256Hex(value.get_ref<const std::string&>());
    }
  }
  return object;
}

}  // namespace governor::op
