#include "core/make_data.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/text.h"

namespace rareforge {

namespace {

// Sub-streams of streams::kMakeData, so that e.g. changing `flip` moves only the flipped rows.
enum SubStream : uint64_t {
  kLabels = 1,    // which row gets which class
  kFlip = 2,      // which rows are mislabelled, and whose features they take
  kGroup = 3,     // sensitive group membership
  kGeometry = 4,  // cluster centres, cluster matrices, redundant weights
  kFeatures = 5,  // per-row draws: z, noise features, categorical noise
};

std::string join_doubles(const std::vector<double>& v) {
  std::string s;
  for (double x : v) s += (s.empty() ? "" : ",") + format_double(x);
  return s;
}

std::string level_name(int l) { return std::string(1, static_cast<char>('A' + l)); }

// key=value pairs of a make-data parameter list; an item without '=' right after a minority
// item continues that list.
std::vector<std::pair<std::string, std::string>> split_params(const std::string& kv,
                                                              const std::string& what) {
  std::vector<std::pair<std::string, std::string>> out;
  if (trim(kv).empty()) return out;
  for (const std::string& item : split(kv, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      RF_CHECK_INPUT(!out.empty() && out.back().first == "minority" && !item.empty(),
                     "{}: '{}' in '{}' is not key=value (only minority takes a list: "
                     "minority=0.05,0.01)",
                     what, item, kv);
      out.back().second += "," + item;
      continue;
    }
    const std::string key = trim(item.substr(0, eq));
    RF_CHECK_INPUT(!key.empty(), "{}: '{}' in '{}' has no parameter name", what, item, kv);
    for (const auto& p : out)
      RF_CHECK_INPUT(p.first != key, "{}: parameter '{}' given twice in '{}'", what, key, kv);
    out.emplace_back(key, trim(item.substr(eq + 1)));
  }
  return out;
}

std::vector<double> parse_minority(const std::string& text) {
  std::vector<double> out;
  for (const std::string& part : split(text, ',')) {
    double v = 0;
    const char* b = part.data();
    const char* e = b + part.size();
    if (b != e && *b == '+') ++b;
    const auto r = std::from_chars(b, e, v);
    RF_CHECK_INPUT(r.ec == std::errc() && r.ptr == e && b != e && std::isfinite(v),
                   "make-data: minority={} has '{}', which is not a number; give one share per "
                   "rare class, e.g. minority=0.05 or minority=0.05,0.01",
                   text, part);
    out.push_back(v);
  }
  return out;
}

// The options as key=value pairs (definition order of make_data_params).
std::vector<std::pair<std::string, std::string>> to_pairs(const MakeDataOptions& o) {
  return {{"rows", std::to_string(o.rows)},
          {"informative", std::to_string(o.informative)},
          {"redundant", std::to_string(o.redundant)},
          {"noise", std::to_string(o.noise)},
          {"categorical", std::to_string(o.categorical)},
          {"levels", std::to_string(o.levels)},
          {"minority", join_doubles(o.minority)},
          {"separation", format_double(o.separation)},
          {"flip", format_double(o.flip)},
          {"clusters", std::to_string(o.clusters)},
          {"drift", format_double(o.drift)},
          {"time", o.time ? "true" : "false"},
          {"sensitive", format_double(o.sensitive)},
          {"bias", format_double(o.bias)},
          {"group_shift", format_double(o.group_shift)}};
}

MakeDataOptions from_values(std::string preset, const ParamValues& v) {
  MakeDataOptions o;
  o.preset = std::move(preset);
  o.rows = v.get_int("rows");
  o.informative = static_cast<int>(v.get_int("informative"));
  o.redundant = static_cast<int>(v.get_int("redundant"));
  o.noise = static_cast<int>(v.get_int("noise"));
  o.categorical = static_cast<int>(v.get_int("categorical"));
  o.levels = static_cast<int>(v.get_int("levels"));
  o.minority = parse_minority(v.get_string("minority"));
  o.separation = v.get_double("separation");
  o.flip = v.get_double("flip");
  o.clusters = static_cast<int>(v.get_int("clusters"));
  o.drift = v.get_double("drift");
  o.time = v.get_bool("time");
  o.sensitive = v.get_double("sensitive");
  o.bias = v.get_double("bias");
  o.group_shift = v.get_double("group_shift");
  return o;
}

std::vector<PresetInfo> build_presets() {
  std::vector<PresetInfo> p;
  {
    MakeDataOptions o;  // the struct defaults are baseline_easy
    p.push_back(
        {"baseline_easy", "well separated, one cluster per class, 10% rare, no noise or drift", o});
  }
  {
    MakeDataOptions o;
    o.preset = "noisy_overlap";
    o.noise = 5;
    o.minority = {0.05};
    o.separation = 0.5;
    o.flip = 0.05;
    o.clusters = 2;
    p.push_back(
        {o.preset, "overlapping classes, 5% label noise, two clusters per class, 5% rare", o});
  }
  {
    MakeDataOptions o;
    o.preset = "high_drift";
    o.minority = {0.05};
    o.separation = 1.0;
    o.flip = 0.01;
    o.clusters = 2;
    o.drift = 2.0;
    p.push_back({o.preset,
                 "strong covariate drift along the time column (means move by 2 sd), 5% rare", o});
  }
  {
    MakeDataOptions o;
    o.preset = "imbalanced_sparse";
    o.rows = 20000;
    o.informative = 8;
    o.noise = 10;
    o.minority = {0.005};
    o.separation = 1.0;
    o.clusters = 4;
    p.push_back(
        {o.preset, "0.5% rare split into four small clusters, many noise features, 20000 rows", o});
  }
  {
    MakeDataOptions o;
    o.preset = "mixed_realistic";
    o.informative = 6;
    o.redundant = 3;
    o.noise = 4;
    o.categorical = 3;
    o.levels = 5;
    o.minority = {0.03, 0.01};
    o.separation = 1.0;
    o.flip = 0.02;
    o.clusters = 2;
    o.drift = 0.5;
    o.sensitive = 0.3;
    o.bias = 0.3;
    o.group_shift = 0.25;
    p.push_back({o.preset,
                 "three classes (3% and 1% rare), categorical columns, mild drift, label noise, "
                 "a biased sensitive group",
                 o});
  }
  return p;
}

}  // namespace

std::vector<int64_t> MakeDataOptions::class_counts() const {
  std::vector<int64_t> n(minority.size() + 1);
  int64_t rare = 0;
  for (size_t j = 0; j < minority.size(); ++j) {
    n[j + 1] = std::llround(minority[j] * static_cast<double>(rows));
    rare += n[j + 1];
  }
  n[0] = rows - rare;
  return n;
}

std::vector<ParamDef> make_data_params(const MakeDataOptions& d) {
  const auto pairs = to_pairs(d);
  const auto def = [&](const char* key) {
    for (const auto& p : pairs)
      if (p.first == key) return p.second;
    return std::string();
  };
  return {
      int_param("rows", def("rows"), 10, 1e9, "rows in the table"),
      int_param("informative", def("informative"), 1, 64,
                "informative features (dimensions of the cluster hypercube)"),
      int_param("redundant", def("redundant"), 0, 10000,
                "features that are random linear combinations of the informative ones"),
      int_param("noise", def("noise"), 0, 10000, "N(0,1) features with no signal"),
      int_param("categorical", def("categorical"), 0, 10000,
                "categorical features: equal-frequency bins of an informative feature plus noise"),
      int_param("levels", def("levels"), 2, 26, "levels of each categorical feature (A, B, ...)"),
      string_param("minority", def("minority"),
                   "share of rows in each rare class, comma-separated for several (0.05,0.01); "
                   "the majority class gets the rest"),
      double_param("separation", def("separation"), 0, 1000,
                   "cluster centres sit at +-separation on each informative feature (sd 1); "
                   "small = overlapping classes"),
      double_param("flip", def("flip"), 0, 1,
                   "label noise: share of each class whose features come from another class"),
      int_param("clusters", def("clusters"), 1, 1024, "clusters per class"),
      double_param(
          "drift", def("drift"), -1000, 1000,
          "informative feature means move by drift from the first row (time 0) to the last"),
      bool_param("time", def("time"), "write the time column even without drift"),
      double_param("sensitive", def("sensitive"), 0, 0.99,
                   "share of rows in group B of a sensitive attribute column `group`; 0 = none"),
      double_param("bias", def("bias"), -1, 1,
                   "association of group B with the rare classes: 0 none, 1 as many rare rows in "
                   "B as possible, -1 as few"),
      double_param("group_shift", def("group_shift"), -1000, 1000,
                   "shift of group B's informative features"),
  };
}

void MakeDataOptions::validate() const {
  MethodSpec spec;
  spec.name = "make-data";
  spec.params = to_pairs(*this);
  check_params(spec, make_data_params());  // types and bounds, naming the parameter
  RF_CHECK_INPUT(!minority.empty() && minority.size() <= 255,
                 "make-data: minority needs 1 to 255 shares (one per rare class), got {}",
                 minority.size());
  double sum = 0;
  for (double m : minority) {
    RF_CHECK_INPUT(std::isfinite(m) && m > 0 && m < 1,
                   "make-data: minority={} has {}, which is not a share in (0, 1)",
                   join_doubles(minority), format_double(m));
    sum += m;
  }
  RF_CHECK_INPUT(sum < 1,
                 "make-data: minority={} sums to {}; the rare shares must leave rows for the "
                 "majority class (sum < 1)",
                 join_doubles(minority), format_double(sum));
  const auto n = class_counts();
  for (size_t j = 1; j < n.size(); ++j)
    RF_CHECK_INPUT(n[j] >= 1,
                   "make-data: minority={} with rows={} gives rare class {} round({} * {}) = 0 "
                   "rows; raise rows or the share",
                   join_doubles(minority), rows, j, format_double(minority[j - 1]), rows);
  RF_CHECK_INPUT(n[0] >= 1, "make-data: minority={} with rows={} leaves no majority rows",
                 join_doubles(minority), rows);
  const double centres = static_cast<double>(clusters) * n_classes();
  RF_CHECK_INPUT(centres <= 4096,
                 "make-data: clusters={} x {} classes = {} cluster centres; at most 4096 are "
                 "supported, lower clusters",
                 clusters, n_classes(), centres);
  RF_CHECK_INPUT(informative >= 63 || centres <= std::ldexp(1.0, informative),
                 "make-data: clusters={} x {} classes = {} cluster centres, but informative={} "
                 "gives only {} hypercube vertices; raise informative or lower clusters",
                 clusters, n_classes(), centres, informative, std::ldexp(1.0, informative));
  if (sensitive > 0) {
    const int64_t nb = std::llround(sensitive * static_cast<double>(rows));
    RF_CHECK_INPUT(nb >= 1 && nb < rows,
                   "make-data: sensitive={} with rows={} gives {} rows in group B; it needs at "
                   "least 1 and fewer than rows",
                   format_double(sensitive), rows, nb);
  }
}

std::string MakeDataOptions::spec() const {
  std::string s = "preset:" + preset;
  for (const auto& [k, v] : to_pairs(*this)) s += "," + k + "=" + v;
  return s;
}

const std::vector<PresetInfo>& preset_registry() {
  static const std::vector<PresetInfo> presets = build_presets();
  return presets;
}

MakeDataOptions preset(const std::string& name) {
  std::string names;
  for (const auto& p : preset_registry()) {
    if (p.name == name) return p.options;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  RF_THROW_INPUT(
      "make-data: unknown preset '{}'; the presets are: {} (see rareforge make-data "
      "--list)",
      name, names);
}

MakeDataOptions apply_params(MakeDataOptions base, const std::string& kv, const std::string& what) {
  MethodSpec spec;
  spec.name = "make-data";
  spec.text = kv;
  spec.params = split_params(kv, what);
  MakeDataOptions o = from_values(base.preset, check_params(spec, make_data_params(base)));
  o.validate();
  return o;
}

bool is_data_spec(const std::string& text) { return trim(text).rfind("preset:", 0) == 0; }

MakeDataOptions parse_data_spec(const std::string& text, const std::string& what) {
  RF_CHECK_INPUT(is_data_spec(text),
                 "{}: '{}' is not a generated data set; expected preset:NAME[,key=value,...]", what,
                 text);
  const std::string rest = trim(trim(text).substr(7));
  const auto comma = rest.find(',');
  const std::string name = trim(rest.substr(0, comma));
  RF_CHECK_INPUT(!name.empty(), "{}: '{}' names no preset; expected preset:NAME[,key=value,...]",
                 what, text);
  return apply_params(preset(name), comma == std::string::npos ? "" : rest.substr(comma + 1),
                      what + " '" + text + "'");
}

Table make_rare_event_data(const MakeDataOptions& opt, const Context& ctx) {
  opt.validate();
  const size_t n = static_cast<size_t>(opt.rows);
  const int n_classes = opt.n_classes();
  const int dim = opt.informative;
  const int k_clusters = opt.clusters;
  const std::vector<int64_t> counts = opt.class_counts();

  Rng root_rng = ctx.rng(streams::kMakeData);
  const uint64_t root = root_rng.next();

  // 1. Labels: exact counts, random order.
  std::vector<int32_t> label(n);
  {
    size_t i = 0;
    for (int c = 0; c < n_classes; ++c)
      for (int64_t r = 0; r < counts[c]; ++r) label[i++] = c;
    Rng rng = Rng::derive(root, kLabels);
    rng.shuffle(label);
  }
  // Rows of each class in row order, and each row's rank within its class (-> its cluster).
  std::vector<std::vector<size_t>> rows_of(n_classes);
  std::vector<int> cluster(n);
  for (size_t i = 0; i < n; ++i) {
    cluster[i] = static_cast<int>(rows_of[label[i]].size() % static_cast<size_t>(k_clusters));
    rows_of[label[i]].push_back(i);
  }

  // 2. Label noise: round(flip * n_c) rows of each class take another class's features.
  std::vector<int32_t> source = label;
  if (opt.flip > 0) {
    Rng rng = Rng::derive(root, kFlip);
    for (int c = 0; c < n_classes; ++c) {
      std::vector<size_t> rows = rows_of[c];
      const auto k = static_cast<size_t>(std::llround(opt.flip * static_cast<double>(rows.size())));
      rng.shuffle(rows);
      for (size_t r = 0; r < k; ++r) {
        int32_t other = static_cast<int32_t>(rng.uniform_int(static_cast<uint64_t>(n_classes - 1)));
        if (other >= c) ++other;
        source[rows[r]] = other;
      }
    }
  }

  // 5 (drawn early, used below). Sensitive group B.
  std::vector<uint8_t> group_b;
  if (opt.sensitive > 0) {
    group_b.assign(n, 0);
    const int64_t nb = std::llround(opt.sensitive * static_cast<double>(n));
    const int64_t n_rare = static_cast<int64_t>(n) - counts[0];
    const double base =
        static_cast<double>(nb) * static_cast<double>(n_rare) / static_cast<double>(n);
    const int64_t hi = std::min(n_rare, nb);
    const int64_t lo = std::max<int64_t>(0, nb - counts[0]);
    const double extreme = static_cast<double>(opt.bias >= 0 ? hi : lo);
    int64_t in_rare = std::llround(base + std::abs(opt.bias) * (extreme - base));
    in_rare = std::clamp(in_rare, lo, hi);
    std::vector<size_t> rare_rows, normal_rows = rows_of[0];
    for (int c = 1; c < n_classes; ++c)
      rare_rows.insert(rare_rows.end(), rows_of[c].begin(), rows_of[c].end());
    Rng rng = Rng::derive(root, kGroup);
    rng.shuffle(rare_rows);
    rng.shuffle(normal_rows);
    for (int64_t r = 0; r < in_rare; ++r) group_b[rare_rows[r]] = 1;
    for (int64_t r = 0; r < nb - in_rare; ++r) group_b[normal_rows[r]] = 1;
  }

  // 3. Geometry: distinct hypercube vertices as centres, one mixing matrix per cluster (rows of
  // unit norm), redundant weights.
  const int n_centres = n_classes * k_clusters;
  std::vector<std::vector<double>> centre(n_centres, std::vector<double>(dim));
  std::vector<MatrixRM> mix(n_centres);
  MatrixRM weights(dim, opt.redundant);
  {
    Rng rng = Rng::derive(root, kGeometry);
    std::set<std::vector<uint8_t>> used;
    for (int k = 0; k < n_centres; ++k) {
      std::vector<uint8_t> bits(dim);
      do {
        for (int j = 0; j < dim; ++j) bits[j] = static_cast<uint8_t>(rng.uniform_int(2));
      } while (!used.insert(bits).second);
      for (int j = 0; j < dim; ++j) centre[k][j] = bits[j] ? opt.separation : -opt.separation;
      mix[k].resize(dim, dim);
      for (int a = 0; a < dim; ++a) {
        double norm = 0;
        for (int b = 0; b < dim; ++b) {
          mix[k](a, b) = rng.uniform(-1.0, 1.0);
          norm += mix[k](a, b) * mix[k](a, b);
        }
        if (norm == 0) {  // measure zero, but keep the unit-variance promise
          mix[k](a, a) = 1;
          norm = 1;
        }
        mix[k].row(a) /= std::sqrt(norm);
      }
    }
    for (int a = 0; a < dim; ++a)
      for (int b = 0; b < opt.redundant; ++b) weights(a, b) = rng.uniform(-1.0, 1.0);
  }

  // 4, 6. Features, row by row; every row makes the same draws whatever its class.
  const bool with_time = opt.drift != 0 || opt.time;
  std::vector<std::vector<double>> inf(dim, std::vector<double>(n));
  std::vector<std::vector<double>> red(opt.redundant, std::vector<double>(n));
  std::vector<std::vector<double>> noise(opt.noise, std::vector<double>(n));
  std::vector<std::vector<double>> latent(opt.categorical, std::vector<double>(n));
  std::vector<double> time(n);
  {
    Rng rng = Rng::derive(root, kFeatures);
    std::vector<double> z(dim), x(dim);
    for (size_t i = 0; i < n; ++i) {
      time[i] = static_cast<double>(i);
      const int k = source[i] * k_clusters + cluster[i];
      for (int j = 0; j < dim; ++j) z[j] = rng.normal();
      const double shift = opt.drift * static_cast<double>(i) / static_cast<double>(n - 1) +
                           (group_b.empty() || !group_b[i] ? 0.0 : opt.group_shift);
      for (int a = 0; a < dim; ++a) {
        double v = centre[k][a] + shift;
        for (int b = 0; b < dim; ++b) v += mix[k](a, b) * z[b];
        x[a] = v;
        inf[a][i] = v;
      }
      for (int b = 0; b < opt.redundant; ++b) {
        double v = 0;
        for (int a = 0; a < dim; ++a) v += x[a] * weights(a, b);
        red[b][i] = v;
      }
      for (int j = 0; j < opt.noise; ++j) noise[j][i] = rng.normal();
      for (int j = 0; j < opt.categorical; ++j) latent[j][i] = x[j % dim] + rng.normal();
    }
  }

  Table t;
  if (with_time) t.add_column(Column::numeric("time", std::move(time)));
  for (int j = 0; j < dim; ++j)
    t.add_column(Column::numeric(fmt::format("inf_{}", j + 1), std::move(inf[j])));
  for (int j = 0; j < opt.redundant; ++j)
    t.add_column(Column::numeric(fmt::format("red_{}", j + 1), std::move(red[j])));
  for (int j = 0; j < opt.noise; ++j)
    t.add_column(Column::numeric(fmt::format("noise_{}", j + 1), std::move(noise[j])));
  if (opt.categorical > 0) {
    std::vector<std::string> levels;
    for (int l = 0; l < opt.levels; ++l) levels.push_back(level_name(l));
    std::vector<size_t> order(n);
    for (int j = 0; j < opt.categorical; ++j) {
      // Equal-frequency bins: the row of rank r gets level floor(r * levels / n).
      const std::vector<double>& v = latent[j];
      std::iota(order.begin(), order.end(), size_t{0});
      std::sort(order.begin(), order.end(),
                [&](size_t a, size_t b) { return v[a] < v[b] || (v[a] == v[b] && a < b); });
      std::vector<int32_t> codes(n);
      for (size_t r = 0; r < n; ++r)
        codes[order[r]] = static_cast<int32_t>(r * static_cast<size_t>(opt.levels) / n);
      t.add_column(Column::categorical(fmt::format("cat_{}", j + 1), levels, std::move(codes)));
    }
  }
  if (!group_b.empty()) {
    std::vector<int32_t> codes(group_b.begin(), group_b.end());
    t.add_column(Column::categorical("group", {"A", "B"}, std::move(codes)));
  }
  std::vector<std::string> names = {"normal"};
  if (n_classes == 2)
    names.push_back("rare");
  else
    for (int c = 1; c < n_classes; ++c) names.push_back(fmt::format("rare_{}", c));
  t.add_column(Column::categorical("label", std::move(names), std::move(label)));
  t.set_target("label");
  return t;
}

}  // namespace rareforge
