#include "moments.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "error.h"

namespace tads {

using RowBlock =
    Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

int64_t first_non_finite_row(const double* data, int64_t rows, int d) {
  // x - x is 0 for finite x and NaN for NaN or an infinity; summing per row keeps the loop
  // branch-free and vectorizable, and only a flagged row is inspected further.
  for (int64_t i = 0; i < rows; ++i) {
    const double* r = data + i * d;
    double acc = 0.0;
    for (int j = 0; j < d; ++j) acc += r[j] - r[j];
    if (acc != 0.0 || std::isnan(acc)) return i;
  }
  return -1;
}

MomentAccumulator::MomentAccumulator(int d)
    : d_(d), pending_(static_cast<size_t>(kMomentBlockRows) * static_cast<size_t>(d)) {
  if (d < 1) throw_range("nFeatures must be an integer >= 1; got " + std::to_string(d));
  totals_.mean = Eigen::VectorXd::Zero(d);
  totals_.comoment = Eigen::MatrixXd::Zero(d, d);
}

void MomentAccumulator::fold(const double* block, int64_t rows, int d, Moments* into,
                             Eigen::MatrixXd* scratch) {
  const RowBlock x(block, rows, d);
  // Block mean and centered co-moment (lower triangle via a symmetric rank update).
  const Eigen::RowVectorXd block_mean = x.colwise().sum() / static_cast<double>(rows);
  *scratch = x.rowwise() - block_mean;
  Eigen::MatrixXd block_m2 = Eigen::MatrixXd::Zero(d, d);
  block_m2.selfadjointView<Eigen::Lower>().rankUpdate(scratch->transpose());
  if (into->n == 0) {
    into->mean = block_mean.transpose();
    into->comoment = block_m2;
    into->n = rows;
    return;
  }
  // Chan et al.: M2 = M2_a + M2_b + delta delta' n_a n_b / n; mean = mean_a + delta n_b / n.
  const double na = static_cast<double>(into->n);
  const double nb = static_cast<double>(rows);
  const double n = na + nb;
  const Eigen::VectorXd delta = block_mean.transpose() - into->mean;
  into->comoment.triangularView<Eigen::Lower>() +=
      block_m2 + (delta * delta.transpose()) * (na * nb / n);
  into->mean += delta * (nb / n);
  into->n += rows;
}

void MomentAccumulator::push(const double* data, int64_t rows) {
  if (rows < 0) throw_range("rows must be >= 0; got " + std::to_string(rows));
  const int64_t bad = first_non_finite_row(data, rows, d_);
  if (bad >= 0) {
    int j = 0;
    while (j < d_ && std::isfinite(data[bad * d_ + j])) ++j;
    const double v = data[bad * d_ + j];
    const char* what = std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
    throw_range("values must be finite; row " + std::to_string(bad) + ", column " +
                std::to_string(j) + " is " + what);
  }
  int64_t i = 0;
  while (i < rows) {
    if (pending_rows_ == 0 && rows - i >= kMomentBlockRows) {
      // A whole block straight from the caller's memory: same arithmetic as via the buffer.
      fold(data + i * d_, kMomentBlockRows, d_, &totals_, &scratch_);
      n_ += kMomentBlockRows;
      i += kMomentBlockRows;
      continue;
    }
    const int64_t take = std::min(rows - i, kMomentBlockRows - pending_rows_);
    std::copy(data + i * d_, data + (i + take) * d_, pending_.data() + pending_rows_ * d_);
    pending_rows_ += take;
    i += take;
    if (pending_rows_ == kMomentBlockRows) {
      fold(pending_.data(), kMomentBlockRows, d_, &totals_, &scratch_);
      n_ += kMomentBlockRows;
      pending_rows_ = 0;
    }
  }
}

Moments MomentAccumulator::moments() const {
  Moments out = totals_;
  if (pending_rows_ > 0) {
    Eigen::MatrixXd scratch;
    fold(pending_.data(), pending_rows_, d_, &out, &scratch);
  }
  // Mirror the lower triangle into a full symmetric matrix.
  out.comoment = out.comoment.selfadjointView<Eigen::Lower>();
  return out;
}

}  // namespace tads
