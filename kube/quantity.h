// Kubernetes resource quantities ("500m", "1.5Gi", "1e3"): exact parsing, comparison and
// canonical printing with the rules of k8s.io/apimachinery's resource.Quantity.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "kube/result.h"

namespace governor::kube {

class Quantity {
 public:
  // The suffix family the quantity was written in; printing keeps it when it can.
  enum class Format { DecimalSI, BinarySI, DecimalExponent };

  Quantity() = default;  // zero, DecimalSI

  Format format() const { return format_; }
  bool isZero() const { return mantissa_ == 0; }

  // Kubernetes' String(): no fraction, largest suffix of the format that keeps every digit.
  std::string canonical() const;
  // -1, 0 or 1; compares values only, so "1000m" equals "1".
  int compare(const Quantity& other) const;
  std::strong_ordering operator<=>(const Quantity& other) const { return compare(other) <=> 0; }
  bool operator==(const Quantity& other) const { return compare(other) == 0; }
  double asDouble() const;
  // ceil(q * 1000) and ceil(q), rounding away from zero as Kubernetes does; saturated at the
  // int64 limits where Kubernetes' result would be undefined.
  int64_t milliValue() const;
  int64_t value() const;

 private:
  __extension__ using Int128 = __int128;  // __extension__: -Wpedantic knows no 128-bit type

  friend Result<Quantity> parseQuantity(std::string_view text);
  Quantity(Int128 mantissa, int64_t scale, Format format);
  int64_t scaledValue(int64_t scale) const;

  // The value is mantissa_ * 10^scale_, with no trailing zeros in mantissa_ (zero is 0, 0), so
  // equal values have equal representations. |mantissa_| < 10^38 and scale_ >= -9 (nano).
  Int128 mantissa_ = 0;
  int64_t scale_ = 0;
  Format format_ = Format::DecimalSI;
};

// The grammar is <sign>?<digits>(.<digits>?)?<suffix> with suffix one of Ki Mi Gi Ti Pi Ei,
// n u m "" k M G T P E, or e/E followed by a signed int32 exponent. Values finer than nano round
// away from zero to the next nano; BinarySI values are capped at 2^63-1 as Kubernetes does.
// Values needing more than 38 significant digits are rejected.
Result<Quantity> parseQuantity(std::string_view text);

}  // namespace governor::kube
