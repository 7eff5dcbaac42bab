#include "core/io.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "core/error.h"

namespace rareforge {

FileFormat format_from_path(const std::string& path, const std::string& what) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".csv") return FileFormat::kCsv;
  if (ext == ".h5" || ext == ".hdf5") return FileFormat::kHdf5;
  RF_THROW_INPUT("{}: '{}' has no known extension; use .csv, .h5 or .hdf5", what, path);
}

Table read_table(const std::string& path, const CsvOptions& opt) {
  if (format_from_path(path, "input") == FileFormat::kCsv) return read_csv(path, opt);
  // "" = stored target, "-" = none
  Table t = read_hdf5(path, opt.target, opt.headroom, opt.require_two_classes);
  // Column-kind overrides apply to HDF5 input too, where they are checks, not conversions.
  for (const auto& name : opt.numeric) {
    const Column& c = t.column(name);
    RF_CHECK_INPUT(c.is_numeric(), "{}: --numeric column '{}' is stored as categorical", path,
                   name);
  }
  for (const auto& name : opt.categorical) {
    const Column& c = t.column(name);
    RF_CHECK_INPUT(c.is_categorical(), "{}: --categorical column '{}' is stored as numeric", path,
                   name);
  }
  return t;
}

void write_table(const Table& table, const std::string& path) {
  if (format_from_path(path, "output") == FileFormat::kCsv)
    write_csv(table, path);
  else
    write_hdf5(table, path);
}

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {
  const std::filesystem::path p(target_);
  // Same directory as the target, so the rename is atomic; keep the extension so writers that
  // look at it still work.
  temp_ = (p.parent_path() /
           ("." + p.stem().string() + ".tmp" + std::to_string(::getpid()) + p.extension().string()))
              .string();
  const auto dir = p.parent_path();
  RF_CHECK_INPUT(dir.empty() || std::filesystem::is_directory(dir),
                 "cannot write '{}': directory '{}' does not exist", target_, dir.string());
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicFile::commit() {
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  if (ec) throw Error("cannot write '" + target_ + "': " + ec.message());
  committed_ = true;
}

}  // namespace rareforge
