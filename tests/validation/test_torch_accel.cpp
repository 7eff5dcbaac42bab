// The validation stage's LibTorch device kernels (validation/torch_accel.h) against the CPU
// kernels: on LibTorch's CPU device here, on CUDA where a GPU is visible (*_CUDA).
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "validation/accel.h"
#include "validation/dcr.h"
#include "validation/mmd.h"
#include "validation/torch_accel.h"

namespace rareforge::validation {
namespace {

MatrixRM gauss(size_t n, size_t d, double shift, Rng& rng) {
  MatrixRM m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) m(i, j) = rng.normal() + shift;
  return m;
}

/// Encoded DCR data with ties (a rounded column), capped terms and missing values (1e300).
MatrixRM dcr_data(size_t n, Rng& rng) {
  MatrixRM m(static_cast<Eigen::Index>(n), 4);
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    m(i, 0) = std::round(rng.uniform(0, 1) * 4) / 4;
    m(i, 1) = rng.normal() * 2;
    m(i, 2) = double(rng.uniform_int(3));
    m(i, 3) = rng.uniform() < 0.2 ? 1e300 : rng.uniform(0, 1);
  }
  return m;
}

void expect_mmd_parity(const std::string& device) {
  Rng rng(5);
  // Sizes not multiples of the 4,096-row tile on one side, several tiles on the other.
  const MatrixRM X = gauss(4100, 6, 0.0, rng), Y = gauss(333, 6, 0.3, rng);
  double cpu[6], dev[6];
  mmd_sums(X, Y, 1.7, 256, 2, cpu);
  mmd_sums_torch(X, Y, 1.7, device, dev);
  for (int k = 0; k < 6; ++k) EXPECT_NEAR(dev[k], cpu[k], 1e-9 * std::fabs(cpu[k])) << "sum " << k;
  // And the unbiased MMD^2 built from them, where the cancellation is.
  const double a = mmd2_from_sums(cpu, 4100, 333, 0), b = mmd2_from_sums(dev, 4100, 333, 0);
  EXPECT_NEAR(b, a, 1e-9 * std::fabs(a));
}

void expect_dcr_identical(const std::string& device) {
  Rng rng(9);
  for (const auto& [nr, nq] : {std::pair<size_t, size_t>{17000, 300}, {5, 700}, {1, 3}}) {
    const MatrixRM R = dcr_data(nr, rng), Q = dcr_data(nq, rng);
    const DcrNearest cpu = dcr_nearest(R, Q, 2);
    const DcrNearest dev = dcr_nearest_torch(R, Q, device);
    ASSERT_EQ(dev.distance.size(), nq);
    for (size_t i = 0; i < nq; ++i) {
      EXPECT_EQ(dev.distance[i], cpu.distance[i]) << "query " << i << " of " << nq;
      EXPECT_EQ(dev.index[i], cpu.index[i]) << "query " << i << " of " << nq;
    }
  }
}

TEST(TorchAccel, MmdSumsMatchTheCpuKernelsOnTheTorchCpuDevice) { expect_mmd_parity("cpu"); }

TEST(TorchAccel, DcrIsBitForBitTheCpuKernelsOnTheTorchCpuDevice) { expect_dcr_identical("cpu"); }

TEST(TorchAccel, RegisteredAcceleratorRoutesMmdAndDcr) {
  set_accelerator(torch_accelerator());
  Rng rng(3);
  const MatrixRM X = gauss(50, 3, 0.0, rng), Y = gauss(40, 3, 0.5, rng);
  MmdOptions cpu_opt, dev_opt;
  cpu_opt.permutations = dev_opt.permutations = 20;
  dev_opt.device = "cuda";
  if (torch::cuda::is_available()) {
    Rng r1(1), r2(1);
    const MmdResult a = mmd(X, Y, cpu_opt, r1), b = mmd(X, Y, dev_opt, r2);
    EXPECT_NEAR(b.mmd2, a.mmd2, 1e-9 * std::fabs(a.mmd2));
    EXPECT_EQ(b.p_value, a.p_value);  // the permutation test stays on the CPU
  } else {
    Rng r(1);
    try {
      mmd(X, Y, dev_opt, r);
      ADD_FAILURE() << "cuda without a GPU must fail";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("no CUDA GPU"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(check_device("tpu"), InputError);
  EXPECT_NO_THROW(check_device("cpu"));
}

TEST(TorchAccel, MmdAndDcrOnCuda_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU visible to LibTorch";
  expect_mmd_parity("cuda");
  expect_dcr_identical("cuda");
}

}  // namespace
}  // namespace rareforge::validation
