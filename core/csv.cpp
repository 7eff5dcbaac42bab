// CSV reader and writer (contract in core/io.h).
//
// Reader outline: the file is mapped (or read) whole. After the header, the data region is cut
// into one chunk per thread at record boundaries: any line end when the file holds no '"', else
// the boundaries found by one sequential walk over the records (quotes may hide line ends). Each
// chunk is parsed on its own thread: numeric candidates go straight through std::from_chars into
// per-column arrays, and the first non-number in a column is only noted; such columns are parsed
// again as text in a second (also parallel) pass over the recorded row offsets. Category codes
// are chunk-local and merged in chunk order, which keeps "order of first appearance". Errors keep
// byte offsets; line numbers are counted from the offsets only when a message is built.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <new>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "core/io.h"

namespace rareforge {
namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// Smallest chunk worth a thread of its own.
constexpr size_t kMinChunkBytes = 64 * 1024;

// Provenance columns, in the order write_csv appends them.
constexpr const char* kSynthetic = "__synthetic";
constexpr const char* kMethod = "__method";
constexpr const char* kParent = "__parent";
constexpr const char* kNeighbor = "__neighbor";
constexpr const char* kGap = "__gap";
constexpr const char* kProvenanceNames[] = {kSynthetic, kMethod, kParent, kNeighbor, kGap};

bool is_provenance_name(std::string_view name) {
  for (const char* p : kProvenanceNames)
    if (name == p) return true;
  return false;
}

// --- number parsing ------------------------------------------------------------------------

enum class NumKind { kNumber, kNaN, kInf, kText };

/// Whole-field number test shared by reader and writer: std::from_chars (general format, so
/// "nan", "inf", "infinity" in any case are numbers) after an optional '+'. Out-of-range values
/// go through strtod: overflow becomes Inf, underflow the nearest subnormal or zero.
NumKind parse_number(std::string_view s, double* out) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b < e && *b == '+') {
    ++b;
    if (b == e || *b == '+' || *b == '-') return NumKind::kText;
  }
  if (b == e) return NumKind::kText;
  double v = 0;
  const auto r = std::from_chars(b, e, v);
  if (r.ptr != e) return NumKind::kText;
  if (r.ec == std::errc::result_out_of_range) {
    const std::string copy(b, e);
    v = std::strtod(copy.c_str(), nullptr);
  } else if (r.ec != std::errc()) {
    return NumKind::kText;
  }
  *out = v;
  if (std::isnan(v)) return NumKind::kNaN;
  if (std::isinf(v)) return NumKind::kInf;
  return NumKind::kNumber;
}

// --- file access ---------------------------------------------------------------------------

/// The whole file in memory: mapped when possible, read otherwise.
class FileBuffer {
 public:
  explicit FileBuffer(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) RF_THROW_INPUT("cannot open '{}': {}", path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      RF_THROW_INPUT("cannot open '{}': {}", path, std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      RF_THROW_INPUT("cannot open '{}': it is a directory, not a CSV file", path);
    }
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
      void* m = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (m != MAP_FAILED) {
        map_ = m;
        size_ = static_cast<size_t>(st.st_size);
        ::madvise(map_, size_, MADV_SEQUENTIAL);
        ::madvise(map_, size_, MADV_WILLNEED);
        ::close(fd);
        return;
      }
    }
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        RF_THROW_INPUT("cannot read '{}': {}", path, std::strerror(err));
      }
      owned_.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    size_ = owned_.size();
  }
  ~FileBuffer() {
    if (map_) ::munmap(map_, size_);
  }
  FileBuffer(const FileBuffer&) = delete;
  FileBuffer& operator=(const FileBuffer&) = delete;

  const char* data() const { return map_ ? static_cast<const char*>(map_) : owned_.data(); }
  size_t size() const { return size_; }
  bool mapped() const { return map_ != nullptr; }

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
  std::string owned_;
};

/// 1-based line of byte `off` (LF, CRLF and lone CR each end one line).
size_t line_of(const char* base, size_t size, size_t off) {
  size_t line = 1;
  for (size_t i = 0; i < off && i < size; ++i) {
    if (base[i] == '\n') {
      ++line;
    } else if (base[i] == '\r' && !(i + 1 < size && base[i + 1] == '\n')) {
      ++line;
    }
  }
  return line;
}

// --- fields --------------------------------------------------------------------------------

struct Field {
  std::string_view text;  ///< unquoted: trimmed; quoted: the content with "" unescaped
  bool quoted = false;
  bool in_scratch = false;  ///< text points into the scratch string (not stable)
};

enum class FieldStatus { kOk, kUnterminated, kJunkAfterQuote };

