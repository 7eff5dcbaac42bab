// `mlp`: a multilayer perceptron classifier in LibTorch (the only classifiers file that
// includes torch headers). See classifiers/linear.h for the contract and docs/CLASSIFIERS.md.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "classifiers/linear.h"
#include "classifiers/mlp.h"
#include "core/error.h"

namespace rareforge::classifiers {

namespace {

struct MlpParams {
  std::vector<int64_t> hidden{64, 32};
  int64_t epochs = 30;
  int64_t batch = 256;
  double lr = 1e-3;
  double weight_decay = 0.0;
  double dropout = 0.0;
  std::string class_weight = "none";
};

std::vector<int64_t> parse_hidden(const std::string& text) {
  return parse_layer_widths("mlp", "hidden", text);
}

// Linear -> ReLU (-> Dropout) per hidden layer, then Linear to K logits.
struct NetImpl : torch::nn::Module {
  NetImpl(int64_t d, const std::vector<int64_t>& hidden, int64_t k, double dropout) {
    int64_t in = d;
    for (size_t i = 0; i < hidden.size(); ++i) {
      layers.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(in, hidden[i])));
      in = hidden[i];
    }
    out = register_module("out", torch::nn::Linear(in, k));
    p_drop = dropout;
  }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& l : layers) {
      x = torch::relu(l->forward(x));
      if (p_drop > 0) x = torch::dropout(x, p_drop, is_training());
    }
    return out->forward(x);
  }
  std::vector<torch::nn::Linear> layers;
  torch::nn::Linear out{nullptr};
  double p_drop = 0;
};
TORCH_MODULE(Net);

torch::Tensor to_tensor(const MatrixRM& X) {
  return torch::from_blob(const_cast<double*>(X.data()), {X.rows(), X.cols()}, torch::kFloat64)
      .to(torch::kFloat32);
}

class MlpClassifier : public Classifier {
 public:
  MlpClassifier(const MlpParams& p, std::string spec) : Classifier(std::move(spec)), params_(p) {}

