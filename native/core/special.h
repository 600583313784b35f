// Special functions for the control limits: regularized incomplete beta and gamma functions,
// their inverses, and the F, chi-squared and normal upper quantiles built on them. Both tails are
// computed directly (never as 1 - a value near 1), so small tail probabilities keep full relative
// accuracy.
#pragma once

namespace tads {

// A regularized incomplete function's two tails: lower + upper = 1, each accurate on its own.
struct Tails {
  double lower;
  double upper;
};

// A root in (0, 1) together with its complement, each accurate on its own.
struct BetaRoot {
  double x;
  double y;  // 1 - x
};

// Stirling-series remainder: lgamma(z) - ((z - 1/2) ln z - z + ln(2 pi)/2), for z > 0.
double stirling_remainder(double z);

// I_x(a, b) and 1 - I_x(a, b) for a, b > 0 and x in [0, 1]; y must equal 1 - x (passed separately
// so a value near 1 keeps its precision).
Tails inc_beta(double x, double y, double a, double b);

// P(a, x) and Q(a, x) = 1 - P(a, x), the regularized lower and upper incomplete gamma, a > 0, x >=
// 0.
Tails inc_gamma(double a, double x);

// The x in [0, 1] with I_x(a, b) = p, where q = 1 - p is given separately (the smaller of the two
// drives the solve). Assumes a, b > 0 and p, q in [0, 1].
BetaRoot inv_inc_beta(double a, double b, double p, double q);

// The x >= 0 with P(a, x) = p, where q = 1 - p is given separately. Assumes a > 0.
double inv_inc_gamma(double a, double p, double q);

// The f with P(F > f) = alpha for F ~ F(d1, d2); alpha in (0, 1), d1, d2 > 0.
double f_upper_quantile(double alpha, double d1, double d2);

// The c with P(X > c) = alpha for X ~ chi-squared(h); alpha in (0, 1), h > 0.
double chi2_upper_quantile(double alpha, double h);

// The z with P(Z > z) = alpha for a standard normal Z; alpha in (0, 1).
double normal_upper_quantile(double alpha);

}  // namespace tads