inline bool is_blank(char c, char delim) { return (c == ' ' || c == '\t') && c != delim; }
inline bool is_term(char c, char delim) { return c == delim || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s, char delim) {
  size_t b = 0, e = s.size();
  while (b < e && is_blank(s[b], delim)) ++b;
  while (e > b && is_blank(s[e - 1], delim)) --e;
  return s.substr(b, e - b);
}

/// Parses the field at p. Returns the position of its terminator (delimiter, '\n', '\r') or e.
/// On kUnterminated / kJunkAfterQuote, *err_at is the offending quote / character.
const char* parse_field(const char* p, const char* e, char delim, Field* f, std::string* scratch,
                        FieldStatus* status, const char** err_at) {
  *status = FieldStatus::kOk;
  const char* q = p;
  while (q < e && is_blank(*q, delim)) ++q;
  if (q < e && *q == '"') {
    const char* open = q;
    const char* content = ++q;
    bool escaped = false;
    const char* close = nullptr;
    for (;;) {
      const void* hit = std::memchr(q, '"', static_cast<size_t>(e - q));
      if (!hit) {
        *status = FieldStatus::kUnterminated;
        *err_at = open;
        return e;
      }
      const char* h = static_cast<const char*>(hit);
      if (h + 1 < e && h[1] == '"') {
        escaped = true;
        q = h + 2;
        continue;
      }
      close = h;
      q = h + 1;
      break;
    }
    f->quoted = true;
    if (escaped) {
      scratch->clear();
      for (const char* c = content; c < close; ++c) {
        scratch->push_back(*c);
        if (*c == '"') ++c;  // skip the second quote of ""
      }
      f->text = *scratch;
      f->in_scratch = true;
    } else {
      f->text = std::string_view(content, static_cast<size_t>(close - content));
      f->in_scratch = false;
    }
    while (q < e && is_blank(*q, delim)) ++q;
    if (q < e && !is_term(*q, delim)) {
      *status = FieldStatus::kJunkAfterQuote;
      *err_at = q;
    }
    return q;
  }
  while (q < e && !is_term(*q, delim)) ++q;
  f->quoted = false;
  f->in_scratch = false;
  f->text = trim(std::string_view(p, static_cast<size_t>(q - p)), delim);
  return q;
}

/// Skips the line end at p (LF, CRLF or CR); p must point at '\n' or '\r'.
inline const char* skip_line_end(const char* p, const char* e) {
  const char c = *p++;
  if (c == '\r' && p < e && *p == '\n') ++p;
  return p;
}

// --- column plan and chunk results ---------------------------------------------------------

enum class Role : uint8_t { kInfer, kNumeric, kCategorical };

struct ColumnPlan {
  std::string name;
  Role role = Role::kInfer;
  std::string numeric_reason;  ///< why a kNumeric column must be numeric (for messages)
};

/// Category codes of one column within one chunk, categories in order of first appearance.
/// Keys view the file buffer or `arena` (a deque, so stored strings never move).
struct CatBuilder {
  std::unordered_map<std::string_view, int32_t> index;
  std::vector<std::string_view> cats;
  std::deque<std::string> arena;
  std::vector<int32_t> codes;

  void add(std::string_view s, bool stable) {
    auto it = index.find(s);
    if (it != index.end()) {
      codes.push_back(it->second);
      return;
    }
    if (!stable) s = arena.emplace_back(s);
    const auto code = static_cast<int32_t>(cats.size());
    cats.push_back(s);
    index.emplace(s, code);
    codes.push_back(code);
  }
};

enum class ErrKind { kNone, kRagged, kUnterminated, kJunk };

struct StructError {
  ErrKind kind = ErrKind::kNone;
  size_t offset = kNone;  ///< record start (ragged) or offending byte
  size_t fields = 0;      ///< ragged: fields on the line
  size_t column = 0;      ///< unterminated / junk: column index
};

struct ChunkOut {
  std::vector<std::vector<double>> num;  ///< per column (numeric candidates)
  std::vector<CatBuilder> cat;           ///< per column (categorical)
  std::vector<size_t> rows;              ///< byte offset of each record
  std::vector<size_t> first_text;        ///< per column: offset of the first non-number field
  std::vector<size_t> first_inf;         ///< per column: offset of the first Inf field
  StructError err;
};

struct Parser {
  std::string path;
  const char* base = nullptr;
  size_t size = 0;
  char delim = ',';
  std::vector<std::string> missing;
  std::vector<ColumnPlan> plan;
  bool numeric_tokens = false;  ///< some missing token parses as a number (e.g. -999)
  /// `base` is a page-aligned read-only file mapping: parse_chunk drops the pages it has parsed
  /// from the resident set (MADV_DONTNEED; a later pass that needs them re-reads the file), so a
  /// large CSV never sits in memory beside the columns made from it.
  bool release_pages = false;

