// Exact robust per-column statistics over in-memory data (selection by nth_element, O(n) per
// column), and the z scale DESIGN.md derives from them.
#pragma once

#include <Eigen/Dense>
#include <cstdint>

namespace tads {

struct RobustStats {
  Eigen::VectorXd median;  // per column; an even count takes the mean of the middle two
  Eigen::VectorXd mad;     // median absolute deviation from the median (unscaled)
  Eigen::VectorXd mean_abs_dev_from_median;  // mean of |x - median|
};

// Median of v[0..n) (reorders v); n >= 1.
double median_inplace(double* v, int64_t n);

// Per-column robust statistics of a row-major (rows x d) array of finite values; rows >= 1.
RobustStats robust_stats(const double* data, int64_t rows, int d);

// The robust z scale: 1.4826 MAD, else 1.2533 x the mean absolute deviation from the median where
// MAD is 0, else 1.
Eigen::VectorXd z_scale_from(const RobustStats& stats);

}  // namespace tads
