#include "moments.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "error.h"
#include "size_limits.h"

namespace tads {

using RowBlock =
    Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

int64_t first_non_finite_row(const double* data, int64_t rows, int d) {
  // x - x is 0 for finite x and NaN for NaN or an infinity. Blocks are probed with a branch-free,
  // vectorisable sum; only a block that fails is searched row by row.
  constexpr int64_t kProbeRows = 256;
  for (int64_t i0 = 0; i0 < rows; i0 += kProbeRows) {
    const int64_t n = std::min(kProbeRows, rows - i0) * d;
    const double* p = data + i0 * d;
    double acc0 = 0.0, acc1 = 0.0, acc2 = 0.0, acc3 = 0.0;
    int64_t e = 0;
    for (; e + 4 <= n; e += 4) {
      acc0 += p[e] - p[e];
      acc1 += p[e + 1] - p[e + 1];
      acc2 += p[e + 2] - p[e + 2];
      acc3 += p[e + 3] - p[e + 3];
    }
    for (; e < n; ++e) acc0 += p[e] - p[e];
    if (acc0 + acc1 + acc2 + acc3 == 0.0) continue;
    for (int64_t i = i0; i < i0 + n / d; ++i) {
      for (int j = 0; j < d; ++j) {
        if (!std::isfinite(data[i * d + j])) return i;
      }
    }
  }
  return -1;
}

MomentAccumulator::MomentAccumulator(int d) : d_(d) {
  if (d < 1 || d > kMaxFeatures) {
    throw_range("nFeatures must be an integer in [1, " + std::to_string(kMaxFeatures) + "]; got " +
                std::to_string(d));
  }
  // The partial block and a centered copy of a block; the co-moment, the copy a push keeps to
  // roll back, and the one moments() returns.
  const uint64_t block = static_cast<uint64_t>(kMomentBlockRows) * static_cast<uint64_t>(d);
  check_memory(2 * block + 3 * static_cast<uint64_t>(d) * static_cast<uint64_t>(d),
               "streaming moments of " + std::to_string(d) + " metrics");
  pending_.resize(block);
  totals_.mean = Eigen::VectorXd::Zero(d);
  totals_.comoment = Eigen::MatrixXd::Zero(d, d);
}

namespace {

// Co-moment of a block about its mean for a compile-time metric count: two passes over the
// block (it is in cache), the outer products accumulated in fixed-size registers.
template <int D>
void block_moments_fixed(const double* block, int64_t rows, Eigen::VectorXd* mean,
                         Eigen::MatrixXd* m2) {
  using Vec = Eigen::Matrix<double, D, 1>;
  using Mat = Eigen::Matrix<double, D, D>;
  Vec sum = Vec::Zero();
  for (int64_t i = 0; i < rows; ++i) sum += Eigen::Map<const Vec>(block + i * D);
  const Vec mu = sum / static_cast<double>(rows);
  Mat acc = Mat::Zero();
  for (int64_t i = 0; i < rows; ++i) {
    const Vec c = Eigen::Map<const Vec>(block + i * D) - mu;
    acc.noalias() += c * c.transpose();
  }
  *mean = mu;
  *m2 = acc;
}

// The same for any metric count: a centered copy and one matrix product.
void block_moments_dynamic(const double* block, int64_t rows, int d, Eigen::VectorXd* mean,
                           Eigen::MatrixXd* m2, MomentAccumulator::RowMatrix* scratch) {
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(d);
  for (int64_t i = 0; i < rows; ++i) sum += Eigen::Map<const Eigen::VectorXd>(block + i * d, d);
  *mean = sum / static_cast<double>(rows);
  *scratch = RowBlock(block, rows, d).rowwise() - mean->transpose();
  m2->resize(d, d);
  m2->noalias() = scratch->transpose() * (*scratch);
}

}  // namespace

void MomentAccumulator::fold(const double* block, int64_t rows, int d, Moments* into,
                             RowMatrix* scratch) {
  // Block mean and centered co-moment.
  Eigen::VectorXd block_mean;
  Eigen::MatrixXd block_m2;
  if (d == 8) {
    block_moments_fixed<8>(block, rows, &block_mean, &block_m2);
  } else {
    block_moments_dynamic(block, rows, d, &block_mean, &block_m2, scratch);
  }
  if (into->n == 0) {
    into->mean = block_mean;
    into->comoment = block_m2;
    into->n = rows;
    return;
  }
  // Chan et al.: M2 = M2_a + M2_b + delta delta' n_a n_b / n; mean = mean_a + delta n_b / n.
  const double na = static_cast<double>(into->n);
  const double nb = static_cast<double>(rows);
  const double n = na + nb;
  const Eigen::VectorXd delta = block_mean - into->mean;
  into->comoment += block_m2 + (delta * delta.transpose()) * (na * nb / n);
  into->mean += delta * (nb / n);
  into->n += rows;
}

void MomentAccumulator::push(const double* data, int64_t rows) {
  if (rows < 0) throw_range("rows must be >= 0; got " + std::to_string(rows));
  // Rollback point: a non-finite value anywhere leaves the accumulator as it was. Each piece is
  // checked just before it is folded or buffered, while it is in cache, so a large chunk is read
  // from memory once. The totals (d x d) and the buffered rows are saved only when this chunk
  // will fold a block; a chunk that only adds to the buffer leaves them untouched.
  const bool folds = pending_rows_ + rows >= kMomentBlockRows;
  const Moments saved_totals = folds ? totals_ : Moments{};
  const int64_t saved_n = n_;
  const int64_t saved_pending = pending_rows_;
  std::vector<double> saved_rows;
  if (pending_rows_ > 0 && folds) {
    saved_rows.assign(pending_.begin(), pending_.begin() + pending_rows_ * d_);
  }
  const auto check = [&](int64_t from, int64_t count) {
    const int64_t bad = first_non_finite_row(data + from * d_, count, d_);
    if (bad < 0) return;
    if (folds) totals_ = saved_totals;
    n_ = saved_n;
    pending_rows_ = saved_pending;
    std::copy(saved_rows.begin(), saved_rows.end(), pending_.begin());
    const int64_t row = from + bad;
    int j = 0;
    while (j < d_ && std::isfinite(data[row * d_ + j])) ++j;
    const double v = data[row * d_ + j];
    const char* what = std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
    throw_range("values must be finite; row " + std::to_string(row) + ", column " +
                std::to_string(j) + " is " + what);
  };
  int64_t i = 0;
  while (i < rows) {
    if (pending_rows_ == 0 && rows - i >= kMomentBlockRows) {
      // A whole block straight from the caller's memory: same arithmetic as via the buffer.
      check(i, kMomentBlockRows);
      fold(data + i * d_, kMomentBlockRows, d_, &totals_, &scratch_);
      n_ += kMomentBlockRows;
      i += kMomentBlockRows;
      continue;
    }
    const int64_t take = std::min(rows - i, kMomentBlockRows - pending_rows_);
    check(i, take);
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
    RowMatrix scratch;
    fold(pending_.data(), pending_rows_, d_, &out, &scratch);
  }
  // Symmetric up to round-off; make it exactly so.
  out.comoment = 0.5 * (out.comoment + out.comoment.transpose()).eval();
  return out;
}

}  // namespace tads
