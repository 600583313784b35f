#include "special.h"

#include <cmath>
#include <limits>

#include "error.h"

namespace tads {
namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178032973640562;  // ln(2 pi) / 2
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kTiny = 1e-300;  // Lentz's guard against a zero denominator
constexpr int kMaxIterations = 1000000;

// a * ln(1 + u) written to keep precision when u is small.
double a_log1p(double a, double u) { return a * std::log1p(u); }

// ln( x^a y^b / B(a, b) ), with B(a, b) expanded by Stirling's series so that large a or b (many
// training rows) do not lose digits to the cancellation of lgamma(a) + lgamma(b) - lgamma(a + b).
double log_beta_power(double x, double y, double a, double b) {
  const double s = a + b;
  // a ln(x s / a) + b ln(y s / b): each argument written as 1 + u with u computed directly.
  const double ua = (x * b - y * a) / a;  // x s / a - 1, since x + y = 1
  const double ub = (y * a - x * b) / b;  // y s / b - 1
  const double ta = ua > -0.5 && ua < 1.0 ? a_log1p(a, ua) : a * std::log(x * s / a);
  const double tb = ub > -0.5 && ub < 1.0 ? a_log1p(b, ub) : b * std::log(y * s / b);
  return ta + tb + 0.5 * std::log(a / s * b) - kHalfLog2Pi + stirling_remainder(s) -
         stirling_remainder(a) - stirling_remainder(b);
}

// ln( x^a e^-x / Gamma(a) ), with Gamma(a) expanded by Stirling's series for the same reason.
double log_gamma_power(double a, double x) {
  const double u = (x - a) / a;
  return a * (std::log1p(u) - u) + 0.5 * std::log(a) - kHalfLog2Pi - stirling_remainder(a);
}

// Continued fraction of I_x(a, b) * a / prefactor (modified Lentz), converging fast for
// x < (a + 1) / (a + b + 2).
double beta_fraction(double x, double a, double b) {
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double f = d;
  for (int m = 1; m < kMaxIterations; ++m) {
    // Even step: m (b - m) x / ((a + 2m - 1)(a + 2m)).
    const double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    f *= d * c;
    // Odd step: -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    f *= delta;
    if (std::fabs(delta - 1.0) < kEps) return f;
  }
  throw_pca("NO_CONVERGENCE", "incomplete beta continued fraction did not converge");
}

// Density of Beta(a, b) at x (y = 1 - x).
double beta_density(double x, double y, double a, double b) {
  return std::exp(log_beta_power(x, y, a, b)) / (x * y);
}

}  // namespace

double stirling_remainder(double z) {
  if (z >= 10.0) {
    // Asymptotic series; at z >= 10 the first omitted term is below 1e-17.
    const double r = 1.0 / z;
    const double r2 = r * r;
    return r * (1.0 / 12 +
                r2 * (-1.0 / 360 +
                      r2 * (1.0 / 1260 +
                            r2 * (-1.0 / 1680 +
                                  r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156)))))));
  }
  return std::lgamma(z) - ((z - 0.5) * std::log(z) - z + kHalfLog2Pi);
}

Tails inc_beta(double x, double y, double a, double b) {
  if (x <= 0.0) return {0.0, 1.0};
  if (y <= 0.0) return {1.0, 0.0};
  // Evaluate the tail whose continued fraction converges, then take the other by symmetry.
  if (x < (a + 1.0) / (a + b + 2.0)) {
    const double lower = std::exp(log_beta_power(x, y, a, b)) * beta_fraction(x, a, b) / a;
    return {lower, 1.0 - lower};
  }
  const double upper = std::exp(log_beta_power(y, x, b, a)) * beta_fraction(y, b, a) / b;
  return {1.0 - upper, upper};
}

Tails inc_gamma(double a, double x) {
  if (x <= 0.0) return {0.0, 1.0};
  if (std::isinf(x)) return {1.0, 0.0};
  const double log_pre = log_gamma_power(a, x);
  if (x < a + 1.0) {
    // Series: P = prefactor * sum_n x^n / (a (a+1) ... (a+n)).
    double term = 1.0 / a;
    double sum = term;
    for (int n = 1; n < kMaxIterations; ++n) {
      term *= x / (a + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * kEps) {
        const double lower = std::exp(log_pre) * sum;
        return {lower, 1.0 - lower};
      }
    }
    throw_pca("NO_CONVERGENCE", "incomplete gamma series did not converge");
  }
  // Continued fraction for Q (modified Lentz).
  double b = x + 1.0 - a;
  double c = 1.0 / kTiny;
  double d = 1.0 / b;
  double f = d;
  for (int i = 1; i < kMaxIterations; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    f *= delta;
    if (std::fabs(delta - 1.0) < kEps) {
      const double upper = std::exp(log_pre) * f;
      return {1.0 - upper, upper};
    }
  }
  throw_pca("NO_CONVERGENCE", "incomplete gamma continued fraction did not converge");
}

