// What both binaries say they are, in --version and in the governor_build_info metric.
#pragma once

#include <string>

#include <prometheus/registry.h>

namespace governor::api {

// CMake's project version, "0.1.0".
const char* version();
// `git describe --tags --always --dirty` of the checkout at configure time, or "unknown"
// (a build from a tarball).
const char* revision();
// "governor-operator 0.1.0 (revision 3f2c1e9)"
std::string versionLine(const std::string& program);
// governor_build_info{version, revision} 1, the Prometheus convention for a build's facts.
void registerBuildInfo(prometheus::Registry& registry);

}  // namespace governor::api
