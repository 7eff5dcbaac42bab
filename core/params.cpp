#include "core/params.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/table.h"
#include "core/text.h"

namespace rareforge {

namespace {

const char* type_name(ParamType t) {
  switch (t) {
    case ParamType::kInt:
      return "int";
    case ParamType::kDouble:
      return "number";
    case ParamType::kString:
      return "text";
    case ParamType::kBool:
      return "bool";
  }
  return "?";
}

bool parse_int(const std::string& s, int64_t& out) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e && b != e;
}

bool parse_double(const std::string& s, double& out) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e && b != e && std::isfinite(out);
}

bool parse_bool(const std::string& s, bool& out) {
  if (s == "1" || s == "true" || s == "yes" || s == "on") return out = true, true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return out = false, true;
  return false;
}

std::string bound_text(const ParamDef& d) {
  const bool lo = d.min > -1e299, hi = d.max < 1e299;
  if (lo && hi) return fmt::format("in [{}, {}]", format_double(d.min), format_double(d.max));
  if (lo) return fmt::format(">= {}", format_double(d.min));
  if (hi) return fmt::format("<= {}", format_double(d.max));
  return "";
}

}  // namespace

MethodSpec parse_method_spec(const std::string& text, const std::string& what) {
  MethodSpec spec;
  spec.text = trim(text);
  const auto colon = spec.text.find(':');
  spec.name = trim(spec.text.substr(0, colon));
  RF_CHECK_INPUT(!spec.name.empty(), "{}: '{}' has no method name; expected NAME[:key=value,...]",
                 what, text);
  if (colon == std::string::npos) return spec;
  const std::string rest = trim(spec.text.substr(colon + 1));
  if (rest.empty()) return spec;  // "smote:" is "smote"
  size_t pos = 0;
  for (;;) {
    const auto comma = rest.find(',', pos);
    const std::string item =
        trim(rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    const auto eq = item.find('=');
    RF_CHECK_INPUT(eq != std::string::npos && eq > 0,
                   "{}: '{}' in '{}' is not key=value; expected NAME[:key=value,...]", what, item,
                   text);
    const std::string key = trim(item.substr(0, eq));
    for (const auto& kv : spec.params)
      RF_CHECK_INPUT(kv.first != key, "{}: parameter '{}' given twice in '{}'", what, key, text);
    spec.params.emplace_back(key, trim(item.substr(eq + 1)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return spec;
}

ParamDef int_param(std::string name, std::string def, double min, double max, std::string desc) {
  ParamDef d;
  d.name = std::move(name);
  d.type = ParamType::kInt;
  d.default_value = std::move(def);
  d.min = min;
  d.max = max;
  d.description = std::move(desc);
  return d;
}

ParamDef double_param(std::string name, std::string def, double min, double max, std::string desc) {
  ParamDef d = int_param(std::move(name), std::move(def), min, max, std::move(desc));
  d.type = ParamType::kDouble;
  return d;
}

ParamDef string_param(std::string name, std::string def, std::string desc,
                      std::vector<std::string> choices) {
  ParamDef d;
  d.name = std::move(name);
  d.type = ParamType::kString;
  d.default_value = std::move(def);
  d.choices = std::move(choices);
  d.description = std::move(desc);
  return d;
}

ParamDef bool_param(std::string name, std::string def, std::string desc) {
  ParamDef d;
  d.name = std::move(name);
  d.type = ParamType::kBool;
  d.default_value = std::move(def);
  d.description = std::move(desc);
  return d;
}

ParamValues check_params(const MethodSpec& spec, const std::vector<ParamDef>& defs) {
  ParamValues out;
  for (const auto& [key, value] : spec.params) {
    const auto it =
        std::find_if(defs.begin(), defs.end(), [&](const ParamDef& d) { return d.name == key; });
    if (it == defs.end()) {
      std::string valid;
      for (const auto& d : defs) valid += (valid.empty() ? "" : ", ") + d.name;
      RF_THROW_INPUT("method '{}' has no parameter '{}'; valid parameters: {}", spec.name, key,
                     valid.empty() ? "(none)" : valid);
    }
    out.given_.push_back(key);
  }
  for (const auto& d : defs) {
    std::string value = d.default_value;
    for (const auto& [key, v] : spec.params)
      if (key == d.name) value = v;
    out.order_.push_back(d.name);
    if (value.empty() && d.type != ParamType::kString) {
      out.values_[d.name] = "";
      continue;
    }
    const auto bad = [&](const std::string& why) {
      RF_THROW_INPUT("method '{}': {}={} {}; {}", spec.name, d.name, value, why, describe_param(d));
    };
    if (d.type == ParamType::kInt) {
      int64_t v;
      if (!parse_int(value, v)) bad("is not an integer");
      if (static_cast<double>(v) < d.min || static_cast<double>(v) > d.max)
        bad("is out of range (" + bound_text(d) + ")");
    } else if (d.type == ParamType::kDouble) {
      double v;
      if (!parse_double(value, v)) bad("is not a finite number");
      if (v < d.min || v > d.max) bad("is out of range (" + bound_text(d) + ")");
    } else if (d.type == ParamType::kBool) {
      bool v;
      if (!parse_bool(value, v)) bad("is not a boolean (true/false)");
    } else if (!d.choices.empty() &&
               std::find(d.choices.begin(), d.choices.end(), value) == d.choices.end()) {
      bad("is not one of the allowed values");
    }
    out.values_[d.name] = value;
  }
  return out;
}

bool ParamValues::given(const std::string& name) const {
  return std::find(given_.begin(), given_.end(), name) != given_.end();
}

int64_t ParamValues::get_int(const std::string& name) const {
  const auto it = values_.find(name);
  RF_CHECK(it != values_.end(), "no parameter '{}'", name);
  int64_t v = 0;
  RF_CHECK(parse_int(it->second, v), "parameter '{}' = '{}' is not an int", name, it->second);
  return v;
}

double ParamValues::get_double(const std::string& name) const {
  const auto it = values_.find(name);
  RF_CHECK(it != values_.end(), "no parameter '{}'", name);
  double v = 0;
  RF_CHECK(parse_double(it->second, v), "parameter '{}' = '{}' is not a number", name, it->second);
  return v;
}

bool ParamValues::get_bool(const std::string& name) const {
  const auto it = values_.find(name);
  RF_CHECK(it != values_.end(), "no parameter '{}'", name);
  bool v = false;
  RF_CHECK(parse_bool(it->second, v), "parameter '{}' = '{}' is not a bool", name, it->second);
  return v;
}

const std::string& ParamValues::get_string(const std::string& name) const {
  const auto it = values_.find(name);
  RF_CHECK(it != values_.end(), "no parameter '{}'", name);
  return it->second;
}

std::string ParamValues::canonical(const std::string& method) const {
  std::string s = method;
  bool first = true;
  for (const auto& k : order_) {
    const auto& v = values_.at(k);
    if (v.empty()) continue;
    s += (first ? ":" : ",") + k + "=" + v;
    first = false;
  }
  return s;
}

std::string describe_param(const ParamDef& d) {
  std::string s = fmt::format("{} ({}", d.name, type_name(d.type));
  s += d.default_value.empty() ? ", no default" : ", default " + d.default_value;
  const std::string b = bound_text(d);
  if (!b.empty() && (d.type == ParamType::kInt || d.type == ParamType::kDouble)) s += ", " + b;
  if (!d.choices.empty()) {
    std::string c;
    for (const auto& x : d.choices) c += (c.empty() ? "" : "|") + x;
    s += ", one of " + c;
  }
  s += ")";
  if (!d.description.empty()) s += ": " + d.description;
  return s;
}

std::vector<int64_t> parse_layer_widths(const std::string& method, const std::string& key,
                                        const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, '-')) {
    try {
      size_t used = 0;
      const long long v = std::stoll(item, &used);
      RF_CHECK_INPUT(used == item.size() && v >= 1 && v <= 100000, "bad");
      out.push_back(v);
    } catch (const std::exception&) {
      RF_THROW_INPUT(
          "{}: {}='{}' must be layer widths joined by '-', e.g. {}=128-128 (each "
          "1..100000)",
          method, key, text, key);
    }
  }
  RF_CHECK_INPUT(!out.empty(), "{}: {}='{}' names no layer; e.g. {}=128-128", method, key, text,
                 key);
  RF_CHECK_INPUT(text.back() != '-', "{}: {}='{}' ends with '-'; e.g. {}=128-128", method, key,
                 text, key);
  return out;
}

}  // namespace rareforge
