// The validation stage's device kernels through LibTorch (see accel.h for the contract). The
// header is torch-free; torch_accel.cpp includes LibTorch and is built into
// rareforge_validation_torch, which the LibTorch extension links.
#pragma once

#include <string>

#include "validation/accel.h"

namespace rareforge::validation {

/// mmd_sums (mmd.h) on a LibTorch device ("cpu", "cuda", "cuda:N"): tiles of rows, distances
/// from |a|^2 + |b|^2 - 2 a.b (one double matrix product per tile), one exponential per pair and
/// its powers for the five bandwidths, tile sums added on the host in a fixed order.
void mmd_sums_torch(const MatrixRM& X, const MatrixRM& Y, double s, const std::string& device,
                    double out[6]);

/// dcr_nearest (dcr.h) on a LibTorch device: per tile of queries x reference rows, the per-column
/// terms min(|q_j - r_j|, 1) added column by column in order (the CPU's operations, so the sums
/// are bit for bit the CPU's), the tile's smallest sum and its first row, merged across tiles in
/// row order (ties to the smaller row).
DcrNearest dcr_nearest_torch(const MatrixRM& reference, const MatrixRM& queries,
                             const std::string& device);

/// Throws InputError unless LibTorch can run on `device` (a CUDA device must be present).
void check_torch_device(const std::string& device);

/// The three functions above as an Accelerator (the extension registers it).
Accelerator torch_accelerator();

}  // namespace rareforge::validation
