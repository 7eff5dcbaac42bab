// Errors and CHECK macros.
//
// rareforge distinguishes two kinds of failure, because the CLI maps them to exit codes:
//   * InputError  — the user gave bad input or bad usage (missing file, ragged CSV, unknown
//                   column, bad method spec, too few rows for k, NaN where a method cannot take
//                   it). The message is one line that names the file/line/column or the flag and
//                   says what to do. Exit status 2.
//   * Error       — anything else that fails while running (I/O failure, internal invariant).
//                   Exit status 1.
//
// RF_CHECK_INPUT(cond, fmt, args...)   throws InputError with the formatted message.
// RF_THROW_INPUT(fmt, args...)         same, unconditionally.
// RF_CHECK(cond, fmt, args...)         internal invariant: message carries the condition text
//                                      and file:line as well as the formatted message.
// RF_DCHECK(cond)                      RF_CHECK only in debug builds.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace rareforge {

/// Failure while running (exit status 1).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  /// Process exit status the CLI uses for this error.
  virtual int exit_code() const noexcept { return 1; }
};

/// Bad input or bad usage (exit status 2). The message is meant for the user as it is.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(what) {}
  int exit_code() const noexcept override { return 2; }
};

namespace detail {
[[noreturn]] void throw_check_failure(const char* cond, const char* file, int line,
                                      const std::string& msg);
}  // namespace detail

}  // namespace rareforge

#define RF_THROW_INPUT(...) throw ::rareforge::InputError(::fmt::format(__VA_ARGS__))

#define RF_CHECK_INPUT(cond, ...)                                           \
  do {                                                                      \
    if (!(cond)) throw ::rareforge::InputError(::fmt::format(__VA_ARGS__)); \
  } while (0)

#define RF_CHECK(cond, ...)                                                 \
  do {                                                                      \
    if (!(cond))                                                            \
      ::rareforge::detail::throw_check_failure(#cond, __FILE__, __LINE__,   \
                                               ::fmt::format(__VA_ARGS__)); \
  } while (0)

#ifdef NDEBUG
#define RF_DCHECK(cond) \
  do {                  \
  } while (0)
#else
#define RF_DCHECK(cond) RF_CHECK(cond, "internal invariant")
#endif