  bool is_missing(std::string_view s) const {
    for (const auto& m : missing)
      if (m.size() == s.size() && std::memcmp(m.data(), s.data(), s.size()) == 0) return true;
    return false;
  }
  size_t line(size_t off) const { return line_of(base, size, off); }
  size_t n_cols() const { return plan.size(); }

  void parse_chunk(size_t begin, size_t end, ChunkOut* out) const;
  void text_pass(const std::vector<char>& wanted, ChunkOut* out) const;
  std::vector<size_t> boundaries(size_t data_start, size_t n_chunks, bool quotes) const;
  [[noreturn]] void throw_struct(const StructError& err) const;
};

void Parser::parse_chunk(size_t begin, size_t end, ChunkOut* out) const {
  const size_t m = n_cols();
  const char* const e = base + end;
  const char* p = base + begin;
  out->num.assign(m, {});
  out->cat.resize(m);
  out->first_text.assign(m, kNone);
  out->first_inf.assign(m, kNone);
  // Guess the row count from the first lines, to avoid most regrowth. A row takes at least m
  // bytes (m - 1 delimiters and a line end), which bounds the guess.
  {
    const char* q = p;
    size_t lines = 0;
    for (; lines < 32 && q < e; ++lines) {
      const void* nl = std::memchr(q, '\n', static_cast<size_t>(e - q));
      if (!nl) break;
      q = static_cast<const char*>(nl) + 1;
    }
    const size_t bytes = end - begin;
    size_t guess = lines ? bytes / std::max<size_t>(1, static_cast<size_t>(q - p) / lines) : 0;
    guess = std::min(guess, bytes / m) + 16;
    out->rows.reserve(guess);
    for (size_t j = 0; j < m; ++j) {
      if (plan[j].role == Role::kCategorical)
        out->cat[j].codes.reserve(guess);
      else
        out->num[j].reserve(guess);
    }
  }
  std::string scratch;
  Field f;
  FieldStatus status;
  const char* err_at = nullptr;
  auto fail_field = [&](size_t j) {
    out->err.kind = status == FieldStatus::kUnterminated ? ErrKind::kUnterminated : ErrKind::kJunk;
    out->err.offset = static_cast<size_t>(err_at - base);
    out->err.column = j;
  };
  constexpr size_t kReleaseStep = size_t{16} << 20;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const char* released = p;
  while (p < e) {
    if (release_pages && static_cast<size_t>(p - released) >= kReleaseStep) {
      const uintptr_t lo = (reinterpret_cast<uintptr_t>(released) + page - 1) & ~(page - 1);
      const uintptr_t hi = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
      if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
      released = p;
    }
    if (*p == '\n' || *p == '\r') {  // blank line
      p = skip_line_end(p, e);
      continue;
    }
    const char* row = p;
    out->rows.push_back(static_cast<size_t>(row - base));
    size_t j = 0;
    for (;;) {
      if (j >= m) {  // too many fields: count them for the message
        size_t k = j;
        for (;;) {
          p = parse_field(p, e, delim, &f, &scratch, &status, &err_at);
          if (status != FieldStatus::kOk) return fail_field(k);
          ++k;
          if (p == e || *p != delim) break;
          ++p;
        }
        out->err = {ErrKind::kRagged, static_cast<size_t>(row - base), k, 0};
        return;
      }
      const ColumnPlan& cp = plan[j];
      const char* fs = p;
      if (cp.role != Role::kCategorical) {
        std::vector<double>& col = out->num[j];
        double v = 0;
        const auto r = std::from_chars(p, e, v);
        if (r.ec == std::errc() && r.ptr != p && (r.ptr == e || is_term(*r.ptr, delim))) {
          if (numeric_tokens && is_missing(std::string_view(p, static_cast<size_t>(r.ptr - p)))) {
            v = kNaN;
          } else if (!std::isfinite(v)) {
            if (!std::isnan(v) && out->first_inf[j] == kNone)
              out->first_inf[j] = static_cast<size_t>(fs - base);
            v = kNaN;
          }
          col.push_back(v);
          p = r.ptr;
        } else {
          p = parse_field(p, e, delim, &f, &scratch, &status, &err_at);
          if (status != FieldStatus::kOk) return fail_field(j);
          v = kNaN;
          if (f.quoted && cp.role == Role::kInfer) {
            if (out->first_text[j] == kNone) out->first_text[j] = static_cast<size_t>(fs - base);
          } else if (cp.role == Role::kInfer && out->first_text[j] != kNone) {
            // already text in this chunk: the text pass will read it
          } else {
            const std::string_view t = f.quoted ? trim(f.text, delim) : f.text;
            if (!is_missing(t)) {
              switch (parse_number(t, &v)) {
                case NumKind::kNumber:
                  break;
                case NumKind::kNaN:
                  v = kNaN;
                  break;
                case NumKind::kInf:
                  if (out->first_inf[j] == kNone)
                    out->first_inf[j] = static_cast<size_t>(fs - base);
                  v = kNaN;
                  break;
                case NumKind::kText:
                  if (out->first_text[j] == kNone)
                    out->first_text[j] = static_cast<size_t>(fs - base);
                  v = kNaN;
                  break;
              }
            }
          }
          col.push_back(v);
        }
      } else {
        p = parse_field(p, e, delim, &f, &scratch, &status, &err_at);
        if (status != FieldStatus::kOk) return fail_field(j);
        CatBuilder& cb = out->cat[j];
        if (!f.quoted && is_missing(f.text))
          cb.codes.push_back(-1);
        else
          cb.add(f.text, !f.in_scratch);
      }
      ++j;
      if (p == e) break;
      if (*p == delim) {
        ++p;
        continue;
      }
      p = skip_line_end(p, e);
      break;
    }
    if (j != m) {
      out->err = {ErrKind::kRagged, static_cast<size_t>(row - base), j, 0};
      return;
    }
  }
}

