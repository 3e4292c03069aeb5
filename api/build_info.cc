// See version.h: what is said about the build, from the generated version.cc.
#include <prometheus/gauge.h>

#include "api/version.h"

namespace governor::api {

std::string versionLine(const std::string& program) {
  return program + " " + version() + " (revision " + revision() + ")";
}

void registerBuildInfo(prometheus::Registry& registry) {
  prometheus::BuildGauge()
      .Name("governor_build_info")
      .Help("Always 1; the labels say which build of Governor this is")
      .Register(registry)
      .Add({{"version", version()}, {"revision", revision()}})
      .Set(1);
}

}  // namespace governor::api
