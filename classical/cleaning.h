// The cleaning rules behind the cleaners and the combined methods (classical/cleaners.cpp):
// Wilson's edited nearest neighbours (ENN), its repeated form (RENN), AllKNN and Tomek links,
// as plain functions on a feature matrix and class labels so the combined methods (SMOTE-ENN,
// SMOTE-Tomek) can run them on the over-sampled rows without building a Table first.
//
// Semantics are imbalanced-learn 0.10's (imblearn/under_sampling/_prototype_selection/), with
// one deliberate difference in how a row's own position is skipped:
//   * Neighbours come from the exact engine classical/knn.h over the WHOLE matrix, with the
//     query's own row excluded by index, sorted by (squared distance, row index).
//     imbalanced-learn asks scikit-learn for k+1 neighbours and drops the first column, assuming
//     it is the row itself. With exact duplicates the first column may be a duplicate instead,
//     so its remaining k neighbours include the row itself (same class) and miss the duplicate.
//     The two agree except when a row has an exact duplicate of another class (or equidistant
//     neighbours that scikit-learn orders differently); docs/METHODS.md says so.
//   * A row is "edited out" only if its class is selected for cleaning (`clean[label]`).
//   * ENN kind all: removed if ANY of its k neighbours has another class.
//     ENN kind mode: removed if the most frequent class among its k neighbours is not its own,
//     ties going to the smallest label (scipy.stats.mode, which imbalanced-learn uses).
//   * Tomek link: rows a and b of different classes that are each other's nearest neighbour.
//     A row in a link is removed if its class is selected (imbalanced-learn's is_tomek).
//
// Layout: x is row-major, component j of row i is x.data[i * x.cols + j]; y[i] is the class
// label (0..n_classes-1) of row i. Results refer to rows of x by index.
//
// k larger than the rows available (n - 1) is lowered to n - 1 with a warning (imbalanced-learn
// fails instead).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "classical/knn.h"
#include "core/strategy.h"
#include "core/table.h"

namespace rareforge::classical {

enum class EnnKind { kAll, kMode };

/// Parse "all" | "mode" (the registry checks the choices first).
EnnKind parse_enn_kind(const std::string& text);

/// The matrix the cleaners measure distances on: numeric feature columns as they are (NaN is an
/// InputError naming the column and suggesting imputation) and categorical feature columns one
/// hot (0/1 per category; a missing category is an InputError too), in column order. `method`
/// names the caller in messages. Says once that categorical columns were one-hot encoded.
MatrixRM cleaning_features(const Table& t, const std::string& method);

/// ENN: keep[i] = 0 if row i belongs to a class with clean[label] != 0 and its k nearest other
/// rows disagree with it (see the header comment for `kind`). `clean` has n_classes entries.
/// `method` names the caller in the warning when k is lowered.
std::vector<uint8_t> enn_keep(knn::View x, const std::vector<int32_t>& y, size_t n_classes,
                              const std::vector<uint8_t>& clean, size_t k, EnnKind kind,
                              int threads, const std::string& method = "enn");

/// Tomek links: keep[i] = 0 if row i is in a Tomek link and clean[y[i]] != 0. Only the nearest
/// neighbours of rows in cleaned classes (and of their other-class partners) are searched.
std::vector<uint8_t> tomek_keep(knn::View x, const std::vector<int32_t>& y,
                                const std::vector<uint8_t>& clean, int threads);

/// Rows kept by an iterative cleaner (indices into x, ascending) and the ENN passes it ran.
struct IterativeClean {
  std::vector<size_t> kept;
  int iterations = 0;
};

/// Repeated ENN (imbalanced-learn's RepeatedEditedNearestNeighbours): ENN with `strategy`
/// (re-planned on the current class counts before every pass, as imbalanced-learn re-checks its
/// sampling strategy) is applied to the rows left by the previous pass, at most max_iter times.
/// It stops after the pass in which (1) nothing was removed, (2) a class other than the original
/// minority fell below the original minority's count, or (3) a class lost all its rows. The
/// original minority is the smallest class, ties to the class that appears first in y (Python's
/// min over a Counter).
IterativeClean renn_select(knn::View x, const std::vector<int32_t>& y,
                           const std::vector<std::string>& class_names,
                           const SamplingStrategy& strategy, size_t k, EnnKind kind, int max_iter,
                           int threads);

/// AllKNN (imbalanced-learn's AllKNN): ENN with k' = 1, 2, ..., k in turn, each on the rows left
/// by the previous one, strategy re-planned before every pass. Stops after the pass in which a
/// class lost all its rows or (unless allow_minority) a class other than the original minority
/// fell below the original minority's count.
IterativeClean allknn_select(knn::View x, const std::vector<int32_t>& y,
                             const std::vector<std::string>& class_names,
                             const SamplingStrategy& strategy, size_t k, EnnKind kind,
                             bool allow_minority, int threads);

}  // namespace rareforge::classical