void Parser::text_pass(const std::vector<char>& wanted, ChunkOut* out) const {
  size_t last = 0;
  for (size_t j = 0; j < wanted.size(); ++j)
    if (wanted[j]) {
      last = j;
      out->cat[j].codes.reserve(out->rows.size());
    }
  std::string scratch;
  Field f;
  FieldStatus status;
  const char* err_at = nullptr;
  const char* const e = base + size;
  for (size_t off : out->rows) {
    const char* p = base + off;
    for (size_t j = 0; j <= last; ++j) {
      p = parse_field(p, e, delim, &f, &scratch, &status, &err_at);
      if (wanted[j]) {
        if (!f.quoted && is_missing(f.text))
          out->cat[j].codes.push_back(-1);
        else
          out->cat[j].add(f.text, !f.in_scratch);
      }
      if (j < last) ++p;  // the delimiter (the first pass checked the structure)
    }
  }
}

std::vector<size_t> Parser::boundaries(size_t data_start, size_t n_chunks, bool quotes) const {
  std::vector<size_t> cuts{data_start};
  const size_t len = size - data_start;
  const char* const e = base + size;
  if (!quotes) {
    for (size_t k = 1; k < n_chunks; ++k) {
      const char* p = base + std::max(cuts.back(), data_start + len / n_chunks * k);
      while (p < e && *p != '\n' && *p != '\r') ++p;
      if (p == e) break;
      p = skip_line_end(p, e);
      if (static_cast<size_t>(p - base) > cuts.back() && p < e)
        cuts.push_back(static_cast<size_t>(p - base));
    }
  } else {
    // Walk record by record (quotes may hide line ends); stop at the first malformed field and
    // leave the rest to the last chunk, whose parser reports it.
    std::string scratch;
    Field f;
    FieldStatus status;
    const char* err_at = nullptr;
    const char* p = base + data_start;
    size_t next = 1;
    while (p < e && next < n_chunks) {
      const size_t off = static_cast<size_t>(p - base);
      if (off >= data_start + len / n_chunks * next) {
        if (off > cuts.back()) cuts.push_back(off);
        ++next;
      }
      for (;;) {
        p = parse_field(p, e, delim, &f, &scratch, &status, &err_at);
        if (status != FieldStatus::kOk) {
          p = e;
          break;
        }
        if (p == e) break;
        if (*p == delim) {
          ++p;
          continue;
        }
        p = skip_line_end(p, e);
        break;
      }
    }
  }
  cuts.push_back(size);
  return cuts;
}

void Parser::throw_struct(const StructError& err) const {
  const size_t line = this->line(err.offset);
  const std::string column =
      err.column < n_cols() ? plan[err.column].name : fmt::format("extra field {}", err.column + 1);
  switch (err.kind) {
    case ErrKind::kRagged:
      RF_THROW_INPUT(
          "{}:line {} has {} field{}, the header has {}; every row needs one value per column "
          "(quote values that contain '{}')",
          path, line, err.fields, err.fields == 1 ? "" : "s", n_cols(), delim);
    case ErrKind::kUnterminated:
      RF_THROW_INPUT(
          "{}:line {}, column '{}': unterminated quote starting at line {}; close the quoted "
          "field with '\"' (write a quote inside it as \"\")",
          path, line, column, line);
    case ErrKind::kJunk:
      RF_THROW_INPUT(
          "{}:line {}, column '{}': unexpected text after a closing quote; quote the whole field "
          "and write a quote inside it as \"\"",
          path, line, column);
    case ErrKind::kNone:
      break;
  }
  RF_CHECK(false, "no structural error to report");
}

