// Streaming first and second moments of row-major data: one pass, memory independent of the row
// count. Rows are gathered into fixed blocks; each block's mean and centered co-moment (X_c' X_c)
// are merged into the running totals with Chan et al.'s pairwise update, which is numerically
// stable (no naive sums of squares). Because blocks are cut at fixed row counts, the result is
// bitwise identical however the rows are split into chunks.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

namespace tads {

// Rows per merge block.
inline constexpr int64_t kMomentBlockRows = 1024;

// Totals after some rows: row count, column means and the co-moment sum_i (x_i - mean)(x_i -
// mean)'.
struct Moments {
  int64_t n = 0;
  Eigen::VectorXd mean;
  Eigen::MatrixXd comoment;  // d x d, symmetric
};

class MomentAccumulator {
 public:
  // Starts empty for rows of d values, 1 <= d <= kMaxFeatures. Throws a range error for any other
  // d, and a PcaError OUT_OF_MEMORY when the machine cannot hold the state.
  explicit MomentAccumulator(int d);

  // Appends `rows` rows of d values (row-major). Throws a range error naming the first row with a
  // non-finite value; in that case nothing of the chunk is added.
  void push(const double* data, int64_t rows);

  // Rows pushed so far.
  int64_t rows() const { return n_ + pending_rows_; }

  // Columns per row.
  int cols() const { return d_; }

  // The moments of every row pushed so far (the partial block included); the accumulator is left
  // unchanged and may keep accepting rows.
  Moments moments() const;

 public:
  using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

 private:
  // Merges a block of `rows` rows (row-major, contiguous) into the running totals.
  static void fold(const double* block, int64_t rows, int d, Moments* into, RowMatrix* scratch);

  int d_;
  int64_t n_ = 0;
  Moments totals_;
  std::vector<double> pending_;  // a partial block, kMomentBlockRows x d
  int64_t pending_rows_ = 0;
  RowMatrix scratch_;  // centered block, reused
};

// Index of the first row of a row-major (rows x d) array holding a non-finite value, or -1.
int64_t first_non_finite_row(const double* data, int64_t rows, int d);

}  // namespace tads
