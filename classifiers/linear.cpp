#include "classifiers/linear.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <limits>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "classical/knn.h"
#include "core/error.h"
#include "core/log.h"

namespace rareforge::classifiers {

namespace {

constexpr int64_t kBlockRows = 2048;
// solver=auto takes Newton up to this many parameters (K' x (d + 1)), FISTA above.
constexpr int64_t kNewtonMaxParams = 400;
// Logit gap given to a class without training rows (its probability is then ~1e-13).
constexpr double kAbsentLogit = 30.0;

// Runs fn(block) for every block in [0, n_blocks) on up to `threads` threads.
template <class Fn>
void for_blocks(int64_t n_blocks, int threads, const Fn& fn) {
  const int t = static_cast<int>(std::min<int64_t>(std::max(threads, 1), n_blocks));
  if (t <= 1) {
    for (int64_t b = 0; b < n_blocks; ++b) fn(b);
    return;
  }
  std::atomic<int64_t> next{0};
  std::vector<std::thread> pool;
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  pool.reserve(static_cast<size_t>(t));
  for (int i = 0; i < t; ++i) {
    pool.emplace_back([&] {
      try {
        for (int64_t b = next++; b < n_blocks && !failed; b = next++) fn(b);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

void check_finite(const std::string& who, const MatrixRM& X) {
  if (X.allFinite()) return;
  for (Eigen::Index i = 0; i < X.rows(); ++i)
    for (Eigen::Index j = 0; j < X.cols(); ++j)
      RF_CHECK_INPUT(std::isfinite(X(i, j)),
                     "{}: feature {} of row {} (0-based) is {}; impute missing values first "
                     "(--preprocess impute=median)",
                     who, j, i, X(i, j));
}

nlohmann::json read_json(const std::string& path, const std::string& who) {
  std::ifstream in(path);
  RF_CHECK_INPUT(in.good(), "{}: cannot open model file '{}'", who, path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("{}: model file '{}' is not valid JSON: {}", who, path, e.what());
  }
}

void write_json(const std::string& path, const nlohmann::json& j, const std::string& who) {
  std::ofstream out(path);
  RF_CHECK(out.good(), "{}: cannot write model file '{}'", who, path);
  out << j.dump();
  out.close();
  RF_CHECK(!out.fail(), "{}: failed writing model file '{}'", who, path);
}

// ----- logistic regression solver --------------------------------------------------------------

// Smooth part of the objective (weighted mean loss; the L2 term is added by the caller) and its
// gradient, summed per fixed block of rows and reduced in block order (thread-count independent).
class LossEvaluator {
 public:
  LossEvaluator(const MatrixRM& X, const std::vector<int32_t>& y, std::vector<double> s, int m,
                int threads)
      : X_(X), y_(y), s_(std::move(s)), m_(m), threads_(threads) {
    if (m_ == 1) {
      t_.resize(y.size());
      for (size_t i = 0; i < y.size(); ++i) t_[i] = y[i] == 1 ? 1.0 : 0.0;
    }
    if (m_ > 1) {
      // A class without rows (or all of its rows at weight 0 do count as rows) is left out of
      // the softmax: its logit is -inf during the fit.
      std::vector<char> seen(static_cast<size_t>(m_), 0);
      for (int32_t c : y) seen[static_cast<size_t>(c)] = 1;
      for (int k = 0; k < m_; ++k)
        if (!seen[static_cast<size_t>(k)]) absent_.push_back(k);
    }
    n_blocks_ = (X.rows() + kBlockRows - 1) / kBlockRows;
    block_loss_.assign(static_cast<size_t>(n_blocks_), 0.0);
    block_gw_.assign(static_cast<size_t>(n_blocks_), MatrixRM());
    block_gb_.assign(static_cast<size_t>(n_blocks_), Eigen::VectorXd());
  }

  // Returns (1/n) sum s_i loss_i; fills the gradient when gw != nullptr.
  double eval(const MatrixRM& W, const Eigen::VectorXd& b, MatrixRM* gw, Eigen::VectorXd* gb) {
    const bool grad = gw != nullptr;
    for_blocks(n_blocks_, threads_, [&](int64_t blk) { eval_block(blk, W, b, grad); });
    double loss = 0;
    for (int64_t blk = 0; blk < n_blocks_; ++blk) loss += block_loss_[static_cast<size_t>(blk)];
    if (grad) {
      gw->setZero(m_, X_.cols());
      gb->setZero(m_);
      for (int64_t blk = 0; blk < n_blocks_; ++blk) {
        *gw += block_gw_[static_cast<size_t>(blk)];
        *gb += block_gb_[static_cast<size_t>(blk)];
      }
    }
    return loss;
  }

  // Loss (as eval), gradient (P) and Hessian (P x P) of the weighted mean loss, for the
  // parameter layout theta[k * (d + 1) + j] (j = d: intercept of logit k). Summed per fixed
  // chunk of rows (at most 16, boundaries from n only) and reduced in chunk order.
  double eval_newton(const MatrixRM& W, const Eigen::VectorXd& b, Eigen::VectorXd* g,
                     Eigen::MatrixXd* H) {
    const Eigen::Index d = X_.cols(), d1 = d + 1, P = m_ * d1;
    const int64_t nc = std::min<int64_t>(16, n_blocks_);
    std::vector<double> closs(static_cast<size_t>(nc));
    std::vector<Eigen::VectorXd> cg(static_cast<size_t>(nc));
    std::vector<Eigen::MatrixXd> cH(static_cast<size_t>(nc));
    Eigen::MatrixXd Wa(m_, d1);
    Wa.leftCols(d) = W;
    Wa.col(d) = b;
    for_blocks(nc, threads_, [&](int64_t c) {
      double loss = 0;
      Eigen::VectorXd gg = Eigen::VectorXd::Zero(P);
      Eigen::MatrixXd HH = Eigen::MatrixXd::Zero(P, P);
      Eigen::MatrixXd Xa;
      for (int64_t blk = c * n_blocks_ / nc; blk < (c + 1) * n_blocks_ / nc; ++blk) {
        const Eigen::Index r0 = blk * kBlockRows;
        const Eigen::Index rows = std::min<Eigen::Index>(kBlockRows, X_.rows() - r0);
        Xa.resize(rows, d1);
        Xa.leftCols(d) = X_.middleRows(r0, rows);
        Xa.col(d).setOnes();
        const Eigen::Map<const Eigen::ArrayXd> s(s_.data() + r0, rows);
        Eigen::MatrixXd Z = Xa * Wa.transpose();
        for (int k : absent_) Z.col(k).setConstant(-std::numeric_limits<double>::infinity());
        if (m_ == 1) {
          const Eigen::Map<const Eigen::ArrayXd> t(t_.data() + r0, rows);
          const Eigen::ArrayXd z = Z.col(0).array();
          const Eigen::ArrayXd e = (-z.abs()).exp();
          loss += (s * (z.max(0.0) + e.log1p() - t * z)).sum();
          const Eigen::ArrayXd inv = (1.0 + e).inverse();
          const Eigen::ArrayXd p = (z >= 0).select(inv, e * inv);
          gg.noalias() += Xa.transpose() * (s * (p - t)).matrix();
          const Eigen::MatrixXd Xh = Xa.array().colwise() * (s * p * (1.0 - p));
          HH.noalias() += Xa.transpose() * Xh;
          continue;
        }
        const Eigen::VectorXd mx = Z.rowwise().maxCoeff();
        Eigen::MatrixXd Pm = (Z.colwise() - mx).array().exp().matrix();
        const Eigen::ArrayXd sum = Pm.rowwise().sum().array();
        loss += (s * (mx.array() + sum.log())).sum();
        Pm.array().colwise() /= sum;
        Eigen::MatrixXd R = Pm.array().colwise() * s;
        for (Eigen::Index i = 0; i < rows; ++i) {
          const int c_i = y_[static_cast<size_t>(r0 + i)];
          loss -= s(i) * Z(i, c_i);
          R(i, c_i) -= s(i);
        }
        for (int k = 0; k < m_; ++k) {
          gg.segment(k * d1, d1).noalias() += Xa.transpose() * R.col(k);
          for (int l = k; l < m_; ++l) {
            Eigen::ArrayXd w = s * Pm.col(k).array() * ((k == l ? 1.0 : 0.0) - Pm.col(l).array());
            const Eigen::MatrixXd Xh = Xa.array().colwise() * w;
            HH.block(k * d1, l * d1, d1, d1).noalias() += Xa.transpose() * Xh;
          }
        }
      }
      closs[static_cast<size_t>(c)] = loss;
      cg[static_cast<size_t>(c)] = std::move(gg);
      cH[static_cast<size_t>(c)] = std::move(HH);
    });
    double loss = 0;
    g->setZero(P);
    H->setZero(P, P);
    for (int64_t c = 0; c < nc; ++c) {
      loss += closs[static_cast<size_t>(c)];
      *g += cg[static_cast<size_t>(c)];
      *H += cH[static_cast<size_t>(c)];
    }
    for (int k = 0; k < m_; ++k)
      for (int l = k + 1; l < m_; ++l)
        H->block(l * d1, k * d1, d1, d1) = H->block(k * d1, l * d1, d1, d1).transpose();
    return loss;
  }

 private:
  void eval_block(int64_t blk, const MatrixRM& W, const Eigen::VectorXd& b, bool grad) {
    const Eigen::Index r0 = blk * kBlockRows;
    const Eigen::Index rows = std::min<Eigen::Index>(kBlockRows, X_.rows() - r0);
    const auto Xb = X_.middleRows(r0, rows);
    const Eigen::Map<const Eigen::ArrayXd> s(s_.data() + r0, rows);
    const auto ub = static_cast<size_t>(blk);
    if (m_ == 1) {
      // loss = s * (log(1 + exp(z)) - t z), t = [y == 1]; residual s * (sigmoid(z) - t).
      const Eigen::Map<const Eigen::ArrayXd> t(t_.data() + r0, rows);
      Eigen::ArrayXd z = (Xb * W.row(0).transpose()).array() + b(0);
      const Eigen::ArrayXd e = (-z.abs()).exp();
      block_loss_[ub] = (s * (z.max(0.0) + e.log1p() - t * z)).sum();
      if (grad) {
        const Eigen::ArrayXd inv = (1.0 + e).inverse();
        const Eigen::ArrayXd r = s * ((z >= 0).select(inv, e * inv) - t);
        block_gw_[ub].noalias() = (Xb.transpose() * r.matrix()).transpose();
        block_gb_[ub] = Eigen::VectorXd::Constant(1, r.sum());
      }
      return;
    }
    MatrixRM Z = Xb * W.transpose();
    Z.rowwise() += b.transpose();
    for (int k : absent_) Z.col(k).setConstant(-std::numeric_limits<double>::infinity());
    const Eigen::VectorXd mx = Z.rowwise().maxCoeff();
    MatrixRM E = (Z.colwise() - mx).array().exp().matrix();
    const Eigen::ArrayXd sum = E.rowwise().sum().array();
    double loss = (s * (mx.array() + sum.log())).sum();
    for (Eigen::Index i = 0; i < rows; ++i) loss -= s(i) * Z(i, y_[static_cast<size_t>(r0 + i)]);
    block_loss_[ub] = loss;
    if (grad) {
      // E becomes the residual s * (p - onehot(y)).
      E.array().colwise() *= s / sum;
      for (Eigen::Index i = 0; i < rows; ++i) E(i, y_[static_cast<size_t>(r0 + i)]) -= s(i);
      block_gw_[ub].noalias() = E.transpose() * Xb;
      block_gb_[ub] = E.colwise().sum().transpose();
    }
  }

  const MatrixRM& X_;
  const std::vector<int32_t>& y_;
  std::vector<double> s_;    // row weight / n
  std::vector<double> t_;    // binary: 1 for class 1, else 0
  std::vector<int> absent_;  // multinomial: classes without rows (logit -inf)
  int m_;
  int threads_;
  int64_t n_blocks_ = 0;
  std::vector<double> block_loss_;
  std::vector<MatrixRM> block_gw_;
  std::vector<Eigen::VectorXd> block_gb_;
};

double soft_threshold(double v, double t) {
  if (v > t) return v - t;
  if (v < -t) return v + t;
  return 0.0;
}

}  // namespace

// ----- LogisticRegression ----------------------------------------------------------------------

LogisticRegression::LogisticRegression(const LogRegParams& params, std::string spec)
    : Classifier(std::move(spec)), params_(params) {
  RF_CHECK_INPUT(params_.alpha >= 0 && std::isfinite(params_.alpha),
                 "logreg: alpha must be finite and >= 0, got {}", params_.alpha);
  RF_CHECK_INPUT(params_.l1_ratio >= 0 && params_.l1_ratio <= 1,
                 "logreg: l1_ratio must be in [0, 1], got {}", params_.l1_ratio);
  RF_CHECK_INPUT(params_.class_weight == "none" || params_.class_weight == "balanced",
                 "logreg: class_weight must be none or balanced, got '{}'", params_.class_weight);
  RF_CHECK_INPUT(params_.max_iter >= 1, "logreg: max_iter must be >= 1, got {}", params_.max_iter);
  RF_CHECK_INPUT(params_.tol >= 0, "logreg: tol must be >= 0, got {}", params_.tol);
  RF_CHECK_INPUT(
      params_.solver == "auto" || params_.solver == "newton" || params_.solver == "fista",
      "logreg: solver must be auto, newton or fista, got '{}'", params_.solver);
}

namespace {

struct SolveResult {
  int64_t iterations = 0;
  bool converged = false;
};

// FISTA with backtracking and gradient-based adaptive restart (O'Donoghue & Candes).
SolveResult solve_fista(LossEvaluator& eval, double L, double l1, double l2, bool icpt,
                        const LogRegParams& p, MatrixRM* W_out, Eigen::VectorXd* b_out) {
  auto smooth = [&](const MatrixRM& W, const Eigen::VectorXd& b, MatrixRM* gw,
                    Eigen::VectorXd* gb) {
    double f = eval.eval(W, b, gw, gb) + 0.5 * l2 * W.squaredNorm();
    if (gw) {
      *gw += l2 * W;
      if (!icpt) gb->setZero();
    }
    return f;
  };
  const Eigen::Index m = W_out->rows(), d = W_out->cols();
  MatrixRM W = MatrixRM::Zero(m, d), W_prev = W, Wy = W, gW, W_new(m, d);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(m), b_prev = b, by = b, gb, b_new(m);
  double t = 1.0;
  double fy = smooth(Wy, by, &gW, &gb);
  SolveResult res;
  int64_t it = 0;
  for (it = 1; it <= p.max_iter; ++it) {
    L *= 0.8;  // let the step grow again; backtracking restores a safe L
    for (int tries = 0;; ++tries) {
      const double step = 1.0 / L;
      for (Eigen::Index k = 0; k < m; ++k)
        for (Eigen::Index j = 0; j < d; ++j)
          W_new(k, j) = soft_threshold(Wy(k, j) - step * gW(k, j), step * l1);
      b_new = by - step * gb;
      const double f_new = smooth(W_new, b_new, nullptr, nullptr);
      const double dw2 = (W_new - Wy).squaredNorm() + (b_new - by).squaredNorm();
      const double lin = ((W_new - Wy).cwiseProduct(gW)).sum() + (b_new - by).dot(gb);
      if (f_new <= fy + lin + 0.5 * L * dw2 + 1e-13 * (1.0 + std::abs(fy)) || tries >= 60) break;
      L *= 2.0;
    }
    const double change =
        std::max((W_new - W).cwiseAbs().maxCoeff(), (b_new - b).cwiseAbs().maxCoeff());
    const double scale = std::max(W_new.cwiseAbs().maxCoeff(), b_new.cwiseAbs().maxCoeff());
    const double uphill =
        ((Wy - W_new).cwiseProduct(W_new - W)).sum() + (by - b_new).dot(b_new - b);
    W_prev.swap(W);
    b_prev.swap(b);
    W = W_new;
    b = b_new;
    if (change <= p.tol * scale || change == 0.0) {
      res.converged = true;
      break;
    }
    double t_new;
    if (uphill > 0) {
      t = 1.0;
      t_new = 1.0;
    } else {
      t_new = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * t * t));
    }
    const double beta = (t - 1.0) / t_new;
    Wy = W + beta * (W - W_prev);
    by = b + beta * (b - b_prev);
    t = t_new;
    fy = smooth(Wy, by, &gW, &gb);
  }
  res.iterations = std::min(it, p.max_iter);
  *W_out = std::move(W);
  *b_out = std::move(b);
  return res;
}

// Proximal Newton (the newGLMNET scheme): at each iteration the exact Hessian and gradient in
// one pass, the penalised quadratic model minimised by cyclic coordinate descent, then a
// backtracking line search on the true objective (Armijo with sigma = 0.01).
SolveResult solve_newton(LossEvaluator& eval, double l1, double l2, bool icpt,
                         const LogRegParams& p, MatrixRM* W_out, Eigen::VectorXd* b_out) {
  const Eigen::Index m = W_out->rows(), d = W_out->cols(), d1 = d + 1, P = m * d1;
  Eigen::VectorXd theta = Eigen::VectorXd::Zero(P), g, delta(P), Hd(P), theta_new(P);
  Eigen::MatrixXd H;
  MatrixRM W(m, d);
  Eigen::VectorXd b(m);
  auto unpack = [&](const Eigen::VectorXd& th) {
    for (Eigen::Index k = 0; k < m; ++k) {
      W.row(k) = th.segment(k * d1, d).transpose();
      b(k) = th(k * d1 + d);
    }
  };
  auto penalty = [&]() { return 0.5 * l2 * W.squaredNorm() + l1 * W.cwiseAbs().sum(); };
  SolveResult res;
  int64_t it = 0;
  for (it = 1; it <= p.max_iter; ++it) {
    unpack(theta);
    const double F0 = eval.eval_newton(W, b, &g, &H) + penalty();
    for (Eigen::Index i = 0; i < P; ++i) {
      if (i % d1 == d) continue;
      g(i) += l2 * theta(i);
      H(i, i) += l2;
    }
    // Coordinate descent on g'delta + delta'H delta / 2 + l1 |w + delta|_1.
    delta.setZero();
    Hd.setZero();
    const double inner_tol = 0.01 * p.tol * std::max(1.0, theta.cwiseAbs().maxCoeff());
    for (int sweep = 0; sweep < 1000; ++sweep) {
      double max_change = 0;
      for (Eigen::Index i = 0; i < P; ++i) {
        const bool intercept = i % d1 == d;
        if (intercept && !icpt) continue;
        const double a = std::max(H(i, i), 1e-12);
        const double cur = theta(i) + delta(i);
        const double u = cur - (g(i) + Hd(i)) / a;
        const double z = intercept ? u : soft_threshold(u, l1 / a);
        const double ch = z - cur;
        if (ch == 0.0) continue;
        delta(i) += ch;
        Hd.noalias() += H.col(i) * ch;
        max_change = std::max(max_change, std::abs(ch));
      }
      if (max_change <= inner_tol) break;
    }
    // Armijo line search on F = loss + penalty.
    double l1_new = 0, l1_old = 0;
    for (Eigen::Index i = 0; i < P; ++i) {
      if (i % d1 == d) continue;
      l1_new += std::abs(theta(i) + delta(i));
      l1_old += std::abs(theta(i));
    }
    const double decrease = g.dot(delta) + l1 * (l1_new - l1_old);
    double step = 1.0;
    for (int ls = 0; ls < 60; ++ls) {
      theta_new = theta + step * delta;
      unpack(theta_new);
      const double F = eval.eval(W, b, nullptr, nullptr) + penalty();
      if (F <= F0 + 0.01 * step * decrease + 1e-14 * (1.0 + std::abs(F0))) break;
      step *= 0.5;
    }
    const double change = step * delta.cwiseAbs().maxCoeff();
    const double scale = theta_new.cwiseAbs().maxCoeff();
    theta = theta_new;
    if (change <= p.tol * scale || change == 0.0) {
      res.converged = true;
      break;
    }
  }
  unpack(theta);
  res.iterations = std::min(it, p.max_iter);
  *W_out = std::move(W);
  *b_out = std::move(b);
  return res;
}

}  // namespace

void LogisticRegression::fit(const MatrixRM& X, const std::vector<int32_t>& y, int n_classes,
                             const std::vector<double>* weights, const Context& ctx) {
  check_fit_input("logreg", X, y, n_classes, weights);
  check_finite("logreg", X);
  const int64_t n = X.rows();
  const int64_t d = X.cols();
  const int m = n_classes == 2 ? 1 : n_classes;

  // Row weights s_i / n.
  std::vector<double> s(static_cast<size_t>(n), 1.0 / static_cast<double>(n));
  if (weights)
    for (int64_t i = 0; i < n; ++i) s[static_cast<size_t>(i)] *= (*weights)[static_cast<size_t>(i)];
  if (params_.class_weight == "balanced") {
    const std::vector<double> f = balanced_class_factors(y, n_classes);
    for (int64_t i = 0; i < n; ++i)
      s[static_cast<size_t>(i)] *= f[static_cast<size_t>(y[static_cast<size_t>(i)])];
  }

  const double l2 = params_.alpha * (1.0 - params_.l1_ratio);
  const double l1 = params_.alpha * params_.l1_ratio;
  const bool icpt = params_.fit_intercept;

  // Lipschitz upper bound of the smooth gradient (FISTA's first step): curvature factor (1/4
  // binary, 1/2 softmax) times trace(X~' S X~) with X~ = [X, 1], plus the L2 term.
  double trace = 0;
  for (int64_t i = 0; i < n; ++i)
    trace += s[static_cast<size_t>(i)] * (X.row(i).squaredNorm() + (icpt ? 1.0 : 0.0));
  double L = (m == 1 ? 0.25 : 0.5) * trace + l2;
  if (!(L > 0)) L = 1.0;

  std::vector<char> present(static_cast<size_t>(n_classes), 0);
  for (int32_t c : y) present[static_cast<size_t>(c)] = 1;
  const auto n_present = std::count(present.begin(), present.end(), 1);

  MatrixRM W = MatrixRM::Zero(m, d);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(m);
  SolveResult res;
  if (n_present == 1) {
    // One class only: the optimum is W = 0 with the intercepts at +-infinity; report the
    // limit as logits kAbsentLogit apart (probability ~1e-13 for the other classes).
    if (m == 1) {
      b(0) = present[1] ? kAbsentLogit : -kAbsentLogit;
    } else {
      for (int k = 0; k < m; ++k) b(k) = present[static_cast<size_t>(k)] ? 0.0 : -kAbsentLogit;
    }
    res.converged = true;
  } else {
    LossEvaluator eval(X, y, std::move(s), m, ctx.n_threads());
    const bool newton =
        params_.solver == "newton" || (params_.solver == "auto" && m * (d + 1) <= kNewtonMaxParams);
    res = newton ? solve_newton(eval, l1, l2, icpt, params_, &W, &b)
                 : solve_fista(eval, L, l1, l2, icpt, params_, &W, &b);
  }
  if (m > 1 && n_present > 1) {
    // Softmax is unchanged by a common shift: report sum-zero intercepts over the classes
    // with rows (as sklearn's saga from zero), and sum-zero coefficient columns when nothing
    // is penalised. A class without rows gets W = 0 and an intercept kAbsentLogit below the
    // smallest other one.
    double mean_b = 0;
    Eigen::RowVectorXd mean_w = Eigen::RowVectorXd::Zero(d);
    for (int k = 0; k < m; ++k)
      if (present[static_cast<size_t>(k)]) {
        mean_b += b(k) / static_cast<double>(n_present);
        mean_w += W.row(k) / static_cast<double>(n_present);
      }
    double min_b = std::numeric_limits<double>::infinity();
    for (int k = 0; k < m; ++k)
      if (present[static_cast<size_t>(k)]) {
        b(k) -= mean_b;
        if (params_.alpha == 0) W.row(k) -= mean_w;
        min_b = std::min(min_b, b(k));
      }
    for (int k = 0; k < m; ++k)
      if (!present[static_cast<size_t>(k)]) {
        W.row(k).setZero();
        b(k) = min_b - kAbsentLogit;
      }
  }
  n_iter_ = res.iterations;
  converged_ = res.converged;
  if (!converged_)
    warn_once(fmt::format(
        "logreg: did not converge in max_iter={} iterations (tol={}); raise max_iter or alpha",
        params_.max_iter, params_.tol));
  coef_ = std::move(W);
  intercept_ = std::move(b);
  n_classes_ = n_classes;
  fitted_ = true;
}

MatrixRM LogisticRegression::predict_proba(const MatrixRM& X) const {
  check_predict_input("logreg", fitted_, X, n_features());
  check_finite("logreg", X);
  MatrixRM Z = X * coef_.transpose();
  Z.rowwise() += intercept_.transpose();
  MatrixRM P(X.rows(), n_classes_);
  if (n_classes_ == 2) {
    for (Eigen::Index i = 0; i < X.rows(); ++i) {
      const double z = Z(i, 0);
      const double p = z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
      P(i, 0) = 1.0 - p;
      P(i, 1) = p;
    }
  } else {
    for (Eigen::Index i = 0; i < X.rows(); ++i) {
      const double mx = Z.row(i).maxCoeff();
      double sum = 0;
      for (int k = 0; k < n_classes_; ++k) sum += (P(i, k) = std::exp(Z(i, k) - mx));
      P.row(i) /= sum;
    }
  }
  return P;
}

const MatrixRM& LogisticRegression::coef() const {
  RF_CHECK(fitted_, "logreg: coef() before fit");
  return coef_;
}

const Eigen::VectorXd& LogisticRegression::intercept() const {
  RF_CHECK(fitted_, "logreg: intercept() before fit");
  return intercept_;
}

Eigen::VectorXd LogisticRegression::positive_coef() const {
  RF_CHECK(fitted_, "logreg: positive_coef() before fit");
  RF_CHECK_INPUT(n_classes_ == 2,
                 "logreg: positive_coef() needs two classes, the model has {}; use coef()",
                 n_classes_);
  return coef_.row(0).transpose();
}

std::vector<double> LogisticRegression::feature_importances() const {
  RF_CHECK(fitted_, "logreg: feature_importances() before fit");
  const Eigen::VectorXd imp = coef_.cwiseAbs().colwise().mean().transpose();
  return std::vector<double>(imp.data(), imp.data() + imp.size());
}

void LogisticRegression::save(const std::string& path) const {
  RF_CHECK(fitted_, "logreg: save() before fit");
  nlohmann::json j;
  j["format"] = "rareforge-logreg";
  j["version"] = 1;
  j["spec"] = spec();
  j["n_classes"] = n_classes_;
  j["n_features"] = coef_.cols();
  nlohmann::json rows = nlohmann::json::array();
  for (Eigen::Index k = 0; k < coef_.rows(); ++k)
    rows.push_back(std::vector<double>(coef_.row(k).data(), coef_.row(k).data() + coef_.cols()));
  j["coef"] = rows;
  j["intercept"] = std::vector<double>(intercept_.data(), intercept_.data() + intercept_.size());
  j["n_iter"] = n_iter_;
  j["converged"] = converged_;
  write_json(path, j, "logreg");
}

void LogisticRegression::load(const std::string& path) {
  const nlohmann::json j = read_json(path, "logreg");
  try {
    RF_CHECK_INPUT(j.at("format") == "rareforge-logreg",
                   "logreg: '{}' is not a logreg model (format {})", path, j.at("format").dump());
    const int k = j.at("n_classes").get<int>();
    const auto d = j.at("n_features").get<int64_t>();
    const auto rows = j.at("coef").get<std::vector<std::vector<double>>>();
    const auto icpt = j.at("intercept").get<std::vector<double>>();
    const size_t m = k == 2 ? 1 : static_cast<size_t>(k);
    RF_CHECK_INPUT(k >= 2 && d >= 1 && rows.size() == m && icpt.size() == m,
                   "logreg: model file '{}' has inconsistent shapes", path);
    MatrixRM W(static_cast<Eigen::Index>(m), d);
    for (size_t r = 0; r < m; ++r) {
      RF_CHECK_INPUT(static_cast<int64_t>(rows[r].size()) == d,
                     "logreg: model file '{}' has inconsistent shapes", path);
      for (int64_t c = 0; c < d; ++c)
        W(static_cast<Eigen::Index>(r), c) = rows[r][static_cast<size_t>(c)];
    }
    coef_ = std::move(W);
    intercept_ = Eigen::Map<const Eigen::VectorXd>(icpt.data(), static_cast<Eigen::Index>(m));
    n_iter_ = j.value("n_iter", int64_t{0});
    converged_ = j.value("converged", true);
    n_classes_ = k;
    fitted_ = true;
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("logreg: model file '{}' is malformed: {}", path, e.what());
  }
}

// ----- KnnClassifier ---------------------------------------------------------------------------

KnnClassifier::KnnClassifier(const KnnParams& params, std::string spec)
    : Classifier(std::move(spec)), params_(params) {
  RF_CHECK_INPUT(params_.k >= 1, "knn: k must be >= 1, got {}", params_.k);
  RF_CHECK_INPUT(params_.weights == "uniform" || params_.weights == "distance",
                 "knn: weights must be uniform or distance, got '{}'", params_.weights);
}

void KnnClassifier::fit(const MatrixRM& X, const std::vector<int32_t>& y, int n_classes,
                        const std::vector<double>* weights, const Context& ctx) {
  check_fit_input("knn", X, y, n_classes, weights);
  check_finite("knn", X);
  RF_CHECK_INPUT(params_.k <= X.rows(), "knn: k={} is larger than the {} training rows; lower k",
                 params_.k, X.rows());
  X_ = X;
  y_ = y;
  sample_weight_ = weights ? *weights : std::vector<double>{};
  n_classes_ = n_classes;
  threads_ = ctx.n_threads();
  fitted_ = true;
}

MatrixRM KnnClassifier::predict_proba(const MatrixRM& X) const {
  check_predict_input("knn", fitted_, X, n_features());
  MatrixRM P = MatrixRM::Zero(X.rows(), n_classes_);
  if (X.rows() == 0) return P;
  knn::Options opt;
  opt.threads = threads_;
  const auto k = static_cast<size_t>(params_.k);
  const knn::Result r = knn::query(knn::View(X_), knn::View(X), k, opt);
  const bool by_distance = params_.weights == "distance";
  for (Eigen::Index i = 0; i < X.rows(); ++i) {
    const auto q = static_cast<size_t>(i);
    bool zero = false;
    if (by_distance)
      for (size_t j = 0; j < k; ++j) zero = zero || r.distance(q, j) == 0.0;
    double total = 0;
    for (size_t j = 0; j < k; ++j) {
      const auto ref = static_cast<size_t>(r.index(q, j));
      double v = sample_weight_.empty() ? 1.0 : sample_weight_[ref];
      if (by_distance) {
        const double dist = r.distance(q, j);
        v *= zero ? (dist == 0.0 ? 1.0 : 0.0) : 1.0 / dist;
      }
      P(i, y_[ref]) += v;
      total += v;
    }
    if (total > 0) {
      P.row(i) /= total;
    } else {
      P.row(i).setConstant(1.0 / n_classes_);  // every neighbour has sample weight 0
    }
  }
  return P;
}

std::vector<double> KnnClassifier::feature_importances() const {
  RF_CHECK(fitted_, "knn: feature_importances() before fit");
  return std::vector<double>(static_cast<size_t>(X_.cols()), 0.0);
}

void KnnClassifier::save(const std::string& path) const {
  RF_CHECK(fitted_, "knn: save() before fit");
  nlohmann::json j;
  j["format"] = "rareforge-knn";
  j["version"] = 1;
  j["spec"] = spec();
  j["k"] = params_.k;
  j["weights"] = params_.weights;
  j["n_classes"] = n_classes_;
  nlohmann::json rows = nlohmann::json::array();
  for (Eigen::Index i = 0; i < X_.rows(); ++i)
    rows.push_back(std::vector<double>(X_.row(i).data(), X_.row(i).data() + X_.cols()));
  j["X"] = std::move(rows);
  j["y"] = y_;
  if (!sample_weight_.empty()) j["sample_weight"] = sample_weight_;
  write_json(path, j, "knn");
}

void KnnClassifier::load(const std::string& path) {
  const nlohmann::json j = read_json(path, "knn");
  try {
    RF_CHECK_INPUT(j.at("format") == "rareforge-knn", "knn: '{}' is not a knn model (format {})",
                   path, j.at("format").dump());
    const auto rows = j.at("X").get<std::vector<std::vector<double>>>();
    auto y = j.at("y").get<std::vector<int32_t>>();
    const int k = j.at("n_classes").get<int>();
    RF_CHECK_INPUT(!rows.empty() && rows.size() == y.size() && k >= 2,
                   "knn: model file '{}' has inconsistent shapes", path);
    const size_t d = rows[0].size();
    MatrixRM X(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(d));
    for (size_t i = 0; i < rows.size(); ++i) {
      RF_CHECK_INPUT(rows[i].size() == d, "knn: model file '{}' has ragged rows", path);
      for (size_t c = 0; c < d; ++c)
        X(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c)) = rows[i][c];
    }
    for (int32_t c : y)
      RF_CHECK_INPUT(c >= 0 && c < k, "knn: model file '{}' has a label outside 0..{}", path,
                     k - 1);
    std::vector<double> sw;
    if (j.contains("sample_weight")) sw = j.at("sample_weight").get<std::vector<double>>();
    RF_CHECK_INPUT(sw.empty() || sw.size() == y.size(),
                   "knn: model file '{}' has inconsistent shapes", path);
    params_.k = j.at("k").get<int64_t>();
    params_.weights = j.at("weights").get<std::string>();
    RF_CHECK_INPUT(params_.k >= 1 && params_.k <= X.rows(), "knn: model file '{}' has k={}", path,
                   params_.k);
    X_ = std::move(X);
    y_ = std::move(y);
    sample_weight_ = std::move(sw);
    n_classes_ = k;
    threads_ = 0;
    fitted_ = true;
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("knn: model file '{}' is malformed: {}", path, e.what());
  }
}

// ----- registry --------------------------------------------------------------------------------

void register_linear_classifiers(std::vector<ClassifierInfo>& out) {
  {
    ClassifierInfo info;
    info.name = "logreg";
    info.description =
        "multinomial logistic regression with elastic-net penalty (FISTA; sklearn's objective)";
    info.params = {
        {"alpha",
         ParamType::kDouble,
         "0.0001",
         0,
         1e6,
         {},
         "penalty strength; sklearn's C = 1 / (alpha * n_rows)"},
        {"l1_ratio", ParamType::kDouble, "0", 0, 1, {}, "0 = L2 (ridge), 1 = L1 (lasso)"},
        class_weight_param(),
        {"max_iter", ParamType::kInt, "1000", 1, 1e9, {}, "maximum solver iterations"},
        {"tol",
         ParamType::kDouble,
         "1e-6",
         0,
         1,
         {},
         "stop when the largest coefficient change <= tol * the largest coefficient"},
        {"fit_intercept",
         ParamType::kBool,
         "true",
         -1e300,
         1e300,
         {},
         "learn an unpenalised intercept"},
        {"solver",
         ParamType::kString,
         "auto",
         -1e300,
         1e300,
         {"auto", "newton", "fista"},
         "auto: proximal Newton up to 400 parameters (K' x (d + 1)), else FISTA"},
    };
    info.create = [](const ParamValues& p, const std::string& canonical) {
      LogRegParams lp;
      lp.alpha = p.get_double("alpha");
      lp.l1_ratio = p.get_double("l1_ratio");
      lp.class_weight = p.get_string("class_weight");
      lp.max_iter = p.get_int("max_iter");
      lp.tol = p.get_double("tol");
      lp.fit_intercept = p.get_bool("fit_intercept");
      lp.solver = p.get_string("solver");
      return std::unique_ptr<Classifier>(new LogisticRegression(lp, canonical));
    };
    out.push_back(std::move(info));
  }
  {
    ClassifierInfo info;
    info.name = "knn";
    info.description = "k-nearest-neighbour vote on the exact kNN engine (sklearn's semantics)";
    info.params = {
        {"k", ParamType::kInt, "5", 1, 1e9, {}, "neighbours that vote"},
        {"weights",
         ParamType::kString,
         "uniform",
         -1e300,
         1e300,
         {"uniform", "distance"},
         "uniform votes, or 1/distance (neighbours at distance 0 take all the weight)"},
    };
    info.create = [](const ParamValues& p, const std::string& canonical) {
      KnnParams kp;
      kp.k = p.get_int("k");
      kp.weights = p.get_string("weights");
      return std::unique_ptr<Classifier>(new KnnClassifier(kp, canonical));
    };
    out.push_back(std::move(info));
  }
}

}  // namespace rareforge::classifiers
