#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>

namespace rareforge {

namespace {
std::atomic<bool> g_quiet{false};
std::atomic<size_t> g_warnings{0};
std::mutex g_mu;
std::set<std::string>& seen() {
  static std::set<std::string> s;
  return s;
}
void emit(const char* prefix, const std::string& msg) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!seen().insert(std::string(prefix) + msg).second) return;
  if (prefix[0] == 'w') ++g_warnings;
  if (!g_quiet) std::fprintf(stderr, "rareforge: %s%s\n", prefix, msg.c_str());
}
}  // namespace

void set_quiet(bool quiet) { g_quiet = quiet; }
bool is_quiet() { return g_quiet; }
void warn_once(const std::string& msg) { emit("warning: ", msg); }
void note_once(const std::string& msg) { emit("", msg); }
size_t warning_count() { return g_warnings; }

}  // namespace rareforge
