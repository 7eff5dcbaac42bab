#include "core/hdf5_util.h"

#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <new>
#include <stdexcept>
#include <type_traits>

namespace rareforge::h5 {

static_assert(std::is_same<hid_t, int64_t>::value, "hdf5_util.h assumes hid_t is int64_t");

namespace {

herr_t first_error(unsigned n, const H5E_error2_t* err, void* data) {
  if (n == 0 && err->desc) *static_cast<std::string*>(data) = err->desc;
  return 0;
}

/// HDF5's most specific message for the error that just happened (the stack is cleared by the
/// next API call, so call this right after the failing one).
std::string hdf5_message() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

[[noreturn]] void fail(const std::string& what) {
  const std::string detail = hdf5_message();
  throw H5Error(detail.empty() ? what : what + " (" + detail + ")");
}

hid_t check(hid_t id, const std::string& what) {
  if (id < 0) fail(what);
  return id;
}

void check_status(herr_t st, const std::string& what) {
  if (st < 0) fail(what);
}

std::string child_path(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

void check_no_nul(const std::string& s, const std::string& where) {
  if (s.find('\0') != std::string::npos)
    throw H5Error(where + ": a string contains a NUL byte, which HDF5 strings cannot hold");
}

/// Variable-length UTF-8 string type.
Handle vlen_string_type() {
  Handle t(check(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check_status(H5Tset_size(t.id(), H5T_VARIABLE), "H5Tset_size");
  check_status(H5Tset_cset(t.id(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

Handle simple_space(size_t n) {
  const hsize_t dims[1] = {static_cast<hsize_t>(n)};
  return Handle(check(H5Screate_simple(1, dims, nullptr), "H5Screate_simple"));
}

/// Link creation properties: names are UTF-8.
Handle utf8_lcpl() {
  Handle p(check(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate"));
  check_status(H5Pset_char_encoding(p.id(), H5T_CSET_UTF8), "H5Pset_char_encoding");
  return p;
}

std::vector<const char*> c_strings(const std::vector<std::string>& v, const std::string& where) {
  std::vector<const char*> p(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    check_no_nul(v[i], where);
    p[i] = v[i].c_str();
  }
  return p;
}

TypeClass classify(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return TypeClass::kInteger;
    case H5T_FLOAT:
      return TypeClass::kFloat;
    case H5T_STRING:
      return TypeClass::kString;
    default:
      return TypeClass::kOther;
  }
}

const char* to_string(TypeClass c) {
  switch (c) {
    case TypeClass::kInteger:
      return "integer";
    case TypeClass::kFloat:
      return "float";
    case TypeClass::kString:
      return "string";
    default:
      return "of another type";
  }
}

size_t space_size(hid_t space, const std::string& what) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail(what);
  return static_cast<size_t>(n);
}

/// Reads attributes and datasets through the same code: `read(mem_type, buf)`.
struct Source {
  hid_t id;
  bool is_attr;
  std::string what;  // for messages, e.g. "attribute 'format' of /table"

  Handle type() const {
    return Handle(check(is_attr ? H5Aget_type(id) : H5Dget_type(id), "cannot get type of " + what));
  }
  Handle space() const {
    return Handle(
        check(is_attr ? H5Aget_space(id) : H5Dget_space(id), "cannot get shape of " + what));
  }
  void read(hid_t mem_type, void* buf) const {
    const herr_t st = is_attr ? H5Aread(id, mem_type, buf)
                              : H5Dread(id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    check_status(st, "cannot read " + what);
  }
};

template <class T>
std::vector<T> read_numbers(const Source& src, hid_t mem_type, size_t capacity = 0) {
  const Handle type = src.type();
  const TypeClass c = classify(type.id());
  if (c != TypeClass::kInteger && c != TypeClass::kFloat)
    throw H5Error(src.what + " is " + to_string(c) + ", expected numbers");
  const Handle space = src.space();
  const size_t n = space_size(space.id(), "cannot get size of " + src.what);
  std::vector<T> out;
  if (capacity > n) {
    try {
      out.reserve(capacity);
    } catch (const std::bad_alloc&) {
    } catch (const std::length_error&) {  // room beyond max_size(): none
    }
  }
  out.resize(n);
  if (!out.empty()) src.read(mem_type, out.data());
  return out;
}

std::vector<std::string> read_string_values(const Source& src) {
  const Handle type = src.type();
  if (classify(type.id()) != TypeClass::kString)
    throw H5Error(src.what + " is " + to_string(classify(type.id())) + ", expected strings");
  const Handle space = src.space();
  const size_t n = space_size(space.id(), "cannot get size of " + src.what);
  std::vector<std::string> out(n);
  if (n == 0) return out;
  const htri_t vlen = H5Tis_variable_str(type.id());
  check_status(vlen, "cannot inspect " + src.what);
  const H5T_cset_t cset = H5Tget_cset(type.id());
  if (vlen > 0) {
    Handle mem(check(H5Tcopy(H5T_C_S1), "H5Tcopy"));
    check_status(H5Tset_size(mem.id(), H5T_VARIABLE), "H5Tset_size");
    check_status(H5Tset_cset(mem.id(), cset), "H5Tset_cset");
    std::vector<char*> ptrs(n, nullptr);
    src.read(mem.id(), ptrs.data());
    for (size_t i = 0; i < n; ++i)
      if (ptrs[i]) out[i] = ptrs[i];
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem.id(), space.id(), H5P_DEFAULT, ptrs.data());
#else
    H5Dvlen_reclaim(mem.id(), space.id(), H5P_DEFAULT, ptrs.data());
#endif
  } else {
    const size_t width = H5Tget_size(type.id());
    if (width == 0) fail("cannot get string size of " + src.what);
    const H5T_str_t pad = H5Tget_strpad(type.id());
    Handle mem(check(H5Tcopy(type.id()), "H5Tcopy"));
    std::vector<char> buf(n * width);
    src.read(mem.id(), buf.data());
    for (size_t i = 0; i < n; ++i) {
      const char* s = buf.data() + i * width;
      size_t len = 0;
      while (len < width && s[len] != '\0') ++len;
      if (pad == H5T_STR_SPACEPAD)
        while (len > 0 && s[len - 1] == ' ') --len;
      out[i].assign(s, len);
    }
  }
  return out;
}

}  // namespace

// --- free functions ----------------------------------------------------------------------------

void quiet_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

bool is_hdf5(const std::string& path) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  // The superblock may sit after a user block: at 0, 512, 1024, 2048, ...
  for (std::streamoff off = 0;; off = off == 0 ? 512 : off * 2) {
    f.seekg(off);
    char buf[8];
    if (!f.read(buf, sizeof(buf))) return false;
    if (std::memcmp(buf, kSignature, sizeof(buf)) == 0) return true;
    if (off > (std::streamoff(1) << 40)) return false;
  }
}

// --- Handle ------------------------------------------------------------------------------------

Handle::~Handle() {
  if (id_ >= 0) {
    quiet_errors();
    H5Idec_ref(id_);
  }
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0) H5Idec_ref(id_);
    id_ = o.id_;
    o.id_ = -1;
  }
  return *this;
}

void Handle::close() {
  if (id_ < 0) return;
  quiet_errors();
  const hid_t id = id_;
  id_ = -1;
  check_status(H5Idec_ref(id), "cannot close HDF5 object");
}

// --- Object: attributes ------------------------------------------------------------------------

namespace {

std::string attr_what(const std::string& name, const std::string& path) {
  return "attribute '" + name + "' of " + path;
}

/// Create attribute `name` on `obj` (replacing an existing one) and write `buf` into it.
void write_attr(hid_t obj, const std::string& path, const std::string& name, hid_t file_type,
                hid_t mem_type, hid_t space, const void* buf, bool empty) {
  quiet_errors();
  const std::string what = attr_what(name, path);
  const htri_t exists = H5Aexists(obj, name.c_str());
  check_status(exists, "cannot look up " + what);
  if (exists > 0) check_status(H5Adelete(obj, name.c_str()), "cannot replace " + what);
  Handle a(check(H5Acreate2(obj, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT),
                 "cannot create " + what));
  if (!empty) check_status(H5Awrite(a.id(), mem_type, buf), "cannot write " + what);
  a.close();
}

void write_scalar_attr(hid_t obj, const std::string& path, const std::string& name, hid_t file_type,
                       hid_t mem_type, const void* v) {
  Handle space(check(H5Screate(H5S_SCALAR), "H5Screate"));
  write_attr(obj, path, name, file_type, mem_type, space.id(), v, false);
}

}  // namespace

bool Object::has_attr(const std::string& name) const {
  quiet_errors();
  const htri_t r = H5Aexists(id(), name.c_str());
  check_status(r, "cannot look up " + attr_what(name, path_));
  return r > 0;
}

void Object::remove_attr(const std::string& name) const {
  if (has_attr(name))
    check_status(H5Adelete(id(), name.c_str()), "cannot remove " + attr_what(name, path_));
}

const Object& Object::set_attr_i64(const std::string& name, int64_t v) const {
  write_scalar_attr(id(), path_, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
  return *this;
}

const Object& Object::set_attr_i32(const std::string& name, int32_t v) const {
  write_scalar_attr(id(), path_, name, H5T_STD_I32LE, H5T_NATIVE_INT32, &v);
  return *this;
}

const Object& Object::set_attr_f64(const std::string& name, double v) const {
  write_scalar_attr(id(), path_, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
  return *this;
}

const Object& Object::set_attr_str(const std::string& name, const std::string& v) const {
  quiet_errors();
  check_no_nul(v, attr_what(name, path_));
  const Handle t = vlen_string_type();
  const char* p = v.c_str();
  write_scalar_attr(id(), path_, name, t.id(), t.id(), &p);
  return *this;
}

const Object& Object::set_attr_strs(const std::string& name,
                                    const std::vector<std::string>& v) const {
  quiet_errors();
  const std::vector<const char*> p = c_strings(v, attr_what(name, path_));
  const Handle t = vlen_string_type();
  const Handle space = simple_space(v.size());
  write_attr(id(), path_, name, t.id(), t.id(), space.id(), p.data(), v.empty());
  return *this;
}

const Object& Object::set_attr_f64s(const std::string& name, const std::vector<double>& v) const {
  quiet_errors();
  const Handle space = simple_space(v.size());
  write_attr(id(), path_, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space.id(), v.data(), v.empty());
  return *this;
}

const Object& Object::set_attr_i64s(const std::string& name, const std::vector<int64_t>& v) const {
  quiet_errors();
  const Handle space = simple_space(v.size());
  write_attr(id(), path_, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space.id(), v.data(), v.empty());
  return *this;
}

namespace {

Handle open_attr(hid_t obj, const std::string& path, const std::string& name) {
  quiet_errors();
  return Handle(
      check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "cannot open " + attr_what(name, path)));
}

template <class T>
T scalar_of(std::vector<T> v, const std::string& what) {
  if (v.size() != 1)
    throw H5Error(what + " has " + std::to_string(v.size()) + " values, expected one");
  return v[0];
}

}  // namespace

std::vector<double> Object::attr_f64s(const std::string& name) const {
  const Handle a = open_attr(id(), path_, name);
  return read_numbers<double>(Source{a.id(), true, attr_what(name, path_)}, H5T_NATIVE_DOUBLE);
}

std::vector<int64_t> Object::attr_i64s(const std::string& name) const {
  const Handle a = open_attr(id(), path_, name);
  return read_numbers<int64_t>(Source{a.id(), true, attr_what(name, path_)}, H5T_NATIVE_INT64);
}

std::vector<std::string> Object::attr_strs(const std::string& name) const {
  const Handle a = open_attr(id(), path_, name);
  return read_string_values(Source{a.id(), true, attr_what(name, path_)});
}

int64_t Object::attr_i64(const std::string& name) const {
  return scalar_of(attr_i64s(name), attr_what(name, path_));
}

double Object::attr_f64(const std::string& name) const {
  return scalar_of(attr_f64s(name), attr_what(name, path_));
}

std::string Object::attr_str(const std::string& name) const {
  return scalar_of(attr_strs(name), attr_what(name, path_));
}

TypeClass Object::attr_type(const std::string& name) const {
  const Handle a = open_attr(id(), path_, name);
  const Handle t(check(H5Aget_type(a.id()), "cannot get type of " + attr_what(name, path_)));
  return classify(t.id());
}

// --- Dataset -----------------------------------------------------------------------------------

int Dataset::rank() const {
  quiet_errors();
  const Handle s(check(H5Dget_space(id()), "cannot get shape of " + path_));
  const int r = H5Sget_simple_extent_ndims(s.id());
  if (r < 0) fail("cannot get rank of " + path_);
  return r;
}

size_t Dataset::size() const {
  quiet_errors();
  const Handle s(check(H5Dget_space(id()), "cannot get shape of " + path_));
  return space_size(s.id(), "cannot get size of " + path_);
}

TypeClass Dataset::type_class() const {
  quiet_errors();
  const Handle t(check(H5Dget_type(id()), "cannot get type of " + path_));
  return classify(t.id());
}

std::vector<double> Dataset::read_f64(size_t capacity) const {
  quiet_errors();
  return read_numbers<double>(Source{id(), false, path_}, H5T_NATIVE_DOUBLE, capacity);
}

std::vector<int32_t> Dataset::read_i32(size_t capacity) const {
  quiet_errors();
  return read_numbers<int32_t>(Source{id(), false, path_}, H5T_NATIVE_INT32, capacity);
}

std::vector<int64_t> Dataset::read_i64() const {
  quiet_errors();
  return read_numbers<int64_t>(Source{id(), false, path_}, H5T_NATIVE_INT64);
}

std::vector<uint8_t> Dataset::read_u8() const {
  quiet_errors();
  return read_numbers<uint8_t>(Source{id(), false, path_}, H5T_NATIVE_UINT8);
}

std::vector<std::string> Dataset::read_strings() const {
  quiet_errors();
  return read_string_values(Source{id(), false, path_});
}

// --- Group -------------------------------------------------------------------------------------

bool Group::has(const std::string& name) const {
  quiet_errors();
  if (name.empty() || name.find('/') != std::string::npos) return false;
  const htri_t r = H5Lexists(id(), name.c_str(), H5P_DEFAULT);
  check_status(r, "cannot look up " + child_path(path_, name));
  return r > 0;
}

bool Group::has_group(const std::string& name) const {
  if (!has(name)) return false;
  const hid_t o = H5Oopen(id(), name.c_str(), H5P_DEFAULT);
  if (o < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;  // e.g. a dangling soft link
  }
  const Handle h(o);
  return H5Iget_type(o) == H5I_GROUP;
}

Group Group::create_group(const std::string& name, bool track_order) const {
  quiet_errors();
  const std::string p = child_path(path_, name);
  Handle gcpl(check(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate"));
  // No modification times in object headers: same input, same seed => byte-identical files.
  check_status(H5Pset_obj_track_times(gcpl.id(), false), "H5Pset_obj_track_times");
  if (track_order)
    check_status(
        H5Pset_link_creation_order(gcpl.id(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "H5Pset_link_creation_order");
  const Handle lcpl = utf8_lcpl();
  return Group(Handle(check(H5Gcreate2(id(), name.c_str(), lcpl.id(), gcpl.id(), H5P_DEFAULT),
                            "cannot create group " + p)),
               p);
}

Group Group::open_group(const std::string& name) const {
  quiet_errors();
  const std::string p = child_path(path_, name);
  return Group(Handle(check(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), "cannot open group " + p)),
               p);
}

Dataset Group::open_dataset(const std::string& name) const {
  quiet_errors();
  const std::string p = child_path(path_, name);
  return Dataset(
      Handle(check(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), "cannot open dataset " + p)), p);
}

std::vector<std::string> Group::links() const {
  quiet_errors();
  H5G_info_t info;
  check_status(H5Gget_info(id(), &info), "cannot list " + path_);
  H5_index_t index = H5_INDEX_NAME;
  {
    const Handle gcpl(check(H5Gget_create_plist(id()), "cannot list " + path_));
    unsigned flags = 0;
    check_status(H5Pget_link_creation_order(gcpl.id(), &flags), "cannot list " + path_);
    if (flags & H5P_CRT_ORDER_INDEXED) index = H5_INDEX_CRT_ORDER;
  }
  std::vector<std::string> names(info.nlinks);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len =
        H5Lget_name_by_idx(id(), ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) fail("cannot list " + path_);
    std::string s(static_cast<size_t>(len) + 1, '\0');
    if (H5Lget_name_by_idx(id(), ".", index, H5_ITER_INC, i, s.data(), s.size(), H5P_DEFAULT) < 0)
      fail("cannot list " + path_);
    s.resize(static_cast<size_t>(len));
    names[i] = std::move(s);
  }
  return names;
}

namespace {

/// New 1-D dataset `name` in `group` holding n values of `mem_type`, stored as `file_type`.
Handle make_dataset(hid_t group, const std::string& p, const std::string& name, hid_t file_type,
                    hid_t mem_type, const void* v, size_t n, const DatasetOptions& opt) {
  quiet_errors();
  const Handle space = simple_space(n);
  Handle dcpl(check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
  check_status(H5Pset_obj_track_times(dcpl.id(), false), "H5Pset_obj_track_times");
  if (opt.gzip > 0 && n > 0) {
    const hsize_t chunk[1] = {static_cast<hsize_t>(std::max<size_t>(1, std::min(opt.chunk, n)))};
    check_status(H5Pset_chunk(dcpl.id(), 1, chunk), "H5Pset_chunk");
    check_status(H5Pset_shuffle(dcpl.id()), "H5Pset_shuffle");
    check_status(H5Pset_deflate(dcpl.id(), static_cast<unsigned>(std::min(opt.gzip, 9))),
                 "H5Pset_deflate");
  }
  const Handle lcpl = utf8_lcpl();
  Handle d(check(
      H5Dcreate2(group, name.c_str(), file_type, space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT),
      "cannot create dataset " + p));
  if (n > 0)
    check_status(H5Dwrite(d.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v),
                 "cannot write dataset " + p);
  return d;
}

}  // namespace

Dataset Group::write(const std::string& name, const double* v, size_t n,
                     const DatasetOptions& opt) const {
  const std::string p = child_path(path_, name);
  return Dataset(make_dataset(id(), p, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, n, opt), p);
}

Dataset Group::write(const std::string& name, const float* v, size_t n,
                     const DatasetOptions& opt) const {
  const std::string p = child_path(path_, name);
  return Dataset(make_dataset(id(), p, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v, n, opt), p);
}

Dataset Group::write(const std::string& name, const int32_t* v, size_t n,
                     const DatasetOptions& opt) const {
  const std::string p = child_path(path_, name);
  return Dataset(make_dataset(id(), p, name, H5T_STD_I32LE, H5T_NATIVE_INT32, v, n, opt), p);
}

Dataset Group::write(const std::string& name, const int64_t* v, size_t n,
                     const DatasetOptions& opt) const {
  const std::string p = child_path(path_, name);
  return Dataset(make_dataset(id(), p, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, n, opt), p);
}

Dataset Group::write(const std::string& name, const uint8_t* v, size_t n,
                     const DatasetOptions& opt) const {
  const std::string p = child_path(path_, name);
  return Dataset(make_dataset(id(), p, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, v, n, opt), p);
}

Dataset Group::write_strings(const std::string& name, const std::vector<std::string>& v) const {
  quiet_errors();
  const std::string p = child_path(path_, name);
  const std::vector<const char*> ptrs = c_strings(v, p);
  const Handle t = vlen_string_type();
  return Dataset(make_dataset(id(), p, name, t.id(), t.id(), ptrs.data(), v.size(), {}), p);
}

// --- File --------------------------------------------------------------------------------------

namespace {

Handle file_access_plist() {
  Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  // 1.8 format: readable by any HDF5 >= 1.8, and attributes may exceed 64 KiB (dense storage).
  check_status(H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V18, H5F_LIBVER_V18),
               "H5Pset_libver_bounds");
  // Closing the file closes every object still open in it, so nothing keeps it half-open.
  check_status(H5Pset_fclose_degree(fapl.id(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree");
#if H5_VERSION_GE(1, 10, 7)
  // No flock(): it fails on some network file systems and buys nothing for whole-file writes.
  check_status(H5Pset_file_locking(fapl.id(), false, true), "H5Pset_file_locking");
#endif
  return fapl;
}

}  // namespace

File File::create(const std::string& path) {
  quiet_errors();
  const Handle fapl = file_access_plist();
  // The root group, like every object made here, carries no modification times.
  Handle fcpl(check(H5Pcreate(H5P_FILE_CREATE), "H5Pcreate"));
  check_status(H5Pset_obj_track_times(fcpl.id(), false), "H5Pset_obj_track_times");
  return File(Handle(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.id(), fapl.id()),
                           "cannot create HDF5 file '" + path + "'")),
              path);
}

File File::open(const std::string& path) {
  quiet_errors();
  Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  check_status(H5Pset_fclose_degree(fapl.id(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree");
#if H5_VERSION_GE(1, 10, 7)
  check_status(H5Pset_file_locking(fapl.id(), false, true), "H5Pset_file_locking");
#endif
  return File(Handle(check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.id()),
                           "cannot open HDF5 file '" + path + "'")),
              path);
}

}  // namespace rareforge::h5
