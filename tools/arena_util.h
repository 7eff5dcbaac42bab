// Small helpers shared by the arena's source files (tools/arena.cpp, tools/bundle.cpp).
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace rareforge::arena::detail {

/// `text` with every character other than [A-Za-z0-9.-] replaced by '_' (file-name safe).
std::string slug(const std::string& text);
/// Current UTC time, ISO 8601 ("2026-11-25T20:00:00Z").
std::string now_iso();
/// Seconds since `t0`.
double seconds_since(std::chrono::steady_clock::time_point t0);
/// Write `text` to `path` through a temporary file and a rename (core/io.h AtomicFile).
void write_text_atomic(const std::string& path, const std::string& text);
/// Parse a JSON file; `comments` allows // and /* */ comments. InputError naming the file.
nlohmann::json read_json_file(const std::string& path, bool comments);
/// The canonical spec of a classifier spec (loading the LibTorch extension for mlp);
/// InputError naming `classifiers` for a bad one.
std::string canonical_classifier(const std::string& spec);
/// NaN as JSON null (JSON has no NaN), and back.
nlohmann::json num(double v);
double get_num(const nlohmann::json& j);

}  // namespace rareforge::arena::detail
