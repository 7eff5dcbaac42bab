// Under-samplers, cleaners and the combined methods; registered by register_cleaners.
// The cleaning rules themselves are in classical/cleaning.{h,cpp}.
#include <algorithm>
#include <optional>

#include "classical/cleaning.h"
#include "classical/sampler.h"
#include "core/error.h"
#include "core/strategy.h"

namespace rareforge::classical {

namespace {

std::optional<double> max_ratio_of(const SamplingRequest& req) {
  if (req.max_ratio == 0) return std::nullopt;
  return req.max_ratio;
}

// The cleaning plan for `t` under req.strategy (checks the strategy and --max-ratio).
SamplingPlan clean_plan(const Table& t, const SamplingRequest& req) {
  return plan_sampling(req.strategy, t, SamplingKind::kClean, max_ratio_of(req));
}

std::vector<size_t> kept_rows(const std::vector<uint8_t>& keep) {
  std::vector<size_t> rows;
  rows.reserve(keep.size());
  for (size_t i = 0; i < keep.size(); ++i)
    if (keep[i]) rows.push_back(i);
  return rows;
}

ResampleResult keep_only(const Table& input, std::vector<size_t> kept) {
  return assemble(input, std::move(kept), input.empty_like());
}

class RandomUnder final : public Sampler {
 public:
  explicit RandomUnder(bool replacement) : replacement_(replacement) {}

  ResampleResult resample(const Table& input, const SamplingRequest& req,
                          const Context& ctx) const override {
    const SamplingPlan plan =
        plan_sampling(req.strategy, input, SamplingKind::kUnder, max_ratio_of(req));
    const size_t nc = input.n_classes();
    std::vector<std::vector<size_t>> by_class(nc);
    const auto& y = input.labels();
    for (size_t i = 0; i < y.size(); ++i) by_class[static_cast<size_t>(y[i])].push_back(i);
    Rng rng = ctx.rng(streams::kSampler);
    std::vector<size_t> kept;
    kept.reserve(input.n_rows());
    for (size_t c = 0; c < nc; ++c) {
      std::vector<size_t>& rows = by_class[c];
      if (!plan.targeted[c]) {
        kept.insert(kept.end(), rows.begin(), rows.end());
        continue;
      }
      const auto want = static_cast<size_t>(plan.target[c]);
      if (replacement_) {
        for (size_t t = 0; t < want; ++t)
          kept.push_back(rows[static_cast<size_t>(rng.uniform_int(rows.size()))]);
      } else {
        // Partial Fisher-Yates: the first `want` entries become a uniform random subset.
        for (size_t t = 0; t < want; ++t)
          std::swap(rows[t], rows[t + static_cast<size_t>(rng.uniform_int(rows.size() - t))]);
        kept.insert(kept.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(want));
      }
    }
    std::sort(kept.begin(), kept.end());
    return keep_only(input, std::move(kept));
  }

 private:
  bool replacement_;
};

class Enn final : public Sampler {
 public:
  Enn(size_t k, EnnKind kind) : k_(k), kind_(kind) {}

  ResampleResult resample(const Table& input, const SamplingRequest& req,
                          const Context& ctx) const override {
    const SamplingPlan plan = clean_plan(input, req);
    const MatrixRM x = cleaning_features(input, "enn");
    const auto keep = enn_keep(x, input.labels(), input.n_classes(), plan.clean, k_, kind_,
                               ctx.n_threads(), "enn");
    return keep_only(input, kept_rows(keep));
  }

 private:
  size_t k_;
  EnnKind kind_;
};

class Renn final : public Sampler {
 public:
  Renn(size_t k, EnnKind kind, int max_iter) : k_(k), kind_(kind), max_iter_(max_iter) {}

  ResampleResult resample(const Table& input, const SamplingRequest& req,
                          const Context& ctx) const override {
    clean_plan(input, req);  // checks the strategy against the classes up front
    const MatrixRM x = cleaning_features(input, "renn");
    IterativeClean r =
        renn_select(x, input.labels(), input.class_names(), SamplingStrategy::parse(req.strategy),
                    k_, kind_, max_iter_, ctx.n_threads());
    return keep_only(input, std::move(r.kept));
  }

 private:
  size_t k_;
  EnnKind kind_;
  int max_iter_;
};

class AllKnn final : public Sampler {
 public:
  AllKnn(size_t k, EnnKind kind, bool allow_minority)
      : k_(k), kind_(kind), allow_minority_(allow_minority) {}

