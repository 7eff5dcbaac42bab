#include "validation/torch_accel.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "core/context.h"
#include "core/error.h"
#include "generators/device.h"

namespace rareforge::validation {
namespace {

// The device checks are the generators' (generators/device.h): one message for a missing GPU.
torch::Device parse_torch_device(const std::string& device) {
  const Device requested = Device::parse(device);
  RF_CHECK_INPUT(requested.kind != Device::Kind::kAuto,
                 "--device auto must be resolved before use");
  const Device d = generators::resolve_device(requested);
  return d.is_cuda() ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d.index))
                     : torch::Device(torch::kCPU);
}

torch::Tensor to_device(const MatrixRM& m, const torch::Device& dev) {
  return torch::from_blob(const_cast<double*>(m.data()), {m.rows(), m.cols()}, torch::kFloat64)
      .to(dev)
      .contiguous();
}

}  // namespace

void check_torch_device(const std::string& device) { (void)parse_torch_device(device); }

void mmd_sums_torch(const MatrixRM& X, const MatrixRM& Y, double s, const std::string& device,
                    double out[6]) {
  RF_CHECK_INPUT(X.cols() == Y.cols() && X.cols() >= 1, "mmd: {} and {} features", X.cols(),
                 Y.cols());
  const torch::Device dev = parse_torch_device(device);
  torch::NoGradGuard no_grad;
  const torch::Tensor tx = to_device(X, dev), ty = to_device(Y, dev);
  const torch::Tensor nx = (tx * tx).sum(1), ny = (ty * ty).sum(1);
  const double inv8s2 = 1.0 / (8.0 * s * s);
  constexpr int64_t kTile = 4096;
  for (int k = 0; k < 6; ++k) out[k] = 0;
  // Sum over the tile pair [a0, a1) x [b0, b1); `diagonal`: the same rows on both sides, whose
  // diagonal (a row with itself) does not count. f weighs the sums (2 for an off-diagonal tile
  // pair of X with X: each unordered pair is visited once and counts twice in sum_{i != j}).
  auto tile = [&](const torch::Tensor& A, const torch::Tensor& nA, int64_t a0, int64_t a1,
                  const torch::Tensor& B, const torch::Tensor& nB, int64_t b0, int64_t b1,
                  bool diagonal, int slot, double f) {
    const torch::Tensor a = A.slice(0, a0, a1), b = B.slice(0, b0, b1);
    const torch::Tensor d2 =
        (nA.slice(0, a0, a1).unsqueeze(1) + nB.slice(0, b0, b1).unsqueeze(0) - 2.0 * a.mm(b.t()))
            .clamp_min(0.0);
    torch::Tensor u = (d2 * -inv8s2).exp();
    if (diagonal) u.fill_diagonal_(0.0);
    const torch::Tensor u2 = u * u, u4 = u2 * u2, u8 = u4 * u4, u16 = u8 * u8;
    out[slot] += f * u4.sum().item<double>();
    out[3 + slot] += f * ((u + u2 + u4 + u8 + u16).sum().item<double>() / 5.0);
  };
  auto self_sums = [&](const torch::Tensor& A, const torch::Tensor& nA, int slot) {
    const int64_t n = A.size(0);
    for (int64_t a0 = 0; a0 < n; a0 += kTile)
      for (int64_t b0 = a0; b0 < n; b0 += kTile)
        tile(A, nA, a0, std::min(n, a0 + kTile), A, nA, b0, std::min(n, b0 + kTile), a0 == b0, slot,
             a0 == b0 ? 1.0 : 2.0);
  };
  self_sums(tx, nx, 0);
  self_sums(ty, ny, 1);
  for (int64_t a0 = 0; a0 < tx.size(0); a0 += kTile)
    for (int64_t b0 = 0; b0 < ty.size(0); b0 += kTile)
      tile(tx, nx, a0, std::min<int64_t>(tx.size(0), a0 + kTile), ty, ny, b0,
           std::min<int64_t>(ty.size(0), b0 + kTile), false, 2, 1.0);
}

