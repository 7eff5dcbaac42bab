// Small string helpers shared by the parsers of flags and specs (strategy, preprocessing,
// method specs).
#pragma once

#include <cctype>
#include <string>
#include <vector>

namespace rareforge {

/// `s` without leading and trailing white space.
inline std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

/// `s` cut at every `sep`, each piece trimmed; "" gives one empty piece.
inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t p = s.find(sep, start);
    out.push_back(trim(s.substr(start, p == std::string::npos ? std::string::npos : p - start)));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

}  // namespace rareforge
