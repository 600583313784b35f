// PCA fitting as DESIGN.md pins it: standardise with the population standard deviation (scale 1
// for a constant column), eigendecompose the covariance of the standardised data (divisor n - 1),
// order eigenvalues descending, make each component's largest-magnitude entry positive, choose k,
// and set the SPE, T^2 and z limits, recording how each was set.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>

#include "moments.h"
#include "robust.h"

namespace tads {

enum class SpeRule { kJacksonMudholkar, kEmpirical };

// Fully defaulted fit options (validated by the caller).
struct FitOptions {
  double variance = 0.95;  // in (0, 1]
  int n_components = 0;    // 0: by the variance rule
  double alpha = 0.001;    // in (0, 0.5)
  double z_limit = 6.0;    // > 0
  SpeRule spe_rule = SpeRule::kJacksonMudholkar;
  double spe_quantile = 0.999;  // for SpeRule::kEmpirical, in (0, 1)
};

// How the SPE limit was set.
enum class SpeMethod {
  kJacksonMudholkar,  // the Q limit
  kBox,               // Box's g chi^2(h), where Jackson-Mudholkar's h0 <= 0
  kEmpirical,         // a quantile of the training SPE
  kResidualFloor,     // the residual space holds no variance: 1e-12 x lambda_1
  kNone,              // d = 1: there is no SPE
};

const char* spe_method_name(SpeMethod m);

struct SpeLimitInfo {
  SpeMethod method = SpeMethod::kNone;
  double theta1 = 0, theta2 = 0, theta3 = 0;  // sums of discarded eigenvalue powers
  double h0 = 0;                              // Jackson-Mudholkar exponent
  double z_alpha = 0;                         // normal upper quantile at alpha
  double g = 0, h = 0, chi2 = 0;              // Box's parameters and chi-squared quantile
  double quantile = 0;                        // empirical quantile level
};

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct PcaModelData {
  int d = 0;
  int k = 0;
  int64_t n = 0;
  Eigen::VectorXd mean, scale;
  RowMatrix components;                // k x d
  Eigen::VectorXd eigenvalues;         // all d, descending, round-off negatives clipped to 0
  Eigen::VectorXd explained_variance;  // ratio, all d
  Eigen::VectorXd median, mad, z_scale;
  double alpha = 0.001;
  double spe_limit = 0, t2_limit = 0, z_limit = 6;
  double f_quantile = 0;  // F_{1-alpha}(k, n - k) used by the T^2 limit
  SpeLimitInfo spe;
};

// Fits from streamed moments and caller-supplied robust statistics. The empirical SPE rule needs
// the rows and is rejected here (use fit_matrix, or set the limit afterwards from scored rows).
PcaModelData fit_from_moments(const Moments& moments, const RobustStats& robust,
                              const FitOptions& options);

// Fits a row-major (rows x d) in-memory matrix of finite values: moments, exact robust statistics,
// and, for the empirical SPE rule, a quantile of the training rows' SPE.
PcaModelData fit_matrix(const double* data, int64_t rows, int d, const FitOptions& options);

// The q-quantile of values (linear interpolation between order statistics, numpy's default);
// reorders values.
double quantile_inplace(double* values, int64_t n, double q);

// The Jackson-Mudholkar SPE limit (or its documented fallbacks) from the discarded eigenvalues.
SpeLimitInfo jackson_mudholkar(const Eigen::VectorXd& discarded, double alpha, double lambda1,
                               double* limit);

}  // namespace tads
