// Parses and prints resource quantities exactly: digits are handled as text until the value is
// known to fit a 128-bit scaled integer, so no input is ever approximated by a double.
#include "kube/quantity.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

namespace governor::kube {
namespace {

__extension__ using Int128 = __int128;
using Format = Quantity::Format;

constexpr int64_t kNanoScale = -9;
constexpr size_t kMaxDigits = 38;  // every 38-digit number fits an Int128
constexpr std::string_view kDecimalSuffixes[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
constexpr std::string_view kBinarySuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};

Error invalid(std::string_view text, std::string_view why) {
  return Error{Status{0, "Invalid", "quantity \"" + std::string(text) + "\": " + std::string(why)}, ""};
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// What a suffix multiplies the number by: 10^exponent10 * 1024^binaryPower.
struct Suffix {
  int64_t exponent10 = 0;
  int binaryPower = 0;
  Format format = Format::DecimalSI;
};

std::optional<Suffix> interpretSuffix(std::string_view text) {
  for (int i = 0; i < 10; ++i) {
    if (text == kDecimalSuffixes[i]) return Suffix{3 * i - 9, 0, Format::DecimalSI};
  }
  for (int i = 1; i < 7; ++i) {
    if (text == kBinarySuffixes[i]) return Suffix{0, i, Format::BinarySI};
  }
  if (text.size() < 2 || (text[0] != 'e' && text[0] != 'E')) return std::nullopt;
  std::string_view exponent = text.substr(1);
  size_t digitsStart = exponent[0] == '+' || exponent[0] == '-' ? 1 : 0;
  if (digitsStart == exponent.size() || !std::all_of(exponent.begin() + digitsStart, exponent.end(), isDigit)) {
    return std::nullopt;
  }
  // from_chars rejects a leading '+'; Kubernetes limits the exponent to an int32.
  if (exponent[0] == '+') exponent.remove_prefix(1);
  int32_t value = 0;
  auto [end, error] = std::from_chars(exponent.data(), exponent.data() + exponent.size(), value);
  if (error != std::errc()) return std::nullopt;
  return Suffix{value, 0, Format::DecimalExponent};
}

void multiplyDigits(std::string& digits, int factor) {
  int carry = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int product = (*it - '0') * factor + carry;
    *it = static_cast<char>('0' + product % 10);
    carry = product / 10;
  }
  for (; carry > 0; carry /= 10) digits.insert(digits.begin(), static_cast<char>('0' + carry % 10));
}

void incrementDigits(std::string& digits) {
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (*it != '9') {
      ++*it;
      return;
    }
    *it = '0';
  }
  digits.insert(digits.begin(), '1');
}

Int128 pow10(int64_t exponent) {
  Int128 result = 1;
  for (int64_t i = 0; i < exponent; ++i) result *= 10;
  return result;
}

int64_t digitCount(Int128 value) {
  int64_t count = 0;
  for (; value != 0; value /= 10) ++count;
  return count;
}

std::string decimalString(Int128 value) {
  std::string out;
  for (Int128 rest = value; rest != 0 || out.empty(); rest /= 10) {
    int digit = static_cast<int>(rest % 10);
    out += static_cast<char>('0' + (digit < 0 ? -digit : digit));
  }
  if (value < 0) out += '-';
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

Quantity::Quantity(Int128 mantissa, int64_t scale, Format format)
    : mantissa_(mantissa), scale_(mantissa == 0 ? 0 : scale), format_(format) {
  for (; mantissa_ != 0 && mantissa_ % 10 == 0; mantissa_ /= 10) ++scale_;
}

Result<Quantity> parseQuantity(std::string_view text) {
  size_t pos = 0;
  auto takeDigits = [&] {
    size_t start = pos;
    while (pos < text.size() && isDigit(text[pos])) ++pos;
    return text.substr(start, pos - start);
  };
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    pos = 1;
  }
  std::string digits(takeDigits());
  int64_t fractionDigits = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::string_view fraction = takeDigits();
    digits += fraction;
    fractionDigits = static_cast<int64_t>(fraction.size());
  }
  if (digits.empty()) return invalid(text, "expected a number");
  std::optional<Suffix> suffix = interpretSuffix(text.substr(pos));
  if (!suffix) return invalid(text, "unknown suffix \"" + std::string(text.substr(pos)) + "\"");

