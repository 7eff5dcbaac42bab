#include "core/strategy.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "core/table.h"
#include "core/text.h"

namespace rareforge {

namespace {

constexpr const char* kValidForms =
    "valid forms: auto, minority, majority, not minority, not majority, all, a ratio R with "
    "0 < R <= 1 (binary targets), CLASS=COUNT,... or (cleaning methods) CLASS,CLASS,...";

bool parse_double(const std::string& s, double* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) return false;
  *out = v;
  return true;
}

bool parse_int(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() || errno == ERANGE) return false;
  *out = v;
  return true;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

const char* to_string(SamplingKind kind) {
  switch (kind) {
    case SamplingKind::kOver:
      return "over-sampling";
    case SamplingKind::kUnder:
      return "under-sampling";
    case SamplingKind::kClean:
      return "cleaning";
  }
  return "?";
}

SamplingStrategy SamplingStrategy::parse(const std::string& text) {
  SamplingStrategy s;
  s.text = text;
  const std::string t = trim(text);
  RF_CHECK_INPUT(!t.empty(), "--strategy is empty; {}", kValidForms);
  using F = Form;
  if (t == "auto") {
    s.form = F::kAuto;
  } else if (t == "minority") {
    s.form = F::kMinority;
  } else if (t == "majority") {
    s.form = F::kMajority;
  } else if (t == "not minority" || t == "not-minority" || t == "not_minority") {
    s.form = F::kNotMinority;
  } else if (t == "not majority" || t == "not-majority" || t == "not_majority") {
    s.form = F::kNotMajority;
  } else if (t == "all") {
    s.form = F::kAll;
  } else if (t.find('=') != std::string::npos) {
    s.form = F::kCounts;
    for (const std::string& tok : split(t, ',')) {
      const size_t eq = tok.rfind('=');
      RF_CHECK_INPUT(eq != std::string::npos,
                     "--strategy '{}': '{}' is not CLASS=COUNT (every entry of a count list "
                     "needs one); {}",
                     text, tok, kValidForms);
      const std::string name = trim(tok.substr(0, eq));
      const std::string num = trim(tok.substr(eq + 1));
      RF_CHECK_INPUT(!name.empty(), "--strategy '{}': entry '{}' has no class name; {}", text, tok,
                     kValidForms);
      int64_t n = 0;
      RF_CHECK_INPUT(parse_int(num, &n),
                     "--strategy '{}': count '{}' for class '{}' is not a whole number", text, num,
                     name);
      RF_CHECK_INPUT(n >= 0,
                     "--strategy '{}': the count for class '{}' is negative ({}); a class cannot "
                     "have fewer than 0 rows",
                     text, name, n);
      for (const auto& [other, c] : s.counts)
        RF_CHECK_INPUT(other != name, "--strategy '{}': class '{}' is given twice", text, name);
      s.counts.emplace_back(name, n);
    }
  } else {
    const std::vector<std::string> toks = split(t, ',');
    for (const auto& tok : toks) {
      RF_CHECK_INPUT(!tok.empty(), "--strategy '{}': empty entry in the class list; {}", text,
                     kValidForms);
      RF_CHECK_INPUT(std::count(toks.begin(), toks.end(), tok) == 1,
                     "--strategy '{}': class '{}' is given twice", text, tok);
    }
    s.classes = toks;
    double r = 0;
    s.form = (toks.size() == 1 && parse_double(toks[0], &r)) ? F::kRatio : F::kClasses;
    s.ratio = r;
  }
  return s;
}

int64_t SamplingPlan::total_add() const {
  int64_t s = 0;
  for (int64_t v : n_add) s += v;
  return s;
}

int64_t SamplingPlan::total_remove() const {
  int64_t s = 0;
  for (int64_t v : n_remove) s += v;
  return s;
}

std::string SamplingPlan::describe() const {
  std::string out;
  for (size_t c = 0; c < current.size(); ++c) {
    if (!out.empty()) out += "; ";
    if (kind == SamplingKind::kClean) {
      out += fmt::format("{}: {}{}", class_names[c], current[c], clean[c] ? " (clean)" : "");
    } else {
      out += fmt::format("{}: {} -> {}", class_names[c], current[c], target[c]);
      if (n_add[c]) out += fmt::format(" (+{})", n_add[c]);
      if (n_remove[c]) out += fmt::format(" (-{})", n_remove[c]);
    }
  }
  return out;
}

SamplingPlan plan_sampling(const SamplingStrategy& strategy, const std::vector<int64_t>& counts,
                           const std::vector<std::string>& class_names, SamplingKind kind,
                           std::optional<double> max_ratio) {
  RF_CHECK(counts.size() == class_names.size(), "{} counts for {} class names", counts.size(),
           class_names.size());
  using F = SamplingStrategy::Form;
  const std::string& text = strategy.text;
  const size_t k = counts.size();

  if (max_ratio) {
    RF_CHECK_INPUT(std::isfinite(*max_ratio) && *max_ratio >= 1.0,
                   "--max-ratio must be a number >= 1 (it caps every class at R times its "
                   "original count); got {}",
                   *max_ratio);
  }

  SamplingPlan p;
  p.kind = kind;
  p.class_names = class_names;
  p.current = counts;
  p.target = counts;
  p.n_add.assign(k, 0);
  p.n_remove.assign(k, 0);
  p.clean.assign(k, 0);
  p.targeted.assign(k, 0);

  // Majority / minority among classes with rows; ties go to the lowest label (imblearn's max/min
  // over a dict built from np.unique, i.e. sorted labels).
  int maj = -1, mino = -1;
  size_t n_present = 0;
  for (size_t c = 0; c < k; ++c) {
    RF_CHECK(counts[c] >= 0, "negative count {} for class {}", counts[c], c);
    if (counts[c] == 0) continue;
    ++n_present;
    if (maj < 0 || counts[c] > counts[maj]) maj = static_cast<int>(c);
    if (mino < 0 || counts[c] < counts[mino]) mino = static_cast<int>(c);
  }
  RF_CHECK_INPUT(n_present >= 2,
                 "--strategy '{}': resampling needs at least 2 classes with rows; the data has {} "
                 "({})",
                 text, n_present, join(class_names));
  const int64_t n_max = counts[maj];
  const int64_t n_min = counts[mino];

  auto class_index = [&](const std::string& name) -> size_t {
    for (size_t c = 0; c < k; ++c)
      if (class_names[c] == name) {
        RF_CHECK_INPUT(counts[c] > 0,
                       "--strategy '{}': class '{}' has no rows in this data; the classes with "
                       "rows are the ones to name",
                       text, name);
        return c;
      }
    RF_THROW_INPUT("--strategy '{}': unknown class '{}'; the classes are: {}", text, name,
                   join(class_names));
  };

  // String forms: the selected classes, each to n_max (over) or n_min (under / clean).
  auto select = [&](auto pred) {
    for (size_t c = 0; c < k; ++c) {
      if (counts[c] == 0 || !pred(static_cast<int>(c))) continue;
      p.targeted[c] = 1;
      p.target[c] = kind == SamplingKind::kOver ? n_max : n_min;
    }
  };

  F form = strategy.form;
  if (form == F::kAuto) form = kind == SamplingKind::kOver ? F::kNotMajority : F::kNotMinority;
  if (form == F::kRatio && kind == SamplingKind::kClean && strategy.classes.size() == 1 &&
      std::find(class_names.begin(), class_names.end(), strategy.classes[0]) != class_names.end())
    form = F::kClasses;

  switch (form) {
    case F::kAuto:
      break;  // resolved above
    case F::kMinority:
      RF_CHECK_INPUT(kind == SamplingKind::kOver,
                     "--strategy minority cannot be used with {} (it would only shrink the "
                     "smallest class); use auto, not minority or majority",
                     to_string(kind));
      select([&](int c) { return c == mino; });
      break;
    case F::kMajority:
      RF_CHECK_INPUT(kind != SamplingKind::kOver,
                     "--strategy majority cannot be used with over-sampling (the majority has "
                     "nothing to grow to); use auto, minority or not majority");
      select([&](int c) { return c == maj; });
      break;
    case F::kNotMinority:
      select([&](int c) { return c != mino; });
      break;
    case F::kNotMajority:
      select([&](int c) { return c != maj; });
      break;
    case F::kAll:
      select([](int) { return true; });
      break;
    case F::kRatio: {
      const double r = strategy.ratio;
      RF_CHECK_INPUT(r > 0.0 && r <= 1.0,
                     "--strategy '{}': a ratio must be in (0, 1] (minority/majority after "
                     "resampling); {}",
                     text, kValidForms);
      RF_CHECK_INPUT(kind != SamplingKind::kClean,
                     "--strategy '{}': cleaning methods take no ratio; give the classes to clean "
                     "(CLASS,CLASS,...) or auto",
                     text);
      RF_CHECK_INPUT(n_present == 2,
                     "--strategy '{}': a ratio needs a binary target, this one has {} classes; "
                     "use CLASS=COUNT,... for multi-class data",
                     text, n_present);
      for (size_t c = 0; c < k; ++c) {
        if (counts[c] == 0) continue;
        if (kind == SamplingKind::kOver && static_cast<int>(c) != maj) {
          // imblearn: int(n_majority * r - n_class), truncated toward zero.
          const auto add =
              static_cast<int64_t>(static_cast<double>(n_max) * r - static_cast<double>(counts[c]));
          RF_CHECK_INPUT(add > 0,
                         "--strategy '{}': ratio {} gives class '{}' int({} x {}) = {} rows, not "
                         "more than the {} it has; over-sampling cannot remove rows, increase "
                         "the ratio",
                         text, r, class_names[c], r, n_max, counts[c] + add, counts[c]);
          p.targeted[c] = 1;
          p.target[c] = counts[c] + add;
        } else if (kind == SamplingKind::kUnder && static_cast<int>(c) != mino) {
          const auto keep = static_cast<int64_t>(static_cast<double>(n_min) / r);
          RF_CHECK_INPUT(keep <= counts[c],
                         "--strategy '{}': ratio {} asks class '{}' for int({} / {}) = {} rows, "
                         "more than the {} it has; under-sampling cannot add rows, increase the "
                         "ratio",
                         text, r, class_names[c], n_min, r, keep, counts[c]);
          p.targeted[c] = 1;
          p.target[c] = keep;
        }
      }
      break;
    }
    case F::kCounts: {
      RF_CHECK_INPUT(kind != SamplingKind::kClean,
                     "--strategy '{}': cleaning methods take the classes to clean, not counts; "
                     "write CLASS,CLASS,... or auto",
                     text);
      for (const auto& [name, n] : strategy.counts) {
        const size_t c = class_index(name);
        if (kind == SamplingKind::kOver) {
          RF_CHECK_INPUT(n >= counts[c],
                         "--strategy '{}': over-sampling cannot shrink class '{}' from {} to {} "
                         "rows; ask for at least {}",
                         text, name, counts[c], n, counts[c]);
          if (n > n_max)
            p.warnings.push_back(
                fmt::format("class '{}' will have {} rows, more than the majority class '{}' ({})",
                            name, n, class_names[maj], n_max));
        } else {
          RF_CHECK_INPUT(n <= counts[c],
                         "--strategy '{}': under-sampling cannot grow class '{}' from {} to {} "
                         "rows; ask for at most {}",
                         text, name, counts[c], n, counts[c]);
        }
        p.targeted[c] = 1;
        p.target[c] = n;
      }
      break;
    }
    case F::kClasses: {
      RF_CHECK_INPUT(kind == SamplingKind::kClean,
                     "--strategy '{}': a list of classes is only for cleaning methods; for {} "
                     "write CLASS=COUNT,... or a keyword ({})",
                     text, to_string(kind), kValidForms);
      for (const auto& name : strategy.classes) p.targeted[class_index(name)] = 1;
      break;
    }
  }

  if (kind == SamplingKind::kClean) {
    p.target = counts;
    p.clean = p.targeted;
    return p;
  }
  for (size_t c = 0; c < k; ++c) {
    if (max_ratio) {
      const auto cap =
          static_cast<int64_t>(std::floor(*max_ratio * static_cast<double>(counts[c])));
      p.target[c] = std::min(p.target[c], cap);
    }
    if (kind == SamplingKind::kOver)
      p.n_add[c] = p.target[c] - counts[c];
    else
      p.n_remove[c] = counts[c] - p.target[c];
  }
  return p;
}

SamplingPlan plan_sampling(const std::string& text, const Table& table, SamplingKind kind,
                           std::optional<double> max_ratio) {
  RF_CHECK(table.has_target(), "plan_sampling: the table has no target column");
  return plan_sampling(SamplingStrategy::parse(text), table.class_counts(), table.class_names(),
                       kind, max_ratio);
}

}  // namespace rareforge
