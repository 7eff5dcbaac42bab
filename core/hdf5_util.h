// Small RAII wrappers over the HDF5 C API, for every part of rareforge that writes or reads HDF5
// (tables in core/hdf5.cpp, validation reports, arena outputs).
//
// What they do for you:
//   * ownership: every HDF5 id lives in a move-only object and is closed by its destructor;
//   * errors: every failing HDF5 call throws h5::H5Error (an Error, exit status 1) whose message
//     names the object ("/table/columns/age") and carries HDF5's innermost error text. HDF5's
//     own printing of its error stack to stderr is turned off (quiet_errors(), per thread, since
//     the library keeps one error stack per thread);
//   * conventions: strings are variable-length UTF-8 (h5py reads them as `str`), 1-D datasets and
//     attributes only, numbers in native types. Files are written in the HDF5 1.8 format (readable
//     by every HDF5 >= 1.8, h5py, pandas), which also lifts the 64 KiB limit on one attribute.
//
// This header does not include hdf5.h: ids are int64_t (hid_t since HDF5 1.10), so targets that
// use it need not see HDF5's include directories. Code that mixes in raw HDF5 calls passes
// `obj.id()` and must call quiet_errors() first on its thread.
//
// Example (a report):
//   h5::File f = h5::File::create(tmp.temp_path());
//   h5::Group g = f.create_group("metrics");
//   g.write("auc", aucs).set_attr_str("unit", "1");
//   g.set_attr_strs("methods", names);
//   f.close();
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace rareforge::h5 {

/// A failure reported by the HDF5 library (I/O error, damaged file, missing object, wrong type).
/// Readers of user files catch it and rethrow an InputError naming the file.
class H5Error : public Error {
 public:
  explicit H5Error(const std::string& what) : Error(what) {}
};

/// Turn off HDF5's automatic error-stack printing for the calling thread. Idempotent and cheap;
/// every function in this header calls it.
void quiet_errors();

/// True if the file exists and carries the HDF5 signature (at byte 0, 512, 1024, 2048, ...).
/// Never throws.
bool is_hdf5(const std::string& path);

/// Owns one HDF5 id (file, group, dataset, attribute, dataspace, datatype, property list).
class Handle {
 public:
  Handle() = default;
  /// Takes ownership of `id` (must be valid, i.e. >= 0).
  explicit Handle(int64_t id) : id_(id) {}
  ~Handle();
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  int64_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Close now; throws H5Error if HDF5 reports a failure (e.g. a failed flush of a file).
  void close();

 private:
  int64_t id_ = -1;
};

/// Kind of the stored element type, for readers that accept several.
enum class TypeClass { kInteger, kFloat, kString, kOther };

/// A file, group or dataset: something that carries attributes. `path()` is its HDF5 path, used
/// in error messages.
class Object {
 public:
  int64_t id() const { return h_.id(); }
  const std::string& path() const { return path_; }

  bool has_attr(const std::string& name) const;
  /// Remove the attribute if present.
  void remove_attr(const std::string& name) const;

  // Setters replace an existing attribute of the same name. Scalars are stored as HDF5 scalars;
  // string arrays as 1-D variable-length UTF-8 (zero length allowed). Strings must not contain
  // a NUL byte (H5Error otherwise). They return *this to allow chaining.
  const Object& set_attr_i64(const std::string& name, int64_t v) const;
  const Object& set_attr_i32(const std::string& name, int32_t v) const;
  const Object& set_attr_f64(const std::string& name, double v) const;
  const Object& set_attr_str(const std::string& name, const std::string& v) const;
  const Object& set_attr_strs(const std::string& name, const std::vector<std::string>& v) const;
  const Object& set_attr_f64s(const std::string& name, const std::vector<double>& v) const;
  const Object& set_attr_i64s(const std::string& name, const std::vector<int64_t>& v) const;

  // Getters convert from any stored integer/float type (HDF5 conversion; integers are clamped
  // to the target range) and read both variable- and fixed-length strings (a fixed-length
  // string loses its trailing NUL/space padding). A scalar getter needs exactly one element.
  int64_t attr_i64(const std::string& name) const;
  double attr_f64(const std::string& name) const;
  std::string attr_str(const std::string& name) const;
  std::vector<std::string> attr_strs(const std::string& name) const;
  std::vector<double> attr_f64s(const std::string& name) const;
  std::vector<int64_t> attr_i64s(const std::string& name) const;
  /// Element type class of an attribute.
  TypeClass attr_type(const std::string& name) const;

 protected:
  Object() = default;
  Object(Handle h, std::string path) : h_(std::move(h)), path_(std::move(path)) {}

  Handle h_;
  std::string path_;
};

/// A 1-D dataset.
class Dataset : public Object {
 public:
  /// Number of dimensions of the dataspace (every dataset this header writes has 1).
  int rank() const;
  /// Number of elements (product of the dimensions).
  size_t size() const;
  TypeClass type_class() const;

  // Read every element, converting to the requested type (as for attributes). `capacity`
  // reserves room for at least that many elements (rows appended later; a request: refused
  // address space gives the exact size).
  std::vector<double> read_f64(size_t capacity = 0) const;
  std::vector<int32_t> read_i32(size_t capacity = 0) const;
  std::vector<int64_t> read_i64() const;
  std::vector<uint8_t> read_u8() const;
  std::vector<std::string> read_strings() const;

 private:
  friend class Group;
  Dataset(Handle h, std::string path) : Object(std::move(h), std::move(path)) {}
};

/// Storage options for a new dataset. Default: contiguous, no filter (fastest to write and to
/// read). gzip > 0 stores it in chunks of `chunk` elements with the shuffle filter and deflate at
/// that level (worth it for low-entropy data such as category codes or flags).
struct DatasetOptions {
  int gzip = 0;            ///< 0 = none, 1..9 = deflate level
  size_t chunk = 1 << 16;  ///< elements per chunk when compressed
};

class Group : public Object {
 public:
  /// True if a direct child link `name` exists (no '/' paths).
  bool has(const std::string& name) const;
  /// True if `name` is a direct child that is a group.
  bool has_group(const std::string& name) const;
  /// New child group. With track_order, HDF5 records the creation order of its links, links()
  /// and h5py iterate it in that order (else by name).
  Group create_group(const std::string& name, bool track_order = false) const;
  Group open_group(const std::string& name) const;
  Dataset open_dataset(const std::string& name) const;
  /// Names of the direct child links: in creation order when the group tracks it, else sorted by
  /// name.
  std::vector<std::string> links() const;

  // New 1-D dataset `name` holding the n values. The name must be a valid HDF5 link name (no '/',
  // not "."); it is stored as UTF-8.
  Dataset write(const std::string& name, const double* v, size_t n,
                const DatasetOptions& opt = {}) const;
  Dataset write(const std::string& name, const float* v, size_t n,
                const DatasetOptions& opt = {}) const;
  Dataset write(const std::string& name, const int32_t* v, size_t n,
                const DatasetOptions& opt = {}) const;
  Dataset write(const std::string& name, const int64_t* v, size_t n,
                const DatasetOptions& opt = {}) const;
  Dataset write(const std::string& name, const uint8_t* v, size_t n,
                const DatasetOptions& opt = {}) const;
  template <class T>
  Dataset write(const std::string& name, const std::vector<T>& v,
                const DatasetOptions& opt = {}) const {
    return write(name, v.data(), v.size(), opt);
  }
  /// Variable-length UTF-8 strings.
  Dataset write_strings(const std::string& name, const std::vector<std::string>& v) const;

 protected:
  friend class File;
  Group() = default;
  Group(Handle h, std::string path) : Object(std::move(h), std::move(path)) {}
};

/// A file; as a Group it is the root group "/".
class File : public Group {
 public:
  /// Create (truncate) `path` for writing. Everything inside is closed with the file.
  static File create(const std::string& path);
  /// Open `path` read-only. Throws H5Error if it cannot be opened (missing, not HDF5, truncated).
  static File open(const std::string& path);
  /// Flush and close; throws H5Error on failure (the destructor closes silently).
  void close() { h_.close(); }
  const std::string& filename() const { return filename_; }

 private:
  File(Handle h, std::string filename) : Group(std::move(h), "/"), filename_(std::move(filename)) {}
  std::string filename_;
};

}  // namespace rareforge::h5