  ResampleResult resample(const Table& input, const SamplingRequest& req,
                          const Context& ctx) const override {
    clean_plan(input, req);
    const MatrixRM x = cleaning_features(input, "allknn");
    IterativeClean r =
        allknn_select(x, input.labels(), input.class_names(), SamplingStrategy::parse(req.strategy),
                      k_, kind_, allow_minority_, ctx.n_threads());
    return keep_only(input, std::move(r.kept));
  }

 private:
  size_t k_;
  EnnKind kind_;
  bool allow_minority_;
};

class Tomek final : public Sampler {
 public:
  ResampleResult resample(const Table& input, const SamplingRequest& req,
                          const Context& ctx) const override {
    const SamplingPlan plan = clean_plan(input, req);
    const MatrixRM x = cleaning_features(input, "tomek");
    const auto keep = tomek_keep(x, input.labels(), plan.clean, ctx.n_threads());
    return keep_only(input, kept_rows(keep));
  }
};

// SMOTE (the registered `smote` sampler) followed by a cleaner run on all of its output with
// strategy `all`, as imbalanced-learn's SMOTEENN / SMOTETomek do.
class SmoteThenClean final : public Sampler {
 public:
  enum class Cleaner { kEnn, kTomek };

  SmoteThenClean(Cleaner cleaner, std::string smote_spec, size_t enn_k, EnnKind enn_kind,
                 std::string canonical)
      : cleaner_(cleaner),
        smote_spec_(std::move(smote_spec)),
        enn_k_(enn_k),
        enn_kind_(enn_kind),
        canonical_(std::move(canonical)) {}

  ResampleResult resample(const Table& input, const SamplingRequest& req,
                          const Context& ctx) const override {
    const size_t n_in = input.n_rows();
    return clean(make_sampler(smote_spec_)->resample(input, req, ctx), n_in, ctx);
  }

  /// The input is only needed by the SMOTE step, which moves it into its output.
  ResampleResult resample_owned(Table&& input, const SamplingRequest& req,
                                const Context& ctx) const override {
    const size_t n_in = input.n_rows();
    return clean(make_sampler(smote_spec_)->resample_owned(std::move(input), req, ctx), n_in, ctx);
  }

 private:
  // SMOTE's output is the n_in input rows (in input order) then the synthetic rows; the result
  // is the rows of it the cleaner keeps, so the input itself is not needed any more.
  ResampleResult clean(ResampleResult over, size_t n_in, const Context& ctx) const {
    const std::string name = cleaner_ == Cleaner::kEnn ? "smote-enn" : "smote-tomek";
    const Table& t = over.table;
    RF_CHECK(over.kept.size() == n_in && t.n_rows() >= n_in,
             "{}: the SMOTE step must keep every input row", name);
    const size_t nc = t.n_classes();
    std::vector<uint8_t> keep;
    {
      const MatrixRM x = cleaning_features(t, name);
      const std::vector<uint8_t> clean_all(nc, 1);
      keep = cleaner_ == Cleaner::kEnn
                 ? enn_keep(x, t.labels(), nc, clean_all, enn_k_, enn_kind_, ctx.n_threads(), name)
                 : tomek_keep(x, t.labels(), clean_all, ctx.n_threads());
    }
    ResampleResult res;
    res.made.assign(nc, 0);
    res.removed = over.removed;
    std::vector<size_t> rows;
    const auto& y = t.labels();
    for (size_t i = 0; i < keep.size(); ++i) {
      const auto c = static_cast<size_t>(y[i]);
      if (keep[i]) {
        rows.push_back(i);
        if (i < n_in)
          res.kept.push_back(over.kept[i]);
        else
          ++res.made[c];
      } else if (i < n_in) {
        ++res.removed[c];
      }
    }
    res.table = t.select(rows);
    over = ResampleResult{};
    // The synthetic rows are labelled with this method's spec (a new entry, so rows the input
    // already had from an earlier method keep theirs).
    res.table.ensure_provenance();
    Provenance& p = res.table.provenance();
    const auto it = std::find(p.methods.begin(), p.methods.end(), canonical_);
    const auto idx = static_cast<int32_t>(it - p.methods.begin());
    if (it == p.methods.end()) p.methods.push_back(canonical_);
    for (size_t r = res.kept.size(); r < rows.size(); ++r) p.method[r] = idx;
    return res;
  }

