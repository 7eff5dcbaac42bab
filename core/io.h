// Reading and writing tables: CSV and the rareforge HDF5 layout (docs/FORMAT.md).
//
// read_table / write_table pick the format from the extension (.csv; .h5 / .hdf5). Every writer
// is atomic: it writes to a temporary file beside the target and renames it into place only when
// complete, so a failure never leaves a half-written output (AtomicFile below).
#pragma once

#include <string>
#include <vector>

#include "core/table.h"

namespace rareforge {

struct CsvOptions {
  char delimiter = ',';
  /// Cells equal to one of these (after trimming surrounding spaces) are missing.
  std::vector<std::string> missing_tokens = {"", "NA", "NaN", "?", "null"};
  /// Columns forced categorical even if every value parses as a number.
  std::vector<std::string> categorical;
  /// Columns forced numeric: a value that does not parse is an error naming line and column.
  std::vector<std::string> numeric;
  /// Target column; empty = the last column. "-" = no target.
  std::string target;
  /// Parser threads; 0 = all hardware threads.
  int threads = 0;
  /// Room for rows added later, as a fraction of the rows read: each column's capacity is
  /// rows x (1 + headroom), so a sampler handed the table (resample_owned) appends its rows in
  /// place instead of copying every column. Address space only: the spare pages are not
  /// touched, so they add nothing to the resident set until rows are written there. read_table
  /// gives HDF5 input the same room.
  double headroom = 0.0;
  /// A table with a target must have at least two classes (what training and resampling
  /// need). false accepts one class: a file of synthetic rows of one class (`sample --class`,
  /// `resample --only-synthetic`) as `validate`, `inspect` and `convert` read it.
  bool require_two_classes = true;
};

/// Read a CSV file (RFC 4180 quoting, LF/CRLF/CR line ends, optional UTF-8 BOM, header row
/// required). Types are inferred per column: numeric when every non-missing value parses as a
/// number, else categorical (categories in order of first appearance). Provenance columns written
/// by write_csv (__synthetic, __method, __parent, __neighbor, __gap) are read back as provenance.
/// Throws InputError naming the file and line/column for bad input.
///
/// Rules beyond RFC 4180:
///  * Blank lines are skipped. Line numbers in messages count physical lines (LF, CRLF and a
///    lone CR each end one), header = line 1, so a quoted field with line breaks spans several.
///  * Unquoted fields are trimmed of spaces and tabs. Quoted fields keep their text verbatim, are
///    never missing and are always text: a quoted "1" makes an inferred column categorical (a
///    --numeric column reads quoted fields by their content). A quote inside an unquoted field is
///    a literal character; text other than blanks after a closing quote is an error.
///  * Numbers: std::from_chars syntax plus an optional leading '+'. In a numeric column "nan" is
///    a missing value and "inf"/"Infinity"/1e999 is an error (Inf is not data).
///  * Every column needs a non-empty, unique name: an empty name is an error, not "column_<j>",
///    because it is usually a pandas index column that would otherwise become a feature.
///  * Target: CsvOptions::target, empty = the last data column, "-" = none. Every row needs a
///    target value and there must be at least two classes (one with require_two_classes false).
///  * The file is parsed by CsvOptions::threads threads; the result does not depend on it.
Table read_csv(const std::string& path, const CsvOptions& opt = {});

/// Write a CSV file: header, then one line per row; numbers in shortest exact form, missing as
/// an empty cell, fields quoted when they contain the delimiter, a quote or a line break. When the
/// table has provenance, the provenance columns are appended.
///
/// Every cell that read_csv would read differently is quoted: besides the above, categories that
/// are empty, equal a default missing token ("NA"), parse as a number ("1", "nan"), or start or
/// end with a blank. In a one-column table without provenance a missing cell is written as NA
/// (an empty cell would be a blank line). Inf values and column names reserved for provenance
/// are an Error. Reading the file back gives the same doubles bit for bit; category codes are the
/// same when each category is used and listed in order of first appearance (true of any table
/// read_csv returns), otherwise the values are the same and the codes renumbered.
void write_csv(const Table& table, const std::string& path);

/// Read the HDF5 layout of DESIGN.md ("rareforge.table"). Throws InputError for a file that is
/// missing, corrupt, or not a rareforge table. `target` overrides the stored target when given;
/// `headroom` leaves room for rows in each column, as CsvOptions::headroom;
/// `require_two_classes` as CsvOptions::require_two_classes.
Table read_hdf5(const std::string& path, const std::string& target = "", double headroom = 0.0,
                bool require_two_classes = true);

/// Write the HDF5 layout ("rareforge.table", version 1), provenance included.
void write_hdf5(const Table& table, const std::string& path);

enum class FileFormat { kCsv, kHdf5 };
/// Format from the extension; throws InputError naming `what` (e.g. "--out") otherwise.
FileFormat format_from_path(const std::string& path, const std::string& what);

/// Read .csv or .h5/.hdf5 (CSV options apply to CSV; target/categorical/numeric to both).
Table read_table(const std::string& path, const CsvOptions& opt = {});
/// Write .csv or .h5/.hdf5, atomically.
void write_table(const Table& table, const std::string& path);

/// A temporary file beside `target` that becomes `target` on commit(); removed otherwise.
class AtomicFile {
 public:
  explicit AtomicFile(std::string target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  /// Where to write.
  const std::string& temp_path() const { return temp_; }
  /// Rename the temporary file onto the target.
  void commit();

 private:
  std::string target_;
  std::string temp_;
  bool committed_ = false;
};

}  // namespace rareforge
