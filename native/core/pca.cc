#include "pca.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "error.h"
#include "scoring.h"
#include "size_limits.h"
#include "special.h"

namespace tads {
namespace {

// Eigenvalues at or below this fraction of the largest count as zero (round-off).
constexpr double kNegligibleEigen = 1e-12;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

const char* spe_method_name(SpeMethod m) {
  switch (m) {
    case SpeMethod::kJacksonMudholkar:
      return "jackson_mudholkar";
    case SpeMethod::kBox:
      return "box";
    case SpeMethod::kEmpirical:
      return "empirical";
    case SpeMethod::kResidualFloor:
      return "residual_floor";
    case SpeMethod::kNone:
      return "none";
  }
  return "none";
}

SpeLimitInfo jackson_mudholkar(const Eigen::VectorXd& discarded, double alpha, double lambda1,
                               double* limit) {
  SpeLimitInfo info;
  // Round-off eigenvalues carry no residual variance.
  for (Eigen::Index i = 0; i < discarded.size(); ++i) {
    const double l = discarded[i] > kNegligibleEigen * lambda1 ? discarded[i] : 0.0;
    info.theta1 += l;
    info.theta2 += l * l;
    info.theta3 += l * l * l;
  }
  if (info.theta1 <= 0.0) {
    // The training rows lie in the retained subspace: any residual is a departure from it.
    info.method = SpeMethod::kResidualFloor;
    *limit = kNegligibleEigen * lambda1;
    return info;
  }
  info.h0 = 1.0 - 2.0 * info.theta1 * info.theta3 / (3.0 * info.theta2 * info.theta2);
  info.z_alpha = normal_upper_quantile(alpha);
  if (info.h0 > 0.0) {
    const double inner =
        info.z_alpha * std::sqrt(2.0 * info.theta2 * info.h0 * info.h0) / info.theta1 + 1.0 +
        info.theta2 * info.h0 * (info.h0 - 1.0) / (info.theta1 * info.theta1);
    if (inner > 0.0) {
      info.method = SpeMethod::kJacksonMudholkar;
      *limit = info.theta1 * std::pow(inner, 1.0 / info.h0);
      return info;
    }
  }
  // Box's approximation: g chi^2_{1-alpha}(h), g = theta2 / theta1, h = theta1^2 / theta2.
  info.method = SpeMethod::kBox;
  info.g = info.theta2 / info.theta1;
  info.h = info.theta1 * info.theta1 / info.theta2;
  info.chi2 = chi2_upper_quantile(alpha, info.h);
  *limit = info.g * info.chi2;
  return info;
}

double quantile_inplace(double* values, int64_t n, double q) {
  const double pos = q * static_cast<double>(n - 1);
  const int64_t lo = static_cast<int64_t>(std::floor(pos));
  const double frac = pos - static_cast<double>(lo);
  std::nth_element(values, values + lo, values + n);
  const double a = values[lo];
  if (lo + 1 >= n || frac == 0.0) return a;
  const double b = *std::min_element(values + lo + 1, values + n);
  return a + (b - a) * frac;
}

PcaModelData fit_from_moments(const Moments& moments, const RobustStats& robust,
                              const FitOptions& options) {
  const int d = static_cast<int>(moments.mean.size());
  const int64_t n = moments.n;
  if (options.spe_rule == SpeRule::kEmpirical) {
    throw_range(
        "speLimit.method 'empirical' needs the training rows; got streamed moments (fit in memory, "
        "or set the limit from scored training rows)");
  }
  if (robust.median.size() != d || robust.mad.size() != d ||
      robust.mean_abs_dev_from_median.size() != d) {
    throw_range("robust statistics must have " + std::to_string(d) + " entries per metric");
  }
  if (n < 2) {
    throw_pca("TOO_FEW_ROWS", "fitting needs at least 2 rows; got " + std::to_string(n));
  }
  // The covariance, the solver's eigenvectors and workspace, and the reordered eigenvectors.
  check_memory(4 * static_cast<uint64_t>(d) * static_cast<uint64_t>(d),
               "the eigendecomposition of " + std::to_string(d) + " metrics");
  PcaModelData m;
  m.d = d;
  m.n = n;
  m.alpha = options.alpha;
  m.z_limit = options.z_limit;
  m.mean = moments.mean;

  // Standardise: population standard deviation (divisor n), scale 1 for a constant column.
  m.scale.resize(d);
  for (int j = 0; j < d; ++j) {
    const double sd = std::sqrt(std::max(moments.comoment(j, j), 0.0) / static_cast<double>(n));
    m.scale[j] = sd > 0.0 ? sd : 1.0;
  }
  const Eigen::VectorXd inv = m.scale.cwiseInverse();
  const Eigen::MatrixXd cov =
      inv.asDiagonal() * moments.comoment * inv.asDiagonal() / static_cast<double>(n - 1);

  // Eigendecomposition; Eigen returns ascending order, DESIGN.md wants descending.
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(cov);
  if (solver.info() != Eigen::Success) {
    throw_pca("NO_CONVERGENCE", "the eigendecomposition of the covariance did not converge");
  }
  m.eigenvalues = solver.eigenvalues().reverse().cwiseMax(0.0);  // clip round-off negatives
  const Eigen::MatrixXd vectors = solver.eigenvectors().rowwise().reverse();
  const double lambda1 = m.eigenvalues[0];
  if (!(lambda1 > 0.0)) {
    throw_pca("DEGENERATE", "every column is constant: the data has no variance to model");
  }
  const double total = m.eigenvalues.sum();
  m.explained_variance = m.eigenvalues / total;

  // Choose k: the variance rule or the given count, never past the numerical rank, and below d.
  int rank = 0;
  for (int i = 0; i < d; ++i) rank += m.eigenvalues[i] > kNegligibleEigen * lambda1 ? 1 : 0;
  const int k_max = std::max(1, d - 1);
  int k;
  if (options.n_components > 0) {
    k = options.n_components;
    if (k > k_max) {
      throw_range("nComponents must be an integer in [1, " + std::to_string(k_max) + "]; got " +
                  std::to_string(k));
    }
    if (k > rank) {
      throw_pca("RANK_DEFICIENT", "nComponents = " + std::to_string(k) +
                                      " exceeds the numerical rank of the standardised data (" +
                                      std::to_string(rank) + ")");
    }
  } else {
    double cumulative = 0.0;
    k = d;
    for (int i = 0; i < d; ++i) {
      cumulative += m.explained_variance[i];
      if (cumulative >= options.variance) {
        k = i + 1;
        break;
      }
    }
    k = std::min({k, rank, k_max});
  }
  if (n <= k + 1) {
    throw_pca("TOO_FEW_ROWS", "fitting " + std::to_string(k) + " components needs more than " +
                                  std::to_string(k + 1) + " rows; got " + std::to_string(n));
  }
  m.k = k;

  // Components with the sign rule: each row's entry of largest magnitude is positive.
  m.components.resize(k, d);
  for (int c = 0; c < k; ++c) {
    Eigen::Index arg = 0;
    vectors.col(c).cwiseAbs().maxCoeff(&arg);
    const double sign = vectors(arg, c) < 0.0 ? -1.0 : 1.0;
    m.components.row(c) = vectors.col(c).transpose() * sign;
  }

  // Robust statistics and the z scale with its fallbacks.
  m.median = robust.median;
  m.mad = robust.mad;
  m.z_scale = z_scale_from(robust);

  // T^2 limit: k (n-1)(n+1) / (n (n-k)) F_{1-alpha}(k, n-k).
  const double nd = static_cast<double>(n);
  m.f_quantile = f_upper_quantile(options.alpha, k, nd - k);
  m.t2_limit = k * (nd - 1.0) * (nd + 1.0) / (nd * (nd - k)) * m.f_quantile;

  // SPE limit from the discarded eigenvalues; d = 1 has no residual space at all.
  if (d == 1) {
    m.spe.method = SpeMethod::kNone;
    m.spe_limit = 0.0;
  } else {
    m.spe = jackson_mudholkar(m.eigenvalues.tail(d - k), options.alpha, lambda1, &m.spe_limit);
  }
  if (!std::isfinite(m.spe_limit) || !std::isfinite(m.t2_limit)) {
    throw_pca("NON_FINITE_LIMIT", "a control limit is not finite (spe_limit " + num(m.spe_limit) +
                                      ", t2_limit " + num(m.t2_limit) + ")");
  }
  return m;
}

PcaModelData fit_matrix(const double* data, int64_t rows, int d, const FitOptions& options) {
  MomentAccumulator acc(d);
  acc.push(data, rows);
  if (rows < 2) {
    throw_pca("TOO_FEW_ROWS", "fitting needs at least 2 rows; got " + std::to_string(rows));
  }
  const RobustStats robust = robust_stats(data, rows, d);
  FitOptions moment_options = options;
  moment_options.spe_rule = SpeRule::kJacksonMudholkar;
  PcaModelData m = fit_from_moments(acc.moments(), robust, moment_options);
  if (options.spe_rule == SpeRule::kEmpirical && d > 1) {
    // Score the training rows and take the quantile of their SPE.
    const ScoringModel sm = prepare_scoring(m);
    std::vector<double> spe(static_cast<size_t>(rows));
    score_spe(sm, data, rows, spe.data());
    const double q = quantile_inplace(spe.data(), rows, options.spe_quantile);
    m.spe = SpeLimitInfo{};
    m.spe.method = SpeMethod::kEmpirical;
    m.spe.quantile = options.spe_quantile;
    m.spe_limit = q;
    if (!(q > 0.0)) {
      m.spe.method = SpeMethod::kResidualFloor;
      m.spe_limit = kNegligibleEigen * m.eigenvalues[0];
    }
  }
  return m;
}

}  // namespace tads
