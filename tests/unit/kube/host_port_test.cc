// parseHostPort and urlHostPort: every address users write, and never an exception.
#include "kube/host_port.h"

#include <gtest/gtest.h>

#include "kube/client.h"

namespace governor::kube {
namespace {

std::string shown(const std::optional<HostPort>& hp) { return hp ? hp->host + " " + std::to_string(hp->port) : "none"; }

TEST(ParseHostPort, Table) {
  const std::pair<const char*, const char*> cases[] = {
      {"redis.shop:6380", "redis.shop 6380"},
      {"redis.shop", "redis.shop 6379"},
      {"[fd00::1]:7000", "fd00::1 7000"},
      {"[fd00::1]", "fd00::1 6379"},
      {"10.0.0.1:1", "10.0.0.1 1"},
      {"h:65535", "h 65535"},
      {"h:65536", "none"},
      {"h:0", "none"},
      {"h:abc", "none"},
      {"h:80x", "none"},
      {"h:-1", "none"},
      {"h:", "none"},
      {":6379", "none"},
      {"", "none"},
      {"[]:1", "none"},
      {"[fd00::1", "none"},
      {"[fd00::1]x", "none"},
      {"h:99999999999999999999", "none"},
  };
  for (const auto& [text, want] : cases) EXPECT_EQ(shown(parseHostPort(text, 6379)), want) << text;
}

TEST(ParseBindAddress, APortIsRequiredAndZeroIsAnyFreePort) {
  EXPECT_EQ(shown(parseBindAddress(":8080")), "0.0.0.0 8080");
  EXPECT_EQ(shown(parseBindAddress("127.0.0.1:0")), "127.0.0.1 0");
  EXPECT_EQ(shown(parseBindAddress("[::1]:9")), "::1 9");
  for (const char* bad : {"nowhere", ":", ":http", "h:65536", "[::1]", "", "h:-1"}) {
    EXPECT_EQ(shown(parseBindAddress(bad)), "none") << bad;
  }
}

TEST(UrlHostPort, TheSchemesPortUnlessOneIsWritten) {
  EXPECT_EQ(shown(urlHostPort("https://api.example:6443")), "api.example 6443");
  EXPECT_EQ(shown(urlHostPort("https://api.example")), "api.example 443");
  EXPECT_EQ(shown(urlHostPort("http://10.0.0.1/prefix/x")), "10.0.0.1 80");
  EXPECT_EQ(shown(urlHostPort("https://[::1]:8443/p")), "::1 8443");
  EXPECT_EQ(shown(urlHostPort("https://h:abc")), "none");
  EXPECT_EQ(shown(urlHostPort("ftp://h:21")), "none");
  EXPECT_EQ(shown(urlHostPort("h:6443")), "none");
}

// A Config made by hand (not from a kubeconfig) with a bad port is an error value, not a crash.
TEST(ClientCreate, ABadServerPortIsAnError) {
  Config config;
  config.server = "https://h:abc";
  auto client = Client::create(config);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().status.message.find("port from 1 to 65535"), std::string::npos)
      << client.error().status.message;
}

}  // namespace
}  // namespace governor::kube