namespace {

// Safeguarded Newton on ln(tail): finds x in (lo, hi) where tail_fn(x) = target. tail_fn returns
// the tail value and the derivative of the tail with respect to x. The tail is monotone; `rising`
// says in which direction. Bisection (geometric when the bracket spans decades) keeps every step
// inside the bracket.
template <typename TailFn>
double solve_tail(TailFn tail_fn, double target, bool rising, double lo, double hi, double x) {
  const double log_target = std::log(target);
  for (int it = 0; it < 400; ++it) {
    double deriv = 0.0;
    const double value = tail_fn(x, &deriv);
    if (value == target) return x;
    // Shrink the bracket with the sign of the residual.
    const bool below = value < target;
    if (below == rising) {
      lo = x;
    } else {
      hi = x;
    }
    double next;
    if (value > 0.0 && deriv != 0.0 && std::isfinite(deriv)) {
      // Newton on ln(tail): x -= (ln value - ln target) * value / deriv.
      next = x - (std::log(value) - log_target) * value / deriv;
    } else {
      next = std::nan("");
    }
    if (!(next > lo && next < hi)) {
      const bool wide = lo > 0.0 && hi / lo > 16.0 && std::isfinite(hi);
      next = wide ? std::sqrt(lo * hi) : (std::isfinite(hi) ? 0.5 * (lo + hi) : 2.0 * x + 1.0);
      if (lo == 0.0 && std::isfinite(hi) && hi > 0.0 && x > 0.0) next = std::min(next, 0.5 * x);
    }
    if (std::fabs(next - x) <= 4.0 * kEps * std::fabs(x) || next == lo || next == hi) return next;
    x = next;
  }
  return x;
}

}  // namespace

BetaRoot inv_inc_beta(double a, double b, double p, double q) {
  if (p <= 0.0) return {0.0, 1.0};
  if (q <= 0.0) return {1.0, 0.0};
  // Decide on which side of 1/2 the root lies, then solve for the smaller of x and 1 - x, by
  // symmetry I_x(a, b) = 1 - I_{1-x}(b, a), so that the complement is exact.
  const Tails mid = inc_beta(0.5, 0.5, a, b);
  const bool left = mid.lower >= p;
  const double aa = left ? a : b;
  const double bb = left ? b : a;
  const double pp = left ? p : q;  // target lower tail of I_t(aa, bb), t the smaller root
  const double qq = left ? q : p;
  const bool use_lower = pp <= qq;
  auto tail = [&](double t, double* deriv) {
    const Tails v = inc_beta(t, 1.0 - t, aa, bb);
    const double dens = beta_density(t, 1.0 - t, aa, bb);
    *deriv = use_lower ? dens : -dens;
    return use_lower ? v.lower : v.upper;
  };
  const double guess = std::min(0.25, aa / (aa + bb));
  const double t = solve_tail(tail, use_lower ? pp : qq, use_lower, 0.0, 0.5, guess);
  return left ? BetaRoot{t, 1.0 - t} : BetaRoot{1.0 - t, t};
}

double inv_inc_gamma(double a, double p, double q) {
  if (p <= 0.0) return 0.0;
  if (q <= 0.0) return std::numeric_limits<double>::infinity();
  const bool use_lower = p <= q;
  auto tail = [&](double x, double* deriv) {
    const Tails v = inc_gamma(a, x);
    const double dens = std::exp(log_gamma_power(a, x)) / x;
    *deriv = use_lower ? dens : -dens;
    return use_lower ? v.lower : v.upper;
  };
  // Bracket the root: grow hi until it passes the target.
  double hi = std::max(1.0, 2.0 * a);
  for (int i = 0; i < 2000; ++i) {
    const Tails v = inc_gamma(a, hi);
    if (use_lower ? v.lower >= p : v.upper <= q) break;
    hi *= 2.0;
  }
  return solve_tail(tail, use_lower ? p : q, use_lower, 0.0, hi, std::min(a, 0.5 * hi));
}

double f_upper_quantile(double alpha, double d1, double d2) {
  if (!(alpha > 0.0 && alpha < 1.0)) throw_range("alpha must be in (0, 1)");
  if (!(d1 > 0.0 && d2 > 0.0)) throw_range("F degrees of freedom must be > 0");
  // P(F <= f) = I_x(d1/2, d2/2) with x = d1 f / (d1 f + d2), so f = (d2 / d1) x / (1 - x).
  const BetaRoot r = inv_inc_beta(0.5 * d1, 0.5 * d2, 1.0 - alpha, alpha);
  return d2 / d1 * (r.x / r.y);
}

double chi2_upper_quantile(double alpha, double h) {
  if (!(alpha > 0.0 && alpha < 1.0)) throw_range("alpha must be in (0, 1)");
  if (!(h > 0.0)) throw_range("chi-squared degrees of freedom must be > 0");
  return 2.0 * inv_inc_gamma(0.5 * h, 1.0 - alpha, alpha);
}

double normal_upper_quantile(double alpha) {
  if (!(alpha > 0.0 && alpha < 1.0)) throw_range("alpha must be in (0, 1)");
  if (alpha == 0.5) return 0.0;
  // Z^2 is chi-squared with one degree of freedom: P(|Z| > z) = 2 alpha.
  if (alpha < 0.5) return std::sqrt(chi2_upper_quantile(2.0 * alpha, 1.0));
  return -std::sqrt(chi2_upper_quantile(2.0 * (1.0 - alpha), 1.0));
}

}  // namespace tads