DcrNearest dcr_nearest_torch(const MatrixRM& reference, const MatrixRM& queries,
                             const std::string& device) {
  RF_CHECK_INPUT(reference.rows() >= 1, "dcr: the reference table has no rows");
  RF_CHECK_INPUT(reference.cols() == queries.cols(), "dcr: {} and {} columns differ",
                 reference.cols(), queries.cols());
  const int64_t n_ref = reference.rows(), nq = queries.rows(), d = reference.cols();
  DcrNearest out;
  out.distance.assign(size_t(nq), 0.0);
  out.index.assign(size_t(nq), -1);
  if (nq == 0) return out;
  if (d == 0) {
    std::fill(out.index.begin(), out.index.end(), 0);
    return out;
  }
  const torch::Device dev = parse_torch_device(device);
  torch::NoGradGuard no_grad;
  const torch::Tensor tr = to_device(reference, dev), tq = to_device(queries, dev);
  // Tiles of kQ x kR pairs: a few double matrices of 4M entries (32 MB each).
  constexpr int64_t kQ = 256, kR = 16384;
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(dev);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  std::vector<torch::Tensor> best_parts, idx_parts;
  for (int64_t q0 = 0; q0 < nq; q0 += kQ) {
    const int64_t q1 = std::min(nq, q0 + kQ);
    const torch::Tensor q = tq.slice(0, q0, q1);
    torch::Tensor best = torch::full({q1 - q0}, std::numeric_limits<double>::infinity(), f64);
    torch::Tensor bidx = torch::full({q1 - q0}, -1, i64);
    for (int64_t r0 = 0; r0 < n_ref; r0 += kR) {
      const int64_t r1 = std::min(n_ref, r0 + kR);
      const torch::Tensor r = tr.slice(0, r0, r1);
      torch::Tensor acc = torch::zeros({q1 - q0, r1 - r0}, f64);
      for (int64_t j = 0; j < d; ++j)  // column order, as the CPU adds them
        acc.add_(
            (q.select(1, j).unsqueeze(1) - r.select(1, j).unsqueeze(0)).abs_().clamp_max_(1.0));
      const torch::Tensor m = std::get<0>(acc.min(1));
      // The first row at the minimum (min's own index is not specified on ties).
      const torch::Tensor rows = torch::arange(r0, r1, i64).unsqueeze(0).expand_as(acc);
      const torch::Tensor first =
          std::get<0>(torch::where(acc == m.unsqueeze(1), rows, torch::full_like(rows, r1)).min(1));
      const torch::Tensor better = m < best;  // strict: an earlier tile keeps its ties
      best = torch::where(better, m, best);
      bidx = torch::where(better, first, bidx);
    }
    best_parts.push_back(best);
    idx_parts.push_back(bidx);
  }
  const torch::Tensor best = torch::cat(best_parts).to(torch::kCPU).contiguous();
  const torch::Tensor bidx = torch::cat(idx_parts).to(torch::kCPU).contiguous();
  const double* bp = best.data_ptr<double>();
  const int64_t* ip = bidx.data_ptr<int64_t>();
  for (int64_t i = 0; i < nq; ++i) {
    out.distance[size_t(i)] = bp[i] / double(d);
    out.index[size_t(i)] = ip[i];
  }
  return out;
}

Accelerator torch_accelerator() {
  Accelerator a;
  a.mmd_sums = [](const MatrixRM& X, const MatrixRM& Y, double s, const std::string& device,
                  double out[6]) { mmd_sums_torch(X, Y, s, device, out); };
  a.dcr_nearest = [](const MatrixRM& r, const MatrixRM& q, const std::string& device) {
    return dcr_nearest_torch(r, q, device);
  };
  a.check_device = [](const std::string& device) { check_torch_device(device); };
  return a;
}

}  // namespace rareforge::validation
