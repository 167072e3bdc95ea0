#include "base/host_port.h"

#include <catch2/catch.hpp>

namespace cachewarden {
namespace {

TEST_CASE("host:port: IPv4, [IPv6] and an empty host split, the port checked", "[host_port]") {
  std::string why;
  auto v4 = SplitHostPort("127.0.0.1:8372", 1, &why);
  REQUIRE(v4);
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 8372);
  CHECK_FALSE(v4->bracketed);

  auto v6 = SplitHostPort("[::1]:6060", 1, &why);
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 6060);
  CHECK(v6->bracketed);

  auto any = SplitHostPort(":9479", 0, &why);
  REQUIRE(any);
  CHECK(any->host.empty());
  CHECK(any->port == 9479);
  CHECK(SplitHostPort(":0", 0, &why));
}

TEST_CASE("host:port: what is not one names why", "[host_port]") {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : {Case{"localhost", "no port"}, Case{"::1:8372", "needs [brackets]"},
                        Case{"[::1]8372", "needs [brackets] and a port"},
                        Case{"[::1", "needs [brackets] and a port"}, Case{"h:99999", "1..65535"},
                        Case{"h:0", "1..65535"}, Case{"h:-1", "1..65535"}, Case{"h:+1", "1..65535"},
                        Case{"h:", "1..65535"}, Case{"h:80/x", "1..65535"}}) {
    INFO(c.text);
    std::string why;
    CHECK_FALSE(SplitHostPort(c.text, 1, &why));
    CHECK_THAT(why, Catch::Contains(c.why));
  }
}

}  // namespace
}  // namespace cachewarden
