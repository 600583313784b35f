#include "scoring.h"

#include <cmath>
#include <limits>
#include <string>

#include "error.h"
#include "pca.h"

namespace tads {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Scratch for the generic kernel lives on the stack up to this many metrics.
constexpr int kStackMetrics = 256;

void check_finite(const double* v, int n, const char* field) {
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) {
      throw_range(std::string("model.") + field + "[" + std::to_string(i) + "] must be finite");
    }
  }
}

void check_positive(const double* v, int n, const char* field) {
  for (int i = 0; i < n; ++i) {
    if (!(v[i] > 0.0) || !std::isfinite(v[i])) {
      throw_range(std::string("model.") + field + "[" + std::to_string(i) +
                  "] must be finite and > 0");
    }
  }
}

// The per-record kernel. D > 0 fixes the metric count at compile time (the common d = 8 unrolls
// and vectorises fully); D = 0 reads it from the model. Records are independent, so the loop over
// rows carries no state besides the invalid count.
template <int D>
int64_t score_rows(const ScoringModel& m, const double* x, int64_t rows, const ScoreOutputs& out) {
  const int d = D > 0 ? D : m.d;
  const int k = m.k;
  const double* mean = m.mean.data();
  const double* inv_scale = m.inv_scale.data();
  const double* comp = m.components.data();
  const double* inv_eigen = m.inv_eigen.data();
  const double* median = m.median.data();
  const double* inv_z = m.inv_z_scale.data();
  const double inv_spe_limit = m.inv_spe_limit;
  const double inv_z_limit = m.inv_z_limit;
  const bool has_spe = m.has_spe;

  double stack_buf[D > 0 ? 2 * D : 2 * kStackMetrics];
  std::vector<double> heap_buf;
  double* xs = stack_buf;
  if (D == 0 && d > kStackMetrics) {
    heap_buf.resize(2 * static_cast<size_t>(d));
    xs = heap_buf.data();
  }
  double* r = xs + d;  // residual x~ - x^

  int64_t invalid = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const double* row = x + i * d;
    double* contrib = out.contributions != nullptr ? out.contributions + i * d : nullptr;

    // Invalid record: any non-finite value (x - x is NaN exactly for NaN and infinities).
    double probe = 0.0;
    for (int j = 0; j < d; ++j) probe += row[j] - row[j];
    if (probe != 0.0) {
      out.fused[i] = kNaN;
      out.spe[i] = kNaN;
      out.t2[i] = kNaN;
      out.z_max[i] = kNaN;
      out.top_metric[i] = -1;
      out.anomalous[i] = 0;
      if (contrib != nullptr) {
        for (int j = 0; j < d; ++j) contrib[j] = kNaN;
      }
      ++invalid;
      continue;
    }

    // Standardise, and the robust z of each metric.
    double z_max = 0.0;
    int z_arg = 0;
    for (int j = 0; j < d; ++j) {
      xs[j] = (row[j] - mean[j]) * inv_scale[j];
      r[j] = xs[j];
      const double z = std::fabs((row[j] - median[j]) * inv_z[j]);
      if (z > z_max) {
        z_max = z;
        z_arg = j;
      }
    }

    // Scores t = P' x~, T^2 = sum t^2 / lambda, residual r = x~ - P t.
    double t2 = 0.0;
    for (int c = 0; c < k; ++c) {
      const double* p = comp + c * d;
      double t = 0.0;
      for (int j = 0; j < d; ++j) t += p[j] * xs[j];
      t2 += t * t * inv_eigen[c];
      for (int j = 0; j < d; ++j) r[j] -= p[j] * t;
    }

    double spe = 0.0;
    int spe_arg = 0;
    double spe_best = -1.0;
    if (has_spe) {
      for (int j = 0; j < d; ++j) {
        const double c2 = r[j] * r[j];
        if (contrib != nullptr) contrib[j] = c2;
        spe += c2;
        if (c2 > spe_best) {
          spe_best = c2;
          spe_arg = j;
        }
      }
    } else if (contrib != nullptr) {
      for (int j = 0; j < d; ++j) contrib[j] = 0.0;
    }
    // Values so large that the arithmetic overflowed (inf - inf) still score as extreme.
    if (std::isnan(spe)) spe = kInf;
    if (std::isnan(t2)) t2 = kInf;

    const double spe_term = spe * inv_spe_limit;
    const double z_term = z_max * inv_z_limit;
    const double fused = spe_term > z_term ? spe_term : z_term;
    out.fused[i] = fused;
    out.spe[i] = spe;
    out.t2[i] = t2;
    out.z_max[i] = z_max;
    out.top_metric[i] = spe_term > z_term ? spe_arg : z_arg;
    out.anomalous[i] = fused >= 1.0 ? 1 : 0;
  }
  return invalid;
}

}  // namespace

