#include "core/error.h"

namespace rareforge::detail {

void throw_check_failure(const char* cond, const char* file, int line, const std::string& msg) {
  throw Error(fmt::format("{} (check `{}` failed at {}:{})", msg, cond, file, line));
}

}  // namespace rareforge::detail
