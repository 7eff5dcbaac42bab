// Table and Schema: the in-memory data model every stage shares.
//
// A Table is a list of named columns in file order. Each column is
//   * numeric:     double per row, NaN = missing;
//   * categorical: int32 code per row into the column's `categories` list, -1 = missing.
// One column may be the target; its categories are the class names and its codes the class
// labels (a numeric target column is turned into a categorical one by set_target, so classes
// are always codes 0..n_classes-1 in category order).
//
// Rows carry provenance (Provenance below): whether a method made the row, which method, and
// for interpolations the parent rows and the gap. Original rows have synthetic = 0.
//
// Category lists belong to the schema, not to the rows: select() keeps every category even if
// no selected row uses it, so splits of one table one-hot encode to the same layout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace rareforge {

/// Row-major dense matrix: element j of row i is m(i, j) = data[i * cols + j].
using MatrixRM = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class ColumnKind : uint8_t { kNumeric = 0, kCategorical = 1 };

const char* to_string(ColumnKind kind);

/// Type of one column without its values.
struct ColumnSpec {
  std::string name;
  ColumnKind kind = ColumnKind::kNumeric;
  std::vector<std::string> categories;  ///< categorical only: code c means categories[c]
};

/// Column names, kinds, category lists and the target: what a fitted model must match.
struct Schema {
  std::vector<ColumnSpec> columns;
  std::string target;  ///< name of the target column, empty if none

  /// Index of the column `name`, or -1.
  int index_of(const std::string& name) const;
  /// Index of the target column, or -1.
  int target_index() const { return target.empty() ? -1 : index_of(target); }
  bool operator==(const Schema& o) const;
  bool operator!=(const Schema& o) const { return !(*this == o); }
};

struct Column {
  ColumnSpec spec;
  std::vector<double> num;     ///< numeric values (size n_rows) when kind is numeric
  std::vector<int32_t> codes;  ///< category codes (size n_rows) when kind is categorical

  const std::string& name() const { return spec.name; }
  ColumnKind kind() const { return spec.kind; }
  bool is_numeric() const { return spec.kind == ColumnKind::kNumeric; }
  bool is_categorical() const { return spec.kind == ColumnKind::kCategorical; }
  const std::vector<std::string>& categories() const { return spec.categories; }
  size_t size() const { return is_numeric() ? num.size() : codes.size(); }
  /// True if row i is missing (NaN or code -1).
  bool is_missing(size_t i) const;
  /// Cell i as text: shortest exact number, category name, or "" when missing.
  std::string cell_text(size_t i) const;

  static Column numeric(std::string name, std::vector<double> values);
  static Column categorical(std::string name, std::vector<std::string> categories,
                            std::vector<int32_t> codes);
};

/// Where each row came from. All vectors have n_rows entries (or are all empty, meaning every
/// row is original).
struct Provenance {
  std::vector<uint8_t> synthetic;    ///< 1 = made by a method
  std::vector<int32_t> method;       ///< index into `methods`, -1 for original rows
  std::vector<std::string> methods;  ///< method specs used, e.g. "smote:k=5"
  std::vector<int64_t> parent;       ///< seed row (row index in the method's input), -1 none
  std::vector<int64_t> neighbor;     ///< second parent (interpolation partner), -1 none
  std::vector<double> gap;           ///< interpolation weight toward `neighbor`, NaN none

  bool empty() const { return synthetic.empty(); }
};

/// Provenance of n original rows.
Provenance original_provenance(size_t n);

class Table {
 public:
  Table() = default;

  size_t n_rows() const;
  size_t n_cols() const { return columns_.size(); }

  const std::vector<Column>& columns() const { return columns_; }
  const Column& column(size_t j) const { return columns_.at(j); }
  Column& column(size_t j) { return columns_.at(j); }
  /// Column by name; throws InputError naming the column and listing the valid ones.
  const Column& column(const std::string& name) const;
  /// Index of the column `name`, or -1.
  int index_of(const std::string& name) const;

  /// Append a column; its size must equal n_rows() (unless this is the first column) and its
  /// name must be new.
  void add_column(Column c);
  /// Replace column j (same size required).
  void set_column(size_t j, Column c);
  /// Remove column j (the target cannot be removed).
  void remove_column(size_t j);

  // --- target / classes -------------------------------------------------------------------
  /// Make `name` the target. A numeric target is converted to categorical, with classes being
  /// the distinct values in numeric order and named by their shortest text. Throws InputError
  /// if the column does not exist or has missing values.
  void set_target(const std::string& name);
  const std::string& target() const { return target_; }
  bool has_target() const { return !target_.empty(); }
  int target_index() const { return target_.empty() ? -1 : index_of(target_); }
  /// Class labels (target codes), size n_rows. Requires a target.
  const std::vector<int32_t>& labels() const;
  /// Class names (target categories). Requires a target.
  const std::vector<std::string>& class_names() const;
  size_t n_classes() const { return class_names().size(); }
  /// Rows per class, indexed by label.
  std::vector<int64_t> class_counts() const;
  /// Indices of feature columns (every column but the target), in order.
  std::vector<size_t> feature_indices() const;

  Schema schema() const;

  // --- provenance --------------------------------------------------------------------------
  const Provenance& provenance() const { return prov_; }
  Provenance& provenance() { return prov_; }
  /// Make provenance explicit (every row original) if it is empty.
  void ensure_provenance();
  /// Number of rows marked synthetic.
  size_t n_synthetic() const;

  // --- row operations ----------------------------------------------------------------------
  /// Rows in the given order (indices may repeat). Category lists are kept whole.
  Table select(const std::vector<size_t>& rows) const;
  /// Rows of `a` followed by rows of `b`. Columns must match by name, order and kind; b's
  /// category codes are remapped into a's lists (new categories appended). Provenance is
  /// concatenated (method names merged).
  static Table concat(const Table& a, const Table& b);
  /// An empty table with the same schema.
  Table empty_like() const;

  // --- dense conversion --------------------------------------------------------------------
  enum class Encoding { kOneHot, kOrdinal };
  struct DenseOptions {
    Encoding encoding = Encoding::kOneHot;
    bool include_target = false;
    /// One-hot: a missing category gives an all-zero block. Ordinal: the code (-1 -> NaN).
  };
  /// Feature matrix (row-major). Numeric columns as they are (NaN stays NaN); categorical
  /// columns one-hot (one column per category, named "col=cat") or as the code.
  MatrixRM to_dense(const DenseOptions& opt, std::vector<std::string>* names = nullptr) const;
  MatrixRM to_dense() const { return to_dense(DenseOptions{}); }

 private:
  std::vector<Column> columns_;
  std::string target_;
  Provenance prov_;
};

/// Shortest text that parses back to exactly `v`: fixed notation when the decimal exponent is in
/// [-5, 16) ("100000", "0.00001"), scientific otherwise ("1e+16", "1e-06"); "nan", "inf", "-inf".
std::string format_double(double v);

}  // namespace rareforge
