#include "robust.h"

#include <algorithm>
#include <vector>

namespace tads {

double median_inplace(double* v, int64_t n) {
  const int64_t mid = n / 2;
  std::nth_element(v, v + mid, v + n);
  const double hi = v[mid];
  if (n % 2 == 1) return hi;
  // The lower middle value is the largest of the left partition.
  const double lo = *std::max_element(v, v + mid);
  return lo + (hi - lo) / 2.0;
}

RobustStats robust_stats(const double* data, int64_t rows, int d) {
  RobustStats out;
  out.median.resize(d);
  out.mad.resize(d);
  out.mean_abs_dev_from_median.resize(d);
  std::vector<double> col(static_cast<size_t>(rows));
  for (int j = 0; j < d; ++j) {
    for (int64_t i = 0; i < rows; ++i) col[i] = data[i * d + j];
    const double med = median_inplace(col.data(), rows);
    // Deviations from the median, then their mean (in row order, for reproducibility) and median.
    double sum = 0.0;
    for (int64_t i = 0; i < rows; ++i) {
      col[i] = std::abs(data[i * d + j] - med);
      sum += col[i];
    }
    out.median[j] = med;
    out.mean_abs_dev_from_median[j] = sum / static_cast<double>(rows);
    out.mad[j] = median_inplace(col.data(), rows);
  }
  return out;
}

Eigen::VectorXd z_scale_from(const RobustStats& stats) {
  const Eigen::Index d = stats.median.size();
  Eigen::VectorXd z(d);
  for (Eigen::Index j = 0; j < d; ++j) {
    if (stats.mad[j] > 0.0) {
      z[j] = 1.4826 * stats.mad[j];
    } else if (stats.mean_abs_dev_from_median[j] > 0.0) {
      z[j] = 1.2533 * stats.mean_abs_dev_from_median[j];
    } else {
      z[j] = 1.0;
    }
  }
  return z;
}

}  // namespace tads
