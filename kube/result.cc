#include "kube/result.h"

#include <exception>
#include <iostream>

namespace governor::kube {

std::string Error::what() const {
  std::string out = context.empty() ? std::string() : context + ": ";
  if (status.code != 0) out += std::to_string(status.code) + " ";
  if (!status.reason.empty()) out += status.reason;
  if (!status.message.empty()) out += (status.reason.empty() ? "" : ": ") + status.message;
  return out;
}

int exitStatusOf(const std::string& program, const std::function<int()>& body) {
  std::string what = "unknown exception";
  try {
    return body();
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::cerr << program << ": internal error: " << what << "\n";
  return 70;
}

}  // namespace governor::kube
