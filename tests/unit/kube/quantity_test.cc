// Table tests for parseQuantity and Quantity, with cases taken from apimachinery's
// quantity_test.go where upstream has them.
#include "kube/quantity.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace governor::kube {
namespace {

using Format = Quantity::Format;

Quantity parsed(const std::string& text) {
  Result<Quantity> quantity = parseQuantity(text);
  EXPECT_TRUE(quantity.ok()) << text << ": " << (quantity ? "" : quantity.error().what());
  return quantity ? *quantity : Quantity();
}

TEST(QuantityTest, ParsesEverySuffixToItsCanonicalForm) {
  struct Case {
    std::string input;
    std::string canonical;
    Format format;
  };
  const Case cases[] = {
      {"0", "0", Format::DecimalSI},
      {"0m", "0", Format::DecimalSI},
      {"0Ki", "0", Format::BinarySI},
      {"0e3", "0", Format::DecimalExponent},
      {"1", "1", Format::DecimalSI},
      // Decimal SI.
      {"5n", "5n", Format::DecimalSI},
      {"4u", "4u", Format::DecimalSI},
      {"3m", "3m", Format::DecimalSI},
      {"9", "9", Format::DecimalSI},
      {"8k", "8k", Format::DecimalSI},
      {"50k", "50k", Format::DecimalSI},
      {"7M", "7M", Format::DecimalSI},
      {"6G", "6G", Format::DecimalSI},
      {"5T", "5T", Format::DecimalSI},
      {"2P", "2P", Format::DecimalSI},
      {"1E", "1E", Format::DecimalSI},
      {"12E", "12E", Format::DecimalSI},
      {"1000E", "1e21", Format::DecimalSI},  // past E the exponent keeps the magnitude
      {"1000m", "1", Format::DecimalSI},
      {"1500m", "1500m", Format::DecimalSI},
      {"0.5", "500m", Format::DecimalSI},
      {"1.5", "1500m", Format::DecimalSI},
      {"1000", "1k", Format::DecimalSI},
      {"1000M", "1G", Format::DecimalSI},
      {"100M", "100M", Format::DecimalSI},
      {"100.035k", "100035", Format::DecimalSI},
      {"10.035M", "10035k", Format::DecimalSI},
      {"1.01E", "1010P", Format::DecimalSI},
      {"9.01", "9010m", Format::DecimalSI},
      {"0.0005k", "500m", Format::DecimalSI},
      {"-1000m", "-1", Format::DecimalSI},
      {"+1k", "1k", Format::DecimalSI},
      // Binary SI.
      {"1Ki", "1Ki", Format::BinarySI},
      {"8Ki", "8Ki", Format::BinarySI},
      {"7Mi", "7Mi", Format::BinarySI},
      {"6Gi", "6Gi", Format::BinarySI},
      {"5Ti", "5Ti", Format::BinarySI},
      {"4Pi", "4Pi", Format::BinarySI},
      {"3Ei", "3Ei", Format::BinarySI},
      {"1024Mi", "1Gi", Format::BinarySI},
      {"1025Ki", "1025Ki", Format::BinarySI},
      {"1.5Gi", "1536Mi", Format::BinarySI},
      {"-1.5Gi", "-1536Mi", Format::BinarySI},
      {"0.5Mi", "512Ki", Format::BinarySI},
      {"1.5Ki", "1536", Format::BinarySI},            // not a multiple of 1Ki: plain units
      {"100.035Ki", "102435840m", Format::BinarySI},  // a fraction: DecimalSI digits
      {".001Ki", "1024m", Format::BinarySI},
      {".000001Ki", "1024u", Format::DecimalSI},         // below one, binary turns decimal
      {"8Ei", "9223372036854775807", Format::BinarySI},  // capped at 2^63-1
      {"-9223372036854775807Ki", "-9223372036854775807", Format::BinarySI},
      // Decimal exponent.
      {"1e3", "1e3", Format::DecimalExponent},
      {"1E6", "1e6", Format::DecimalExponent},
      {"1e-3", "1e-3", Format::DecimalExponent},
      {"1E-3", "1e-3", Format::DecimalExponent},
      {"12e6", "12e6", Format::DecimalExponent},
      {"10e2", "1e3", Format::DecimalExponent},
      {"1.5E-3", "1500e-6", Format::DecimalExponent},
      {"1.3E+6", "1300e3", Format::DecimalExponent},
      {"1.2e3", "1200", Format::DecimalExponent},
      {"0.5e0", "500e-3", Format::DecimalExponent},
      {"1e2147483647", "10e2147483646", Format::DecimalExponent},
      {"0.1e2147483647", "1e2147483646", Format::DecimalExponent},
      {"10e2147483646", "10e2147483646", Format::DecimalExponent},
      // Finer than nano rounds away from zero.
      {"0.1n", "1n", Format::DecimalSI},
      {"0.9n", "1n", Format::DecimalSI},
      {"3.001n", "4n", Format::DecimalSI},
      {"-0.1n", "-1n", Format::DecimalSI},
      {"0.0000000001", "1n", Format::DecimalSI},
      {"0.00000012345", "124n", Format::DecimalSI},
      {"0.0000000019999", "2n", Format::DecimalSI},
      {"1.1E-9", "2e-9", Format::DecimalExponent},
      {"1e-2147483648", "1e-9", Format::DecimalExponent},
      {".000000000001Ki", "2n", Format::DecimalSI},
      // Odd but upstream-valid spellings.
      {".001", "1m", Format::DecimalSI},
      {"1.", "1", Format::DecimalSI},
      {"1.G", "1G", Format::DecimalSI},
      {"007", "7", Format::DecimalSI},
      {"1.000000000000000000000000000000000000000000", "1", Format::DecimalSI},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    Result<Quantity> quantity = parseQuantity(c.input);
    ASSERT_TRUE(quantity.ok()) << quantity.error().what();
    EXPECT_EQ(quantity->canonical(), c.canonical);
    EXPECT_EQ(quantity->format(), c.format);
    // The canonical form reads back as the same value and prints the same.
    Quantity again = parsed(c.canonical);
    EXPECT_TRUE(again == *quantity) << again.canonical();
    EXPECT_EQ(again.canonical(), c.canonical);
  }
}

TEST(QuantityTest, RejectsMalformedInputNamingIt) {
  const std::string cases[] = {
      "", "1.2.3", "Ki", "k", ".", "-", "-.", "1 Gi", " 1", "1 ", "1KiB", "1K", "1ki", "--1", "+-1", "1e", "1e+",
      "1e+-3", "1e3.5", "1Ee3", "1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-",
      "1e2147483648",  // exponent beyond int32
      // Trailing zeros moved into the exponent take it beyond int32 (fuzzing: canonical()
      // printed 1e2147483649, which does not parse).
      "100e2147483647", "10e2147483647",
      "1000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
      "e2147483600",
      "20000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
      "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
      "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
      "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
      "E+2147483500",
      "100000000000000000000000000000000000001",    // 39 significant digits
      "1000000000000000000000000000000.000000001",  // 40 significant digits at nano
  };
  for (const std::string& input : cases) {
    SCOPED_TRACE(input);
    Result<Quantity> quantity = parseQuantity(input);
    ASSERT_FALSE(quantity.ok()) << quantity->canonical();
    EXPECT_EQ(quantity.error().status.code, 0);
    EXPECT_EQ(quantity.error().status.reason, "Invalid");
    EXPECT_NE(quantity.error().status.message.find("\"" + input + "\""), std::string::npos)
        << quantity.error().status.message;
    EXPECT_EQ(quantity.error().context, "");
  }
}

TEST(QuantityTest, ComparesValuesExactly) {
  struct Case {
    std::string a;
    std::string b;
    int expected;
  };
  const Case cases[] = {
      {"0", "0", 0},
      {"0", "0Ki", 0},
      {"1Gi", "1G", 1},
      {"1000m", "1", 0},
      {"1e3", "1k", 0},
      {"0.5", "500m", 0},
      {"1Ki", "1k", 1},
      {"100m", "50m", 1},
      {"10000T", "100Gi", 1},
      {"1n", "1u", -1},
      {"-1", "0", -1},
      {"-1Gi", "-1G", -1},
      {"-1", "1n", -1},
      {"1e30", "999999999999999999999999999999", 1},
      {"12345678901234567890123456789012345678", "1.2345678901234567890123456789012345679e37", -1},
      {"1e2147483647", "1e2147483646", 1},
      {"9Ei", "8Ei", 0},  // both capped
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.a + " vs " + c.b);
    Quantity a = parsed(c.a);
    Quantity b = parsed(c.b);
    EXPECT_EQ(a.compare(b), c.expected);
    EXPECT_EQ(b.compare(a), -c.expected);
    EXPECT_EQ(a == b, c.expected == 0);
    EXPECT_EQ(a < b, c.expected < 0);
  }
}

