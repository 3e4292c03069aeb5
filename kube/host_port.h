// "host:port" as users write addresses (kubeconfig servers, bind addresses, Redis queues):
// one parser, so that a bad port is an error value everywhere and never an exception.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace governor::kube {

struct HostPort {
  std::string host;  // a DNS name, or an IP address without its brackets
  int port = 0;
};

// "host:port", "[v6addr]:port", or "host" alone (then `defaultPort`); nullopt for an empty
// host, an unclosed bracket, or a port that is not a decimal number from 1 to 65535.
std::optional<HostPort> parseHostPort(std::string_view text, int defaultPort);

// Where a server listens: "host:port" or ":port" (every address, 0.0.0.0), the port from 0
// (any free port) to 65535 and required; nullopt otherwise.
std::optional<HostPort> parseBindAddress(std::string_view text);

// The host and port of an http:// or https:// URL ("https://h:6443/prefix" -> h, 6443; the
// scheme's port when none is written); nullopt when it has neither scheme nor a valid
// host:port.
std::optional<HostPort> urlHostPort(std::string_view url);

}  // namespace governor::kube
