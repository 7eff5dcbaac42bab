// Method specs and parameter tables, shared by every registry (samplers, generators,
// classifiers).
//
// A method spec is `NAME[:key=value,...]` (DESIGN.md), e.g. `smote:k=5`,
// `borderline-smote:kind=2,m=10`, `ctgan:epochs=300,batch=500`. parse_method_spec splits it;
// a registry entry's ParamTable then checks every key (unknown keys are errors listing the valid
// ones), converts values, applies bounds and fills defaults. The result is a ParamValues that the
// method reads with get_int / get_double / get_string.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rareforge {

struct MethodSpec {
  std::string name;
  /// key -> raw value text, in the order given (duplicates are an error at parse time).
  std::vector<std::pair<std::string, std::string>> params;
  /// The spec as typed (for messages and provenance).
  std::string text;
};

/// Parse `NAME[:key=value,...]`. Throws InputError naming `what` (e.g. "--method") for an empty
/// name, a missing '=', an empty key, or a repeated key.
MethodSpec parse_method_spec(const std::string& text, const std::string& what = "--method");

enum class ParamType { kInt, kDouble, kString, kBool };

/// One parameter of a method: name, type, default, bounds (inclusive; numeric types), allowed
/// values (string type; empty = any), and a one-line description.
struct ParamDef {
  std::string name;
  ParamType type = ParamType::kDouble;
  std::string default_value;  ///< as text; "" with `required` false means "unset"
  double min = -1e300;
  double max = 1e300;
  std::vector<std::string> choices;
  std::string description;
};

/// Checked parameter values of one method (all defaults filled in).
class ParamValues {
 public:
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  /// True if the user gave this key explicitly.
  bool given(const std::string& name) const;
  /// Canonical `name:k=v,...` with every parameter, keys in definition order.
  std::string canonical(const std::string& method) const;

  // Filled by ParamTable::check.
  std::map<std::string, std::string> values_;
  std::vector<std::string> order_;
  std::vector<std::string> given_;
};

/// Builders for ParamDef tables (bounds inclusive; `choices` empty = any text).
ParamDef int_param(std::string name, std::string def, double min, double max, std::string desc);
ParamDef double_param(std::string name, std::string def, double min, double max, std::string desc);
ParamDef string_param(std::string name, std::string def, std::string desc,
                      std::vector<std::string> choices = {});
ParamDef bool_param(std::string name, std::string def, std::string desc);

/// Check spec.params against `defs`: every key known (else InputError listing the valid keys of
/// `method`), every value of the right type and within bounds (else InputError naming method,
/// key, value and the bound). Missing keys get their defaults.
ParamValues check_params(const MethodSpec& spec, const std::vector<ParamDef>& defs);

/// Layer widths of a network parameter written as widths joined by '-' ("128-128"), each in
/// 1..100000 (the text parameters `hidden`, `compress_dims`, ... of mlp and the generators).
/// InputError naming `method` and `key` otherwise.
std::vector<int64_t> parse_layer_widths(const std::string& method, const std::string& key,
                                        const std::string& text);

/// "k (int, default 5, >= 1): neighbours used for interpolation" — for `rareforge methods`.
std::string describe_param(const ParamDef& def);

}  // namespace rareforge