TEST(QuantityTest, ConvertsToDouble) {
  EXPECT_DOUBLE_EQ(parsed("1.5Gi").asDouble(), 1610612736.0);
  EXPECT_DOUBLE_EQ(parsed("250m").asDouble(), 0.25);
  EXPECT_DOUBLE_EQ(parsed("1e-3").asDouble(), 0.001);
  EXPECT_DOUBLE_EQ(parsed("-2k").asDouble(), -2000.0);
  EXPECT_DOUBLE_EQ(parsed("0").asDouble(), 0.0);
  EXPECT_EQ(parsed("1e400").asDouble(), std::numeric_limits<double>::infinity());
}

TEST(QuantityTest, RoundsIntegerViewsAwayFromZero) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  struct Case {
    std::string input;
    int64_t milli;
    int64_t units;
  };
  const Case cases[] = {
      {"0", 0, 0},
      {"1", 1000, 1},
      {"1000m", 1000, 1},
      {"500m", 500, 1},
      {"1.2", 1200, 2},
      {"-1.2", -1200, -2},
      {"9.01", 9010, 10},
      {"0.1n", 1, 1},
      {"1.0001m", 2, 1},
      {"-1.0001m", -2, -1},
      {"1Ki", 1024000, 1024},
      {"1Gi", 1073741824000, 1073741824},
      {"1e3", 1000000, 1000},
      {"9223372036854775807", kMax, kMax},  // milli saturates
      {"8Ei", kMax, kMax},
      {"1e100", kMax, kMax},
      {"-1e100", kMin, kMin},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    Quantity quantity = parsed(c.input);
    EXPECT_EQ(quantity.milliValue(), c.milli);
    EXPECT_EQ(quantity.value(), c.units);
  }
}

TEST(QuantityTest, DefaultIsZero) {
  Quantity zero;
  EXPECT_TRUE(zero.isZero());
  EXPECT_EQ(zero.canonical(), "0");
  EXPECT_EQ(zero.format(), Format::DecimalSI);
  EXPECT_EQ(zero, parsed("0"));
  EXPECT_FALSE(parsed("1n").isZero());
}

}  // namespace
}  // namespace governor::kube
