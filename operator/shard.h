// Sharding the ServiceLevels among several operators (--shard i/n): each reconciles the
// ServiceLevels of the namespaces whose hash falls to it, under a Lease of its own, so that
// one operator's memory and API requests grow with its share, not with the cluster.
#pragma once

#include <string>

#include "kube/result.h"

namespace governor::op {

struct Shard {
  int index = 0;  // 0 .. count-1
  int count = 1;

  // Whether the ServiceLevels of namespace `ns` are this shard's: FNV-1a of the name, modulo
  // count. Every ServiceLevel of a namespace falls to the same shard.
  bool owns(const std::string& ns) const;
  // The leader-election Lease: governor-operator, or governor-operator-shard-I-of-N.
  std::string leaseName() const;
  std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// "i/n" with 0 <= i < n <= 64, e.g. "0/2"; an error saying what is wrong otherwise.
kube::Result<Shard> parseShard(const std::string& text);

}  // namespace governor::op