  Format format = suffix->format;
  int64_t scale = suffix->exponent10 - fractionDigits;
  for (int i = 0; i < suffix->binaryPower; ++i) multiplyDigits(digits, 1024);
  digits.erase(0, digits.find_first_not_of('0'));
  if (digits.empty()) return Quantity(0, 0, format);
  auto stripTrailingZeros = [&] {
    size_t end = digits.find_last_not_of('0') + 1;
    scale += static_cast<int64_t>(digits.size() - end);
    digits.resize(end);
  };
  stripTrailingZeros();
  if (scale < kNanoScale) {
    // Kubernetes rounds a finer value away from zero, so asking for a little never gives nothing.
    // The dropped digits end in a non-zero digit, so there is always something to round.
    int64_t keep = static_cast<int64_t>(digits.size()) - (kNanoScale - scale);
    digits.resize(static_cast<size_t>(std::max<int64_t>(keep, 0)));
    incrementDigits(digits);
    scale = kNanoScale;
    stripTrailingZeros();
  }
  // Kubernetes silently caps BinarySI at 2^63-1; anything of 20 or more integer digits is above.
  const Quantity maxBinary(std::numeric_limits<int64_t>::max(), 0, Format::BinarySI);
  if (format == Format::BinarySI && static_cast<int64_t>(digits.size()) + scale > 19) {
    digits = decimalString(maxBinary.mantissa_);
    scale = 0;
  }
  if (digits.size() > kMaxDigits) return invalid(text, "more than 38 significant digits");
  // Trailing zeros moved into the scale can push it past the int32 exponents that the parser
  // (like Kubernetes) accepts, and canonical() would print what parseQuantity rejects.
  if (scale > std::numeric_limits<int32_t>::max()) {
    return invalid(text, "too large: the exponent, with trailing zeros moved into it, exceeds " +
                             std::to_string(std::numeric_limits<int32_t>::max()));
  }

  Int128 magnitude = 0;
  for (char c : digits) magnitude = magnitude * 10 + (c - '0');
  Quantity quantity(magnitude, scale, format);
  if (format == Format::BinarySI && quantity > maxBinary) quantity = maxBinary;
  // Binary suffixes cannot express a fraction of one, so Kubernetes switches those to DecimalSI.
  if (format == Format::BinarySI && quantity < Quantity(1, 0, format)) format = Format::DecimalSI;
  return Quantity(negative ? -quantity.mantissa_ : quantity.mantissa_, quantity.scale_, format);
}

std::string Quantity::canonical() const {
  if (mantissa_ == 0) return "0";
  // BinarySI prints only whole numbers of at least 1Ki; anything else keeps its digits, as
  // DecimalSI.
  if (format_ == Format::BinarySI && scale_ >= 0) {
    int64_t units = value();
    if (units <= -1024 || units >= 1024) {
      int power = 0;
      for (; units % 1024 == 0; units /= 1024) ++power;
      return std::to_string(units) + std::string(kBinarySuffixes[power]);
    }
  }
  // Lower the exponent to a multiple of 3 so that it names an SI suffix.
  std::string digits = decimalString(mantissa_);
  int64_t exponent = scale_;
  for (; exponent % 3 != 0; --exponent) digits += '0';
  if (format_ != Format::DecimalExponent && exponent >= -9 && exponent <= 18) {
    return digits + std::string(kDecimalSuffixes[(exponent + 9) / 3]);
  }
  // DecimalSI has no suffix past E (10^18): fall back to an exponent rather than lose magnitude.
  return exponent == 0 ? digits : digits + "e" + std::to_string(exponent);
}

int Quantity::compare(const Quantity& other) const {
  int sign = (mantissa_ > 0) - (mantissa_ < 0);
  int otherSign = (other.mantissa_ > 0) - (other.mantissa_ < 0);
  if (sign != otherSign || sign == 0) return (sign > otherSign) - (sign < otherSign);
  // Both normalized: a larger order of magnitude decides; equal ones align within 38 digits.
  int64_t magnitude = digitCount(mantissa_) + scale_;
  int64_t otherMagnitude = digitCount(other.mantissa_) + other.scale_;
  if (magnitude != otherMagnitude) return magnitude > otherMagnitude ? sign : -sign;
  Int128 mine = mantissa_;
  Int128 theirs = other.mantissa_;
  if (scale_ > other.scale_) {
    mine *= pow10(scale_ - other.scale_);
  } else {
    theirs *= pow10(other.scale_ - scale_);
  }
  return (mine > theirs) - (mine < theirs);
}

double Quantity::asDouble() const {
  // Dividing by an exact power of ten rounds once, where multiplying by 10^-n would round twice.
  double mantissa = static_cast<double>(mantissa_);
  return scale_ >= 0 ? mantissa * std::pow(10.0, static_cast<double>(scale_))
                     : mantissa / std::pow(10.0, static_cast<double>(-scale_));
}

int64_t Quantity::milliValue() const { return scaledValue(-3); }

int64_t Quantity::value() const { return scaledValue(0); }

// The value in units of 10^scale, rounded away from zero; scale >= -9 keeps the divisor small.
int64_t Quantity::scaledValue(int64_t scale) const {
  constexpr Int128 kMin = std::numeric_limits<int64_t>::min();
  constexpr Int128 kMax = std::numeric_limits<int64_t>::max();
  Int128 result = mantissa_;
  if (scale_ >= scale) {
    for (int64_t i = scale; i < scale_ && result >= kMin && result <= kMax; ++i) result *= 10;
  } else {
    Int128 divisor = pow10(scale - scale_);
    result = mantissa_ / divisor;
    if (result * divisor != mantissa_) result += mantissa_ > 0 ? 1 : -1;
  }
  return static_cast<int64_t>(std::clamp(result, kMin, kMax));
}

}  // namespace governor::kube