  Cleaner cleaner_;
  std::string smote_spec_;
  size_t enn_k_;
  EnnKind enn_kind_;
  std::string canonical_;
};

ParamDef k_param(const std::string& name, int64_t def, const std::string& what) {
  ParamDef d;
  d.name = name;
  d.type = ParamType::kInt;
  d.default_value = std::to_string(def);
  d.min = 1;
  d.max = 1000;
  d.description = what;
  return d;
}

ParamDef kind_param(const std::string& name) {
  ParamDef d;
  d.name = name;
  d.type = ParamType::kString;
  d.default_value = "all";
  d.choices = {"all", "mode"};
  d.description =
      "all: remove a row if any neighbour has another class; mode: if the neighbours' most "
      "frequent class is not its own";
  return d;
}

size_t get_k(const ParamValues& p, const std::string& name) {
  return static_cast<size_t>(p.get_int(name));
}

}  // namespace

void register_cleaners(std::vector<SamplerInfo>& out) {
  const ParamDef enn_k = k_param("k", 3, "neighbours that must agree with a row (self excluded)");
  {
    SamplerInfo s;
    s.name = "random-under";
    s.description = "random under-sampling of the selected classes to the planned counts";
    s.kind = SamplerKind::kUnder;
    s.params = {bool_param("replacement", "false", "draw the kept rows with replacement")};
    s.create = [](const ParamValues& p, const std::string&) {
      return std::make_unique<RandomUnder>(p.get_bool("replacement"));
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "enn";
    s.description =
        "edited nearest neighbours: remove rows their k nearest neighbours disagree with";
    s.kind = SamplerKind::kClean;
    s.params = {enn_k, kind_param("kind")};
    s.create = [](const ParamValues& p, const std::string&) {
      return std::make_unique<Enn>(get_k(p, "k"), parse_enn_kind(p.get_string("kind")));
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "renn";
    s.description = "repeated edited nearest neighbours: ENN until nothing changes";
    s.kind = SamplerKind::kClean;
    ParamDef max_iter = k_param("max_iter", 100, "most ENN passes");
    max_iter.max = 1000000;
    s.params = {enn_k, kind_param("kind"), max_iter};
    s.create = [](const ParamValues& p, const std::string&) {
      return std::make_unique<Renn>(get_k(p, "k"), parse_enn_kind(p.get_string("kind")),
                                    static_cast<int>(p.get_int("max_iter")));
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "allknn";
    s.description = "AllKNN: ENN with 1, 2, ..., k neighbours in turn";
    s.kind = SamplerKind::kClean;
    s.params = {enn_k, kind_param("kind"),
                bool_param("allow_minority", "false",
                           "go on when a cleaned class falls below the original minority")};
    s.create = [](const ParamValues& p, const std::string&) {
      return std::make_unique<AllKnn>(get_k(p, "k"), parse_enn_kind(p.get_string("kind")),
                                      p.get_bool("allow_minority"));
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "tomek";
    s.description = "remove the rows of the selected classes that are in Tomek links";
    s.kind = SamplerKind::kClean;
    s.create = [](const ParamValues&, const std::string&) { return std::make_unique<Tomek>(); };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "smote-enn";
    s.description = "SMOTE, then ENN (kind all) on every class of the result";
    s.kind = SamplerKind::kCombined;
    s.params = {k_param("k", 5, "SMOTE: same-class neighbours to interpolate towards"),
                k_param("enn_k", 3, "ENN: neighbours that must agree with a row"),
                kind_param("enn_kind")};
    s.create = [](const ParamValues& p, const std::string& canonical) {
      return std::make_unique<SmoteThenClean>(
          SmoteThenClean::Cleaner::kEnn, "smote:k=" + std::to_string(p.get_int("k")),
          get_k(p, "enn_k"), parse_enn_kind(p.get_string("enn_kind")), canonical);
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "smote-tomek";
    s.description = "SMOTE, then removal of both rows of every Tomek link in the result";
    s.kind = SamplerKind::kCombined;
    s.params = {k_param("k", 5, "SMOTE: same-class neighbours to interpolate towards")};
    s.create = [](const ParamValues& p, const std::string& canonical) {
      return std::make_unique<SmoteThenClean>(SmoteThenClean::Cleaner::kTomek,
                                              "smote:k=" + std::to_string(p.get_int("k")), 3,
                                              EnnKind::kAll, canonical);
    };
    out.push_back(std::move(s));
  }
}

}  // namespace rareforge::classical
