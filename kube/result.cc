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

std::string utf8Safe(std::string_view text) {
  static constexpr char32_t kLeast[] = {0, 0x80, 0x800, 0x10000};  // no overlong forms
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t more = 0;  // continuation bytes; 4: not a lead byte
    char32_t code = lead;
    if (lead >= 0x80) {
      if ((lead & 0xE0) == 0xC0) {
        more = 1, code = lead & 0x1F;
      } else if ((lead & 0xF0) == 0xE0) {
        more = 2, code = lead & 0x0F;
      } else if ((lead & 0xF8) == 0xF0) {
        more = 3, code = lead & 0x07;
      } else {
        more = 4;
      }
    }
    bool valid = more < 4 && more < text.size() - i;
    for (size_t k = 1; valid && k <= more; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    valid = valid && (more == 0 || (code >= kLeast[more] && code <= 0x10FFFF && (code < 0xD800 || code > 0xDFFF)));
    if (valid) {
      out.append(text.substr(i, more + 1));
      i += more + 1;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
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
