#include <gtest/gtest.h>

#include "core/error.h"
#include "core/params.h"

namespace rareforge {
namespace {

std::vector<ParamDef> defs() {
  return {
      {"k", ParamType::kInt, "5", 1, 1000, {}, "neighbours"},
      {"kind", ParamType::kString, "1", 0, 0, {"1", "2"}, "variant"},
      {"scale", ParamType::kDouble, "0.1", 0, 10, {}, "noise scale"},
      {"fast", ParamType::kBool, "false", 0, 0, {}, ""},
  };
}

TEST(MethodSpec, ParsesNameAndParams) {
  const auto s = parse_method_spec(" borderline-smote:kind=2, k = 7 ");
  EXPECT_EQ(s.name, "borderline-smote");
  ASSERT_EQ(s.params.size(), 2u);
  EXPECT_EQ(s.params[0], (std::pair<std::string, std::string>{"kind", "2"}));
  EXPECT_EQ(s.params[1], (std::pair<std::string, std::string>{"k", "7"}));
  EXPECT_TRUE(parse_method_spec("smote").params.empty());
  EXPECT_TRUE(parse_method_spec("smote:").params.empty());
}

TEST(MethodSpec, RejectsMalformedSpecs) {
  for (const char* bad : {"", ":k=5", "smote:k", "smote:=5", "smote:k=5,,m=3", "smote:k=5,k=6"})
    EXPECT_THROW(parse_method_spec(bad), InputError) << bad;
}

TEST(CheckParams, FillsDefaultsAndConverts) {
  const auto v = check_params(parse_method_spec("x:k=7,fast=true"), defs());
  EXPECT_EQ(v.get_int("k"), 7);
  EXPECT_EQ(v.get_string("kind"), "1");
  EXPECT_DOUBLE_EQ(v.get_double("scale"), 0.1);
  EXPECT_TRUE(v.get_bool("fast"));
  EXPECT_TRUE(v.given("k"));
  EXPECT_FALSE(v.given("scale"));
  EXPECT_EQ(v.canonical("x"), "x:k=7,kind=1,scale=0.1,fast=true");
}

TEST(CheckParams, NamesTheProblem) {
  auto message = [](const std::string& spec) {
    try {
      check_params(parse_method_spec(spec), defs());
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("x:q=1").find("valid parameters: k, kind, scale, fast"), std::string::npos);
  EXPECT_NE(message("x:k=0").find("in [1, 1000]"), std::string::npos) << message("x:k=0");
  EXPECT_NE(message("x:k=2.5").find("not an integer"), std::string::npos);
  EXPECT_NE(message("x:kind=3").find("1|2"), std::string::npos);
  EXPECT_NE(message("x:scale=nan").find("not a finite number"), std::string::npos);
  EXPECT_NE(message("x:fast=maybe").find("boolean"), std::string::npos);
}

}  // namespace
}  // namespace rareforge
