// Batch scoring as DESIGN.md pins it. A ScoringModel holds the model's constants in the form the
// hot loop wants (reciprocals, contiguous components); score_batch reads the caller's row-major
// records in place and writes straight into the caller's output arrays.
#pragma once

#include <cstdint>
#include <vector>

namespace tads {

struct PcaModelData;

struct ScoringModel {
  int d = 0;
  int k = 0;
  std::vector<double> mean;
  std::vector<double> inv_scale;
  std::vector<double> components;  // k x d, row-major
  std::vector<double> inv_eigen;   // 1 / lambda_i, i < k
  std::vector<double> median;
  std::vector<double> inv_z_scale;
  double inv_spe_limit = 0.0;  // 0 when d = 1 (no SPE)
  double inv_z_limit = 0.0;
  bool has_spe = true;
};

// Per-record outputs; `contributions` (rows x d) may be null.
struct ScoreOutputs {
  double* fused;
  double* spe;
  double* t2;
  double* z_max;
  int32_t* top_metric;
  uint8_t* anomalous;
  double* contributions;
};

// Checks the raw model constants (lengths, finiteness, positivity) and prepares them for scoring.
// Throws a range error naming the offending field. components is k x d row-major.
ScoringModel prepare_scoring(int d, int k, const double* mean, const double* scale,
                             const double* components, const double* eigenvalues,
                             const double* median, const double* z_scale, double spe_limit,
                             double z_limit);

// Prepares a freshly fitted model for scoring.
ScoringModel prepare_scoring(const PcaModelData& m);

// Scores `rows` records (row-major, rows x d). A record with a non-finite value is invalid: NaN
// scores (and contributions), not anomalous, top metric -1. Returns the number of invalid records.
int64_t score_batch(const ScoringModel& model, const double* x, int64_t rows,
                    const ScoreOutputs& out);

// SPE alone for `rows` finite records (used for the empirical SPE limit).
void score_spe(const ScoringModel& model, const double* x, int64_t rows, double* spe);

}  // namespace tads
