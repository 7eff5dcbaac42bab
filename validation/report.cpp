// Writing the validation report: JSON, HDF5 (same content) and the Markdown summary.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hdf5_util.h"
#include "core/io.h"
#include "validation/validate.h"

namespace rareforge::validation {

using nlohmann::json;

namespace {

bool all_numbers(const json& a) {
  for (const json& v : a)
    if (!v.is_number() && !v.is_null()) return false;
  return true;
}

bool all_strings(const json& a) {
  for (const json& v : a)
    if (!v.is_string()) return false;
  return !a.empty();
}

void write_value(const h5::Group& g, const std::string& key, const json& v);

void write_object(const h5::Group& g, const json& obj) {
  for (auto it = obj.begin(); it != obj.end(); ++it) write_value(g, it.key(), it.value());
}

// JSON -> HDF5: object -> group (creation order kept); array of numbers -> float64 dataset
// (null -> NaN); array of strings -> string dataset; other arrays -> group with members "0",
// "1", ...; number -> float64 attribute (integers: int64); string -> string attribute; bool ->
// int64 attribute 0/1; null -> float64 attribute NaN.
void write_value(const h5::Group& g, const std::string& key, const json& v) {
  if (v.is_object()) {
    write_object(g.create_group(key, true), v);
  } else if (v.is_array()) {
    if (all_numbers(v)) {
      std::vector<double> x;
      for (const json& e : v) x.push_back(e.is_null() ? std::nan("") : e.get<double>());
      g.write(key, x);
    } else if (all_strings(v)) {
      g.write_strings(key, v.get<std::vector<std::string>>());
    } else {
      const h5::Group sub = g.create_group(key, true);
      for (size_t i = 0; i < v.size(); ++i) write_value(sub, std::to_string(i), v[i]);
    }
  } else if (v.is_boolean()) {
    g.set_attr_i64(key, v.get<bool>() ? 1 : 0);
  } else if (v.is_number_integer()) {
    g.set_attr_i64(key, v.get<int64_t>());
  } else if (v.is_number()) {
    g.set_attr_f64(key, v.get<double>());
  } else if (v.is_string()) {
    g.set_attr_str(key, v.get<std::string>());
  } else {
    g.set_attr_f64(key, std::nan(""));
  }
}

std::string fmt_value(const json& v) {
  if (v.is_null()) return "n/a";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return fmt::format("{:.4g}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

/// `a`, `b`: a list of strings for the summary.
std::string fmt_list(const json& v) {
  std::string out;
  for (const json& e : v) out += (out.empty() ? "`" : ", `") + fmt_value(e) + "`";
  return out;
}

json at(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return nullptr;
    p = &(*p)[k];
  }
  return *p;
}

void section_lines(std::ostringstream& md, const json& s) {
  md << "| metric | value |\n|---|---|\n";
  auto row = [&](const char* name, const json& v) {
    md << "| " << name << " | " << fmt_value(v) << " |\n";
  };
  row("rows real / synthetic", json(fmt_value(s["n_real"]) + " / " + fmt_value(s["n_synthetic"])));
  row("quality overall (SDMetrics-style)", at(s, {"quality", "overall"}));
  row("column shapes", at(s, {"quality", "column_shapes"}));
  row("column pair trends", at(s, {"quality", "column_pair_trends"}));
  row("boundary adherence (mean)", s.value("boundary_adherence_mean", json(nullptr)));
  row("MMD^2 (median bandwidth)", at(s, {"mmd", "mmd2"}));
  row("MMD^2 multi-bandwidth", at(s, {"mmd", "mmd2_multi"}));
  row("MMD permutation p-value", at(s, {"mmd", "p_value"}));
  if (s.contains("detection") && s["detection"].is_object())
    for (auto it = s["detection"].begin(); it != s["detection"].end(); ++it)
      if (it.value().is_object() && it.value().contains("auc")) {
        md << "| detection " << it.key() << " AUC / score | " << fmt_value(it.value()["auc"])
           << " / " << fmt_value(it.value()["score"]) << " |\n";
      }
  row("PRDC precision", at(s, {"prdc", "precision"}));
  row("PRDC recall", at(s, {"prdc", "recall"}));
  row("PRDC density", at(s, {"prdc", "density"}));
  row("PRDC coverage", at(s, {"prdc", "coverage"}));
  row("diversity ratio (synthetic / real mean pairwise distance)", at(s, {"diversity", "ratio"}));
  row("DCR median", at(s, {"privacy", "dcr", "median"}));
  row("DCR baseline protection", at(s, {"privacy", "dcr", "baseline_protection"}));
  row("DCR overfitting protection", at(s, {"privacy", "dcr", "overfitting_protection"}));
  row("NNDR median", at(s, {"privacy", "nndr", "median"}));
  row("exact duplicates", at(s, {"privacy", "duplicates", "exact"}));
  row("near duplicates", at(s, {"privacy", "duplicates", "near"}));
}

}  // namespace

std::string summary_path(const std::string& report_path) {
  const size_t slash = report_path.find_last_of('/');
  const size_t dot = report_path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return report_path + ".md";
  return report_path.substr(0, dot) + ".md";
}

std::string markdown_summary(const json& r) {
  std::ostringstream md;
  md << "# Validation report\n\n";
  const json& in = r["inputs"];
  md << "Real: `" << fmt_value(in["real"]) << "` (" << fmt_value(in["rows_real"])
     << " rows). Synthetic: `" << fmt_value(in["synthetic"]) << "` ("
     << fmt_value(in["rows_synthetic"]) << " rows compared of "
     << fmt_value(in["rows_synthetic_input"])
     << ", selection: " << fmt_value(in["synthetic_selection"]) << ")";
  if (!in["holdout"].is_null())
    md << ". Holdout: `" << fmt_value(in["holdout"]) << "` (" << fmt_value(in["rows_holdout"])
       << " rows)";
  md << ". Seed " << fmt_value(in["seed"]) << ".\n\n";
  md << "## Checks\n\n";
  const json& m = r.contains("matched") ? r["matched"] : json();
  if (m.is_object())
    md << "The synthetic rows are of " << (m["classes"].size() == 1 ? "class " : "classes ")
       << fmt_list(m["classes"]) << " only: the fidelity checks compare them with the real rows of "
       << (m["classes"].size() == 1 ? "that class" : "those classes")
       << " (section Matched); the privacy checks with every real row.\n\n";
  md << "| check | value | threshold | on | verdict |\n|---|---|---|---|---|\n";
  size_t warns = 0;
  for (const json& c : r["checks"]) {
    md << "| " << fmt_value(c["name"]) << " | " << fmt_value(c["value"]) << " | "
       << fmt_value(c["op"]) << " " << fmt_value(c["threshold"]) << " | " << fmt_value(c["on"])
       << " | " << fmt_value(c["verdict"]) << " |\n";
    warns += c["verdict"] == "warn";
  }
  md << "\n"
     << (warns ? std::to_string(warns) + " check(s) warn." : "Every check passes.")
     << "\n\n## Class balance\n\n| class | real | synthetic | after |\n|---|---|---|---|\n";
  const json& cb = r["class_balance"];
  for (size_t c = 0; c < cb["classes"].size(); ++c)
    md << "| " << fmt_value(cb["classes"][c]) << " | " << fmt_value(cb["real"][c]) << " | "
       << fmt_value(cb["synthetic"][c]) << " | " << fmt_value(cb["after"][c]) << " |\n";
  if (r.contains("sensitive")) {
    const json& s = r["sensitive"];
    md << "\n## Sensitive column `" << fmt_value(s["column"])
       << "`\n\n| group | share before | share after |\n|---|---|---|\n";
    for (size_t k = 0; k < s["groups"].size(); ++k)
      md << "| " << fmt_value(s["groups"][k]) << " | " << fmt_value(s["share_before"][k]) << " | "
         << fmt_value(s["share_after"][k]) << " |\n";
  }
  md << "\n## Overall\n\n";
  section_lines(md, r["overall"]);
  if (m.is_object()) {
    md << "\n## Matched: " << (m["classes"].size() == 1 ? "class " : "classes ")
       << fmt_list(m["classes"]) << "\n\n";
    bool in_per_class = false;  // one class: the same figures as its own section below
    for (const json& c : r["per_class"])
      in_per_class |=
          m["classes"].size() == 1 && c["class"] == m["classes"][0] && !c.contains("skipped");
    if (m.contains("skipped"))
      md << "Skipped: " << fmt_value(m["skipped"]) << ".\n";
    else if (in_per_class)
      md << "The figures of class " << fmt_list(m["classes"]) << " below.\n";
    else
      section_lines(md, m);
  }
  for (const json& c : r["per_class"]) {
    md << "\n## Class `" << fmt_value(c["class"]) << "`\n\n";
    if (c.contains("skipped")) {
      md << "Skipped: " << fmt_value(c["skipped"]) << " (" << fmt_value(c["n_real"]) << " real, "
         << fmt_value(c["n_synthetic"]) << " synthetic rows).\n";
      continue;
    }
    section_lines(md, c);
  }
  md << "\nFull figures (per column, per pair, duplicate lists) are in the report file; "
        "docs/VALIDATION.md explains every metric.\n";
  return md.str();
}

void write_report(const json& report, const std::string& path) {
  auto ends_with = [&](const std::string& e) {
    return path.size() > e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  const bool as_json = ends_with(".json");
  RF_CHECK_INPUT(as_json || ends_with(".h5") || ends_with(".hdf5"),
                 "--out: '{}' must end in .json (JSON) or .h5 / .hdf5 (HDF5)", path);
  AtomicFile md_file(summary_path(path));
  {
    std::ofstream f(md_file.temp_path(), std::ios::binary);
    f << markdown_summary(report);
    f.close();
    if (!f) throw Error(fmt::format("cannot write {}", summary_path(path)));
  }
  AtomicFile out(path);
  if (as_json) {
    std::ofstream f(out.temp_path(), std::ios::binary);
    f << report.dump(2) << "\n";
    f.close();
    if (!f) throw Error(fmt::format("cannot write {}", path));
  } else {
    h5::File f = h5::File::create(out.temp_path());
    f.set_attr_str("format", "rareforge.validation");
    f.set_attr_str("json", report.dump());
    write_object(f, report);
    f.close();
  }
  out.commit();
  md_file.commit();
}

}  // namespace rareforge::validation
