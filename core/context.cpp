#include "core/context.h"

#include <cstdlib>
#include <thread>

#include "core/error.h"

namespace rareforge {

Device Device::parse(const std::string& text) {
  Device d;
  if (text == "cpu") {
    d.kind = Kind::kCpu;
  } else if (text == "auto") {
    d.kind = Kind::kAuto;
  } else if (text == "cuda") {
    d.kind = Kind::kCuda;
  } else if (text.rfind("cuda:", 0) == 0) {
    const std::string num = text.substr(5);
    char* end = nullptr;
    const long idx = num.empty() ? -1 : std::strtol(num.c_str(), &end, 10);
    RF_CHECK_INPUT(!num.empty() && end && *end == '\0' && idx >= 0 && idx < 1024,
                   "--device: '{}' has no valid GPU number; use cpu, cuda, cuda:N or auto", text);
    d.kind = Kind::kCuda;
    d.index = static_cast<int>(idx);
  } else {
    RF_THROW_INPUT("--device: unknown device '{}'; use cpu, cuda, cuda:N or auto", text);
  }
  return d;
}

std::string Device::str() const {
  switch (kind) {
    case Kind::kCpu:
      return "cpu";
    case Kind::kAuto:
      return "auto";
    case Kind::kCuda:
      return "cuda:" + std::to_string(index);
  }
  return "cpu";
}

int Context::n_threads() const {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

}  // namespace rareforge
