// Helpers shared by the tests: temporary directories, running the CLI, writing small files.
#pragma once

#include <ftw.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace rareforge::test {

/// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rftest-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  // Removed with POSIX nftw, not std::filesystem::remove_all: PyTorch's pip LibTorch (2.11)
  // exports its own copy of remove_all, which a test program linked to it calls instead of
  // libstdc++'s, and that copy jumps to address 0 (seen on the GPU machine). The CLI is not
  // affected: it loads LibTorch inside a module opened with RTLD_LOCAL.
  ~TempDir() {
    nftw(
        path_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) {
          std::remove(p);
          return 0;
        },
        16, FTW_DEPTH | FTW_PHYS);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }
  /// Number of entries in the directory (to check that nothing was left behind).
  size_t n_entries() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct CliResult {
  int status = -1;     ///< exit status
  std::string output;  ///< stdout
  std::string errors;  ///< stderr
};

/// Run the rareforge CLI with `args` (a shell-quoted string), capturing stdout and stderr;
/// `env` (e.g. "LD_DEBUG=libs") is put before the command.
inline CliResult run_cli(const std::string& args, const std::string& env = "") {
  TempDir tmp;
  const std::string out = tmp.file("stdout"), err = tmp.file("stderr");
  const std::string cmd = env + (env.empty() ? "'" : " '") + RAREFORGE_CLI + "' " + args + " >'" +
                          out + "' 2>'" + err + "'";
  const int rc = std::system(cmd.c_str());
  CliResult r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.output = read_file(out);
  r.errors = read_file(err);
  return r;
}

inline std::string source_path(const std::string& rel) {
  return std::string(RAREFORGE_SOURCE_DIR) + "/" + rel;
}

}  // namespace rareforge::test