ScoringModel prepare_scoring(int d, int k, const double* mean, const double* scale,
                             const double* components, const double* eigenvalues,
                             const double* median, const double* z_scale, double spe_limit,
                             double z_limit) {
  if (d < 1) throw_range("model.nFeatures must be >= 1; got " + std::to_string(d));
  const int k_max = d > 1 ? d - 1 : 1;
  if (k < 1 || k > k_max) {
    throw_range("model.nComponents must be in [1, " + std::to_string(k_max) + "]; got " +
                std::to_string(k));
  }
  check_finite(mean, d, "mean");
  check_positive(scale, d, "scale");
  check_finite(components, k * d, "components");
  check_positive(eigenvalues, k, "eigenvalues");
  check_finite(median, d, "median");
  check_positive(z_scale, d, "z_scale");
  if (!(z_limit > 0.0) || !std::isfinite(z_limit)) {
    throw_range("model.z_limit must be finite and > 0");
  }
  const bool has_spe = d > 1;
  if (has_spe && (!(spe_limit > 0.0) || !std::isfinite(spe_limit))) {
    throw_range("model.spe_limit must be finite and > 0");
  }
  ScoringModel m;
  m.d = d;
  m.k = k;
  m.mean.assign(mean, mean + d);
  m.median.assign(median, median + d);
  m.components.assign(components, components + static_cast<size_t>(k) * d);
  m.inv_scale.resize(d);
  m.inv_z_scale.resize(d);
  for (int j = 0; j < d; ++j) {
    m.inv_scale[j] = 1.0 / scale[j];
    m.inv_z_scale[j] = 1.0 / z_scale[j];
  }
  m.inv_eigen.resize(k);
  for (int c = 0; c < k; ++c) m.inv_eigen[c] = 1.0 / eigenvalues[c];
  m.has_spe = has_spe;
  m.inv_spe_limit = has_spe ? 1.0 / spe_limit : 0.0;
  m.inv_z_limit = 1.0 / z_limit;
  return m;
}

ScoringModel prepare_scoring(const PcaModelData& m) {
  return prepare_scoring(m.d, m.k, m.mean.data(), m.scale.data(), m.components.data(),
                         m.eigenvalues.data(), m.median.data(), m.z_scale.data(),
                         m.d > 1 ? m.spe_limit : 1.0, m.z_limit);
}

int64_t score_batch(const ScoringModel& model, const double* x, int64_t rows,
                    const ScoreOutputs& out) {
  switch (model.d) {
    case 8:
      return score_rows<8>(model, x, rows, out);
    default:
      return score_rows<0>(model, x, rows, out);
  }
}

void score_spe(const ScoringModel& model, const double* x, int64_t rows, double* spe) {
  // Score in blocks through the full kernel, keeping only the SPE.
  constexpr int64_t kBlock = 1024;
  std::vector<double> fused(kBlock), t2(kBlock), z(kBlock);
  std::vector<int32_t> top(kBlock);
  std::vector<uint8_t> anomalous(kBlock);
  for (int64_t i = 0; i < rows; i += kBlock) {
    const int64_t n = std::min(kBlock, rows - i);
    const ScoreOutputs out{fused.data(), spe + i,          t2.data(), z.data(),
                           top.data(),   anomalous.data(), nullptr};
    score_batch(model, x + i * model.d, n, out);
  }
}

}  // namespace tads
