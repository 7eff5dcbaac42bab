#include <gtest/gtest.h>

#include "core/context.h"
#include "core/error.h"
#include "core/progress.h"

namespace rareforge {
namespace {

TEST(Device, ParsesTheFourForms) {
  EXPECT_EQ(Device::parse("cpu").kind, Device::Kind::kCpu);
  EXPECT_EQ(Device::parse("auto").kind, Device::Kind::kAuto);
  EXPECT_EQ(Device::parse("cuda").str(), "cuda:0");
  const Device d = Device::parse("cuda:3");
  EXPECT_TRUE(d.is_cuda());
  EXPECT_EQ(d.index, 3);
}

TEST(Device, RejectsBadText) {
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""})
    EXPECT_THROW(Device::parse(bad), InputError) << bad;
}

TEST(Context, ThreadsDefaultToHardware) {
  Context c;
  EXPECT_GE(c.n_threads(), 1);
  c.threads = 3;
  EXPECT_EQ(c.n_threads(), 3);
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(1.25), "1.2 s");
  EXPECT_EQ(Progress::format_duration(125), "2 min 05 s");
  EXPECT_EQ(Progress::format_duration(3725), "1 h 02 min");
}

}  // namespace
}  // namespace rareforge