/// Runs fn(i) for i in [0, n) on up to `threads` threads; rethrows the first exception.
template <class Fn>
void parallel_for(size_t n, size_t threads, Fn fn) {
  if (n <= 1 || threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::vector<std::exception_ptr> errors(n);
  std::vector<std::thread> pool;
  const size_t t = std::min(n, threads);
  for (size_t w = 0; w < t; ++w)
    pool.emplace_back([&, w] {
      for (size_t i = w; i < n; i += t) {
        try {
          fn(i);
        } catch (...) {
          errors[i] = std::current_exception();
        }
      }
    });
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

// --- reader --------------------------------------------------------------------------------

Table read_csv(const std::string& path, const CsvOptions& opt) {
  const FileBuffer file(path);
  Parser ps;
  ps.path = path;
  ps.base = file.data();
  ps.size = file.size();
  ps.release_pages = file.mapped();
  ps.delim = opt.delimiter;
  ps.missing = opt.missing_tokens;
  for (const auto& tok : ps.missing) {
    double v;
    if (parse_number(tok, &v) != NumKind::kText) ps.numeric_tokens = true;
  }
  RF_CHECK_INPUT(ps.delim != '"' && ps.delim != '\n' && ps.delim != '\r',
                 "the CSV delimiter cannot be a quote or a line break");

  const char* const e = ps.base + ps.size;
  const char* p = ps.base;
  if (ps.size >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  while (p < e && (*p == '\n' || *p == '\r')) p = skip_line_end(p, e);
  RF_CHECK_INPUT(p < e, "{}: the file is empty; a CSV needs a header row and at least one data row",
                 path);

  // Header.
  const size_t header_off = static_cast<size_t>(p - ps.base);
  std::vector<std::string> names;
  {
    std::string scratch;
    Field f;
    FieldStatus status;
    const char* err_at = nullptr;
    for (;;) {
      p = parse_field(p, e, ps.delim, &f, &scratch, &status, &err_at);
      if (status == FieldStatus::kUnterminated)
        RF_THROW_INPUT(
            "{}:line {}: unterminated quote in the header (column {}) starting at line {}; close "
            "the quoted name with '\"'",
            path, ps.line(header_off), names.size() + 1,
            ps.line(static_cast<size_t>(err_at - ps.base)));
      if (status == FieldStatus::kJunkAfterQuote)
        RF_THROW_INPUT("{}:line {}: unexpected text after a closing quote in header column {}",
                       path, ps.line(header_off), names.size() + 1);
      names.emplace_back(f.text);
      if (p == e) break;
      if (*p == ps.delim) {
        ++p;
        continue;
      }
      p = skip_line_end(p, e);
      break;
    }
  }
  const size_t data_start = static_cast<size_t>(p - ps.base);
  const size_t header_line = ps.line(header_off);
  std::unordered_map<std::string_view, size_t> seen;
  for (size_t j = 0; j < names.size(); ++j) {
    RF_CHECK_INPUT(!names[j].empty(),
                   "{}:line {}: column {} has an empty name; give every column a name in the "
                   "header (pandas writes an unnamed index column unless told index=False)",
                   path, header_line, j + 1);
    const auto [it, fresh] = seen.emplace(names[j], j);
    RF_CHECK_INPUT(fresh,
                   "{}:line {}: duplicate column name '{}' (columns {} and {}); column names "
                   "must be unique",
                   path, header_line, names[j], it->second + 1, j + 1);
  }

  // Column plan: overrides, provenance columns.
  std::vector<std::string> data_names;
  for (const auto& n : names)
    if (!is_provenance_name(n)) data_names.push_back(n);
  RF_CHECK_INPUT(!data_names.empty(), "{}: the header names no data columns", path);
  auto check_known = [&](const std::vector<std::string>& list, const char* flag) {
    std::vector<std::string> unknown;
    for (const auto& n : list)
      if (std::find(data_names.begin(), data_names.end(), n) == data_names.end())
        unknown.push_back("'" + n + "'");
    RF_CHECK_INPUT(unknown.empty(), "{}: unknown column{} {} in '{}'; the columns are: {}", flag,
                   unknown.size() == 1 ? "" : "s", join_names(unknown), path,
                   join_names(data_names));
  };
  check_known(opt.categorical, "--categorical");
  check_known(opt.numeric, "--numeric");
  for (const auto& n : opt.numeric)
    RF_CHECK_INPUT(
        std::find(opt.categorical.begin(), opt.categorical.end(), n) == opt.categorical.end(),
        "column '{}' is named by both --categorical and --numeric; choose one", n);
  ps.plan.resize(names.size());
  for (size_t j = 0; j < names.size(); ++j) {
    ColumnPlan& cp = ps.plan[j];
    cp.name = names[j];
    if (names[j] == kMethod) {
      cp.role = Role::kCategorical;
    } else if (is_provenance_name(names[j])) {
      cp.role = Role::kNumeric;
      cp.numeric_reason = "provenance columns hold numbers";
    } else if (std::find(opt.categorical.begin(), opt.categorical.end(), names[j]) !=
               opt.categorical.end()) {
      cp.role = Role::kCategorical;
    } else if (std::find(opt.numeric.begin(), opt.numeric.end(), names[j]) != opt.numeric.end()) {
      cp.role = Role::kNumeric;
      cp.numeric_reason = "--numeric names this column";
    }
  }
  const size_t m = names.size();

  // Parse the chunks.
  const bool quotes = std::memchr(ps.base + data_start, '"', ps.size - data_start) != nullptr;
  const size_t threads = opt.threads > 0 ? static_cast<size_t>(opt.threads)
                                         : std::max(1u, std::thread::hardware_concurrency());
  const size_t n_wanted =
      std::max<size_t>(1, std::min(threads, (ps.size - data_start) / kMinChunkBytes));
  const std::vector<size_t> cuts = ps.boundaries(data_start, n_wanted, quotes);
  const size_t n_chunks = cuts.size() - 1;
  std::vector<ChunkOut> chunks(n_chunks);
  parallel_for(n_chunks, threads,
               [&](size_t c) { ps.parse_chunk(cuts[c], cuts[c + 1], &chunks[c]); });
  for (const auto& ch : chunks)
    if (ch.err.kind != ErrKind::kNone) ps.throw_struct(ch.err);
  size_t n_rows = 0;
  for (const auto& ch : chunks) n_rows += ch.rows.size();
  RF_CHECK_INPUT(n_rows > 0,
                 "{}: no data rows after the header (line {}); a table needs at least one row",
                 path, header_line);

  // Value errors in columns that stay numeric (earliest in the file wins); columns to re-read as
  // text.
  std::vector<char> as_text(m, 0);
  struct ValueError {
    size_t offset = kNone;
    size_t column = 0;
    bool inf = false;
  } verr;
  for (size_t j = 0; j < m; ++j) {
    if (ps.plan[j].role == Role::kCategorical) continue;
    size_t text = kNone, inf = kNone;
    for (const auto& ch : chunks) {
      text = std::min(text, ch.first_text[j]);
      inf = std::min(inf, ch.first_inf[j]);
    }
    if (text != kNone && ps.plan[j].role == Role::kInfer) {
      as_text[j] = 1;
      continue;
    }
    if (text < verr.offset) verr = {text, j, false};
    if (inf < verr.offset) verr = {inf, j, true};
  }
  if (verr.offset != kNone) {
    std::string scratch;
    Field f;
    FieldStatus status;
    const char* err_at = nullptr;
    parse_field(ps.base + verr.offset, e, ps.delim, &f, &scratch, &status, &err_at);
    const ColumnPlan& cp = ps.plan[verr.column];
    const size_t line = ps.line(verr.offset);
    if (verr.inf)
      RF_THROW_INPUT(
          "{}:line {}, column '{}': Inf value '{}'; numeric values must be finite (write a "
          "missing token such as NA instead, or pass --categorical {} to keep it as text)",
          path, line, cp.name, f.text, cp.name);
    RF_THROW_INPUT(
        "{}:line {}, column '{}': '{}' is not a number, but {}; fix the value{}", path, line,
        cp.name, f.text, cp.numeric_reason,
        cp.numeric_reason.rfind("--numeric", 0) == 0 ? " or drop the column from --numeric" : "");
  }
  if (std::find(as_text.begin(), as_text.end(), 1) != as_text.end()) {
    for (auto& ch : chunks)
      for (size_t j = 0; j < m; ++j)
        if (as_text[j]) std::vector<double>().swap(ch.num[j]);
    parallel_for(n_chunks, threads, [&](size_t c) { ps.text_pass(as_text, &chunks[c]); });
  }

  // Assemble the columns.
  const size_t capacity =
      n_rows + static_cast<size_t>(std::max(0.0, opt.headroom) * static_cast<double>(n_rows));
  // The room is a request: where the address space is refused, the column is read without it.
  auto reserve = [&](auto& v) {
    try {
      v.reserve(capacity);
    } catch (const std::bad_alloc&) {
      v.reserve(n_rows);
    } catch (const std::length_error&) {  // room beyond max_size(): none
      v.reserve(n_rows);
    }
  };
  std::vector<Column> cols(m);
  parallel_for(m, threads, [&](size_t j) {
    Column& col = cols[j];
    if (ps.plan[j].role != Role::kCategorical && !as_text[j]) {
      if (n_chunks == 1 && chunks[0].num[j].capacity() >= capacity) {
        col = Column::numeric(names[j], std::move(chunks[0].num[j]));
        return;
      }
      std::vector<double> v;
      reserve(v);
      for (auto& ch : chunks) {
        v.insert(v.end(), ch.num[j].begin(), ch.num[j].end());
        std::vector<double>().swap(ch.num[j]);
      }
      col = Column::numeric(names[j], std::move(v));
      return;
    }
    std::unordered_map<std::string_view, int32_t> index;
    std::vector<std::string> cats;
    std::vector<int32_t> codes;
    reserve(codes);
    for (auto& ch : chunks) {
      const CatBuilder& cb = ch.cat[j];
      std::vector<int32_t> remap(cb.cats.size());
      for (size_t k = 0; k < cb.cats.size(); ++k) {
        auto it = index.find(cb.cats[k]);
        if (it == index.end()) {
          it = index.emplace(cb.cats[k], static_cast<int32_t>(cats.size())).first;
          cats.emplace_back(cb.cats[k]);
        }
        remap[k] = it->second;
      }
      for (int32_t c : cb.codes) codes.push_back(c < 0 ? -1 : remap[c]);
    }
    col = Column::categorical(names[j], std::move(cats), std::move(codes));
  });

  // Row -> line, for messages about single cells.
  auto line_of_row = [&](size_t i) {
    for (const auto& ch : chunks) {
      if (i < ch.rows.size()) return ps.line(ch.rows[i]);
      i -= ch.rows.size();
    }
    return size_t{0};
  };

  Table table;
  Provenance prov;
  bool has_prov = false;
  for (size_t j = 0; j < m; ++j) {
    if (!is_provenance_name(names[j])) {
      table.add_column(std::move(cols[j]));
      continue;
    }
    if (!has_prov) {
      prov = original_provenance(n_rows);
      has_prov = true;
    }
    const Column& c = cols[j];
    if (names[j] == kMethod) {
      prov.methods = c.categories();
      prov.method = c.codes;
      continue;
    }
    for (size_t i = 0; i < n_rows; ++i) {
      const double v = c.num[i];
      if (names[j] == kGap) {
        prov.gap[i] = v;
      } else if (names[j] == kSynthetic) {
        RF_CHECK_INPUT(v == 0 || v == 1, "{}:line {}, column '{}': expected 0 or 1, got '{}'", path,
                       line_of_row(i), names[j], c.cell_text(i));
        prov.synthetic[i] = static_cast<uint8_t>(v);
      } else {
        const bool ok = std::isnan(v) || (v >= -1 && v == std::floor(v) && v < 9.0e18);
        RF_CHECK_INPUT(ok, "{}:line {}, column '{}': expected a row index or -1, got '{}'", path,
                       line_of_row(i), names[j], c.cell_text(i));
        const int64_t r = std::isnan(v) ? -1 : static_cast<int64_t>(v);
        (names[j] == kParent ? prov.parent : prov.neighbor)[i] = r;
      }
    }
  }
  if (has_prov) table.provenance() = std::move(prov);

  // Target.
  std::string target = opt.target;
  if (target.empty()) target = data_names.back();
  if (target != "-") {
    const int tj = table.index_of(target);
    if (tj >= 0) {
      const Column& c = table.column(static_cast<size_t>(tj));
      for (size_t i = 0; i < n_rows; ++i)
        RF_CHECK_INPUT(!c.is_missing(i),
                       "{}:line {}, column '{}': the target value is missing; every row needs a "
                       "class (drop or fill those rows)",
                       path, line_of_row(i), target);
    }
    table.set_target(target);
    const auto& classes = table.class_names();
    RF_CHECK_INPUT(classes.size() >= 2 || (!opt.require_two_classes && classes.size() == 1),
                   "{}: target column '{}' has only one class ('{}'); a classification table "
                   "needs at least two",
                   path, target, classes.empty() ? std::string() : classes.front());
  }
  return table;
}

// --- writer --------------------------------------------------------------------------------

namespace {

const CsvOptions kDefaultCsv{};

bool name_needs_quotes(std::string_view s, char delim) {
  if (s.empty()) return true;
  if (is_blank(s.front(), delim) || is_blank(s.back(), delim)) return true;
  for (char c : s)
    if (c == delim || c == '"' || c == '\n' || c == '\r') return true;
  return false;
}

/// A category is quoted when read_csv would otherwise change it: structure characters, blanks at
/// either end, the empty string, a default missing token, or text that parses as a number.
bool category_needs_quotes(std::string_view s, char delim) {
  if (name_needs_quotes(s, delim)) return true;
  for (const auto& tok : kDefaultCsv.missing_tokens)
    if (s == tok) return true;
  double v;
  return parse_number(s, &v) != NumKind::kText;
}

void append_quoted(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    out->push_back(c);
    if (c == '"') out->push_back('"');
  }
  out->push_back('"');
}

}  // namespace

void write_csv(const Table& table, const std::string& path) {
  const char delim = kDefaultCsv.delimiter;
  const size_t n = table.n_rows();
  const size_t m = table.n_cols();
  RF_CHECK(m > 0, "write_csv: the table has no columns ('{}')", path);
  const Provenance& prov = table.provenance();
  const bool with_prov = !prov.empty();
  if (with_prov) {
    RF_CHECK(prov.synthetic.size() == n && prov.method.size() == n && prov.parent.size() == n &&
                 prov.neighbor.size() == n && prov.gap.size() == n,
             "write_csv: provenance has {} rows, the table {}", prov.synthetic.size(), n);
  }
  for (const auto& c : table.columns())
    RF_CHECK(!is_provenance_name(c.name()),
             "write_csv: column '{}' uses a name reserved for provenance; rename it", c.name());
  auto check_finite = [&](const std::vector<double>& v, const std::string& name) {
    for (size_t i = 0; i < v.size(); ++i)
      if (std::isinf(v[i]))
        throw Error(
            fmt::format("cannot write '{}': column '{}' row {} is {}, which CSV input "
                        "rejects; replace infinite values first",
                        path, name, i + 1, format_double(v[i])));
  };
  for (const auto& c : table.columns())
    if (c.is_numeric()) check_finite(c.num, c.name());
  if (with_prov) check_finite(prov.gap, kGap);
  // One-column rows that are missing would be blank lines, which read_csv skips: write "NA".
  const std::string_view missing_cell = (m == 1 && !with_prov) ? "NA" : "";
  // Per column: text of each category as it appears in the file.
  std::vector<std::vector<std::string>> cat_text(m);
  for (size_t j = 0; j < m; ++j) {
    const Column& c = table.column(j);
    if (c.is_numeric()) continue;
    for (const auto& s : c.categories()) {
      std::string t;
      if (category_needs_quotes(s, delim))
        append_quoted(&t, s);
      else
        t = s;
      cat_text[j].push_back(std::move(t));
    }
  }
  std::vector<std::string> method_text;
  for (const auto& s : prov.methods) {
    std::string t;
    if (category_needs_quotes(s, delim))
      append_quoted(&t, s);
    else
      t = s;
    method_text.push_back(std::move(t));
  }

  AtomicFile atomic(path);
  std::FILE* f = std::fopen(atomic.temp_path().c_str(), "wb");
  if (!f) RF_THROW_INPUT("cannot write '{}': {}", path, std::strerror(errno));
  std::string buf;
  constexpr size_t kFlush = 1 << 20;
  buf.reserve(kFlush + 4096);
  bool io_ok = true;
  auto flush = [&] {
    if (!buf.empty() && std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) io_ok = false;
    buf.clear();
  };
  auto put_name = [&](const std::string& name) {
    if (name_needs_quotes(name, delim))
      append_quoted(&buf, name);
    else
      buf += name;
  };
  auto put_number = [&](double v) {  // same text as format_double
    char tmp[32];
    const auto r = std::to_chars(tmp, tmp + sizeof(tmp), v);
    buf.append(tmp, r.ptr);
  };
  auto put_int = [&](int64_t v) {
    char tmp[24];
    const auto r = std::to_chars(tmp, tmp + sizeof(tmp), v);
    buf.append(tmp, r.ptr);
  };

  for (size_t j = 0; j < m; ++j) {
    if (j) buf.push_back(delim);
    put_name(table.column(j).name());
  }
  if (with_prov)
    for (const char* name : kProvenanceNames) {
      buf.push_back(delim);
      buf += name;
    }
  buf.push_back('\n');
  for (size_t i = 0; i < n && io_ok; ++i) {
    for (size_t j = 0; j < m; ++j) {
      if (j) buf.push_back(delim);
      const Column& c = table.column(j);
      if (c.is_numeric()) {
        if (std::isnan(c.num[i]))
          buf += missing_cell;
        else
          put_number(c.num[i]);
      } else {
        const int32_t code = c.codes[i];
        if (code < 0)
          buf += missing_cell;
        else
          buf += cat_text[j][static_cast<size_t>(code)];
      }
    }
    if (with_prov) {
      buf.push_back(delim);
      buf.push_back(prov.synthetic[i] ? '1' : '0');
      buf.push_back(delim);
      if (prov.method[i] >= 0) buf += method_text.at(static_cast<size_t>(prov.method[i]));
      buf.push_back(delim);
      put_int(prov.parent[i]);
      buf.push_back(delim);
      put_int(prov.neighbor[i]);
      buf.push_back(delim);
      if (!std::isnan(prov.gap[i])) put_number(prov.gap[i]);
    }
    buf.push_back('\n');
    if (buf.size() >= kFlush) flush();
  }
  flush();
  const int err = io_ok ? 0 : errno;
  if (std::fclose(f) != 0) io_ok = false;
  if (!io_ok)
    throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(err ? err : errno)));
  atomic.commit();
}

}  // namespace rareforge