  void fit(const MatrixRM& X, const std::vector<int32_t>& y, int n_classes,
           const std::vector<double>* weights, const Context& ctx) override {
    check_fit_input("mlp", X, y, n_classes, weights);
    RF_CHECK_INPUT(X.allFinite(),
                   "mlp: the features contain NaN or Inf; impute missing values "
                   "first (--preprocess impute=median)");
    const int64_t n = X.rows();
    std::vector<double> w(static_cast<size_t>(n), 1.0);
    if (weights) w = *weights;
    if (params_.class_weight == "balanced") {
      const std::vector<double> f = balanced_class_factors(y, n_classes);
      for (int64_t i = 0; i < n; ++i)
        w[static_cast<size_t>(i)] *= f[static_cast<size_t>(y[static_cast<size_t>(i)])];
    }
    Rng rng = ctx.rng(streams::kClassifier);
    torch::manual_seed(rng.next());
    torch::set_num_threads(ctx.n_threads());
    net_ = Net(X.cols(), params_.hidden, n_classes, params_.dropout);
    const torch::Tensor xt = to_tensor(X);
    const torch::Tensor yt =
        torch::from_blob(const_cast<int32_t*>(y.data()), {n}, torch::kInt32).to(torch::kInt64);
    const torch::Tensor wt = torch::from_blob(w.data(), {n}, torch::kFloat64).to(torch::kFloat32);
    torch::optim::AdamW opt(
        net_->parameters(),
        torch::optim::AdamWOptions(params_.lr).weight_decay(params_.weight_decay));
    net_->train();
    for (int64_t epoch = 0; epoch < params_.epochs; ++epoch) {
      const std::vector<size_t> perm = rng.permutation(static_cast<size_t>(n));
      std::vector<int64_t> perm64(perm.begin(), perm.end());
      const torch::Tensor order = torch::tensor(perm64, torch::kInt64);
      for (int64_t start = 0; start < n; start += params_.batch) {
        const torch::Tensor idx = order.slice(0, start, std::min(n, start + params_.batch));
        const torch::Tensor logits = net_->forward(xt.index_select(0, idx));
        const torch::Tensor bw = wt.index_select(0, idx);
        const torch::Tensor per_row = torch::nn::functional::cross_entropy(
            logits, yt.index_select(0, idx),
            torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
        const torch::Tensor loss = (per_row * bw).sum() / bw.sum().clamp_min(1e-12);
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
    }
    net_->eval();
    n_classes_ = n_classes;
    n_features_ = X.cols();
    fitted_ = true;
  }

  MatrixRM predict_proba(const MatrixRM& X) const override {
    check_predict_input("mlp", fitted_, X, n_features_);
    torch::NoGradGuard no_grad;
    const torch::Tensor p =
        torch::softmax(net_->forward(to_tensor(X)), 1).to(torch::kFloat64).contiguous();
    MatrixRM P(X.rows(), n_classes_);
    std::copy(p.data_ptr<double>(), p.data_ptr<double>() + P.size(), P.data());
    return P;
  }

  // JSON: {"format": "rareforge-mlp", "version": 1, "spec", "n_classes", "n_features", "hidden",
  // "dropout", "params": {name: {"shape": [...], "values": [...]}}} (float32 values, exact).
  void save(const std::string& path) const override {
    RF_CHECK(fitted_, "mlp: save() before fit");
    nlohmann::json j;
    j["format"] = "rareforge-mlp";
    j["version"] = 1;
    j["spec"] = spec();
    j["n_classes"] = n_classes_;
    j["n_features"] = n_features_;
    j["hidden"] = params_.hidden;
    j["dropout"] = params_.dropout;
    nlohmann::json ps = nlohmann::json::object();
    for (const auto& item : net_->named_parameters()) {
      const torch::Tensor t = item.value().detach().contiguous().to(torch::kFloat32);
      std::vector<float> v(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
      ps[item.key()] = {{"shape", t.sizes().vec()}, {"values", v}};
    }
    j["params"] = ps;
    std::ofstream out(path);
    RF_CHECK(out.good(), "mlp: cannot write model file '{}'", path);
    out << j.dump();
    RF_CHECK(!out.fail(), "mlp: failed writing model file '{}'", path);
  }

  void load(const std::string& path) override {
    std::ifstream in(path);
    RF_CHECK_INPUT(in.good(), "mlp: cannot open model file '{}'", path);
    try {
      const nlohmann::json j = nlohmann::json::parse(in);
      RF_CHECK_INPUT(j.at("format") == "rareforge-mlp", "mlp: '{}' is not an mlp model", path);
      params_.hidden = j.at("hidden").get<std::vector<int64_t>>();
      params_.dropout = j.at("dropout").get<double>();
      n_classes_ = j.at("n_classes").get<int>();
      n_features_ = j.at("n_features").get<int64_t>();
      net_ = Net(n_features_, params_.hidden, n_classes_, params_.dropout);
      torch::NoGradGuard no_grad;
      for (auto& item : net_->named_parameters()) {
        const auto& e = j.at("params").at(item.key());
        const auto shape = e.at("shape").get<std::vector<int64_t>>();
        auto v = e.at("values").get<std::vector<float>>();
        RF_CHECK_INPUT(shape == item.value().sizes().vec(),
                       "mlp: model file '{}': parameter {} has the wrong shape", path, item.key());
        item.value().copy_(torch::from_blob(v.data(), shape, torch::kFloat32));
      }
      net_->eval();
      fitted_ = true;
    } catch (const nlohmann::json::exception& e) {
      RF_THROW_INPUT("mlp: model file '{}' is malformed: {}", path, e.what());
    }
  }

  // Mean |weight| of each input column in the first layer.
  std::vector<double> feature_importances() const override {
    RF_CHECK(fitted_, "mlp: feature_importances() before fit");
    const torch::nn::Linear& first = net_->layers.empty() ? net_->out : net_->layers[0];
    const torch::Tensor imp = first->weight.detach().abs().mean(0).to(torch::kFloat64).contiguous();
    return std::vector<double>(imp.data_ptr<double>(), imp.data_ptr<double>() + imp.numel());
  }
  std::string importance_kind() const override { return "abs_first_layer_weight"; }
  bool fitted() const override { return fitted_; }
  int n_classes() const override { return n_classes_; }
  int64_t n_features() const override { return n_features_; }

 private:
  MlpParams params_;
  bool fitted_ = false;
  int n_classes_ = 0;
  int64_t n_features_ = 0;
  mutable Net net_{nullptr};
};

ClassifierInfo mlp_classifier_info() {
  ClassifierInfo info;
  info.name = "mlp";
  info.description = "multilayer perceptron (ReLU, AdamW, weighted cross-entropy) in LibTorch, CPU";
  info.params = {
      {"hidden", ParamType::kString, "64-32", -1e300, 1e300, {}, "hidden layer widths, '-'-joined"},
      {"epochs", ParamType::kInt, "30", 1, 1e6, {}, "passes over the training rows"},
      {"batch", ParamType::kInt, "256", 1, 1e9, {}, "mini-batch rows"},
      {"lr", ParamType::kDouble, "0.001", 1e-9, 10, {}, "AdamW learning rate"},
      {"weight_decay", ParamType::kDouble, "0", 0, 10, {}, "AdamW decoupled weight decay"},
      {"dropout", ParamType::kDouble, "0", 0, 0.95, {}, "dropout after each hidden layer"},
      class_weight_param(),
  };
  info.create = [](const ParamValues& p, const std::string& canonical) {
    MlpParams mp;
    mp.hidden = parse_hidden(p.get_string("hidden"));
    mp.epochs = p.get_int("epochs");
    mp.batch = p.get_int("batch");
    mp.lr = p.get_double("lr");
    mp.weight_decay = p.get_double("weight_decay");
    mp.dropout = p.get_double("dropout");
    mp.class_weight = p.get_string("class_weight");
    return std::unique_ptr<Classifier>(new MlpClassifier(mp, canonical));
  };
  return info;
}

}  // namespace

void register_mlp() { register_classifier(mlp_classifier_info()); }

}  // namespace rareforge::classifiers
