#include "kube/result.h"

namespace governor::kube {

std::string Error::what() const {
  std::string out = context.empty() ? std::string() : context + ": ";
  if (status.code != 0) out += std::to_string(status.code) + " ";
  if (!status.reason.empty()) out += status.reason;
  if (!status.message.empty()) out += (status.reason.empty() ? "" : ": ") + status.message;
  return out;
}

}  // namespace governor::kube
