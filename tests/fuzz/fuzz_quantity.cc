// parseQuantity on arbitrary text must not crash; what it accepts must print canonically as
// text it accepts again, with the same value, and printing must settle (see below).
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "kube/quantity.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using governor::kube::parseQuantity;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(governor::fuzz::input(data, size));
  auto quantity = parseQuantity(text);
  if (!quantity) {
    (void)quantity.error().what();
    return 0;
  }
  // The accessors must not trip UBSan (shifts, overflow) on any accepted value.
  (void)quantity->asDouble();
  (void)quantity->milliValue();
  (void)quantity->value();
  FUZZ_CHECK(quantity->compare(*quantity) == 0, "input \"%s\"", text.c_str());

  const std::string canonical = quantity->canonical();
  auto back = parseQuantity(canonical);
  FUZZ_CHECK(back.ok(), "input \"%s\" canonical \"%s\" does not parse: %s", text.c_str(), canonical.c_str(),
             back.ok() ? "" : back.error().what().c_str());
  FUZZ_CHECK(*back == *quantity, "input \"%s\" canonical \"%s\" reads back as \"%s\"", text.c_str(), canonical.c_str(),
             back->canonical().c_str());
  FUZZ_CHECK(back->milliValue() == quantity->milliValue(), "input \"%s\" canonical \"%s\"", text.c_str(),
             canonical.c_str());
  // Printing is a fixed point from the second round on. Not from the first: a BinarySI whole
  // number that is no multiple of 1024 prints without suffix ("62.5Ki" is "64000"), which
  // reads back as DecimalSI and then prints as "64k" -- exactly what Kubernetes does too.
  const std::string second = back->canonical();
  auto third = parseQuantity(second);
  FUZZ_CHECK(third.ok() && third->canonical() == second, "input \"%s\" canonical \"%s\", then \"%s\", then \"%s\"",
             text.c_str(), canonical.c_str(), second.c_str(), third.ok() ? third->canonical().c_str() : "error");
  return 0;
}
