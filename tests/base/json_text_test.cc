#include "base/json_text.h"

#include <catch2/catch.hpp>

namespace cachewarden {
namespace {

TEST_CASE("bounding a JSON's arrays keeps each list's head and counts what went, at any depth",
          "[json]") {
  nlohmann::json j = {{"small", {1, 2}},
                      {"big", {5, 4, 3, 2, 1}},
                      {"nested", {{"runs", {{{"plan", {1, 2, 3, 4}}}, {{"plan", {1}}}}}}},
                      {"n", 7}};
  BoundArrays(j, 3);
  CHECK(j["small"] == nlohmann::json({1, 2}));
  CHECK_FALSE(j.contains("small_omitted"));
  CHECK(j["big"] == nlohmann::json({5, 4, 3}));
  CHECK(j["big_omitted"] == 2);
  CHECK(j["nested"]["runs"][0]["plan"] == nlohmann::json({1, 2, 3}));
  CHECK(j["nested"]["runs"][0]["plan_omitted"] == 1);
  CHECK(j["nested"]["runs"][1]["plan"] == nlohmann::json({1}));
  CHECK(j["n"] == 7);
}

}  // namespace
}  // namespace cachewarden
