#include "scoring.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "error.h"
#include "pca.h"

namespace tads {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

void check_finite(const double* v, int n, const char* field) {
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) {
      throw_range(std::string("model.") + field + "[" + std::to_string(i) + "] must be finite");
    }
  }
}

// Scoring multiplies by reciprocals: a value so small that its reciprocal overflows (a subnormal)
// would turn every score into Infinity or NaN, so it is refused with the rest.
void check_positive(const double* v, int n, const char* field) {
  for (int i = 0; i < n; ++i) {
    if (!(v[i] > 0.0) || !std::isfinite(v[i])) {
      throw_range(std::string("model.") + field + "[" + std::to_string(i) +
                  "] must be finite and > 0");
    }
    if (!std::isfinite(1.0 / v[i])) {
      throw_range(std::string("model.") + field + "[" + std::to_string(i) +
                  "] is too small: its reciprocal overflows");
    }
  }
}

// Rows per block of the kernel.
constexpr int kBlock = 32;
// Tails shorter than this are scored record by record.
constexpr int64_t kShortTail = 8;

// Per-block scratch, metric-major (transposed) so that every inner loop runs over the block's
// rows, which the compiler vectorises. D = 0 sizes it at run time.
template <int D>
struct Scratch {
  alignas(64) double xs[D * kBlock];  // standardised values, xs[j * kBlock + b]
  alignas(64) double r[D * kBlock];   // residual x~ - x^
  alignas(64) double t[kBlock], t2[kBlock], z_max[kBlock], spe[kBlock], spe_best[kBlock],
      probe[kBlock], z_arg[kBlock], spe_arg[kBlock];
  explicit Scratch(int) {}
  double* xs_ptr() { return xs; }
  double* r_ptr() { return r; }
};

template <>
struct Scratch<0> {
  std::vector<double> buf;
  alignas(64) double t[kBlock], t2[kBlock], z_max[kBlock], spe[kBlock], spe_best[kBlock],
      probe[kBlock], z_arg[kBlock], spe_arg[kBlock];
  explicit Scratch(int d) : buf(2 * static_cast<size_t>(d) * kBlock) {}
  double* xs_ptr() { return buf.data(); }
  double* r_ptr() { return buf.data() + buf.size() / 2; }
};

// Scores one block of records starting at row i0. D > 0 fixes the metric count at compile time
// (d = 8, the telemetry's, unrolls fully) and NB > 0 the block length (full blocks), so the loops
// over the block's rows vectorise without run-time checks; 0 means "read it at run time".
// Invalid records flow through the arithmetic as NaN and are overwritten at the end. Argmax
// indices are kept as doubles so every lane of the vectorised loops is a double. Returns the
// number of invalid records in the block.
template <int D, int NB>
int score_block(const ScoringModel& m, const double* __restrict xb, int nb_rt, int64_t i0,
                const ScoreOutputs& out, Scratch<D>& s) {
  const int d = D > 0 ? D : m.d;
  const int nb = NB > 0 ? NB : nb_rt;
  const int k = m.k;
  const double* __restrict mean = m.mean.data();
  const double* __restrict inv_scale = m.inv_scale.data();
  const double* __restrict comp = m.components.data();
  const double* __restrict inv_eigen = m.inv_eigen.data();
  const double* __restrict median = m.median.data();
  const double* __restrict inv_z = m.inv_z_scale.data();
  double* __restrict xs = s.xs_ptr();
  double* __restrict r = s.r_ptr();
  double* __restrict t = s.t;
  double* __restrict t2 = s.t2;
  double* __restrict z_max = s.z_max;
  double* __restrict z_arg = s.z_arg;
  double* __restrict spe = s.spe;
  double* __restrict spe_best = s.spe_best;
  double* __restrict spe_arg = s.spe_arg;
  double* __restrict probe = s.probe;

  // Stage 1: transpose the block's raw values into the residual scratch (plain copies), so that
  // every later loop reads contiguously.
  for (int b = 0; b < nb; ++b) {
    for (int j = 0; j < d; ++j) r[j * kBlock + b] = xb[b * d + j];
  }

  // Stage 2: validity probe (x - x is 0 for finite x, NaN otherwise), robust z and its argmax,
  // and the standardised values.
  for (int b = 0; b < nb; ++b) {
    z_max[b] = 0.0;
    z_arg[b] = 0.0;
    probe[b] = 0.0;
    t2[b] = 0.0;
    spe[b] = 0.0;
    spe_best[b] = -1.0;
    spe_arg[b] = 0.0;
  }
  for (int j = 0; j < d; ++j) {
    const double mj = mean[j], sj = inv_scale[j], medj = median[j], izj = inv_z[j];
    const double jd = static_cast<double>(j);
    double* __restrict xsj = xs + j * kBlock;
    double* __restrict rj = r + j * kBlock;
    for (int b = 0; b < nb; ++b) {
      const double v = rj[b];
      probe[b] += v - v;
      const double z = std::fabs((v - medj) * izj);
      const double zm = z_max[b];
      z_arg[b] = z > zm ? jd : z_arg[b];
      z_max[b] = z > zm ? z : zm;
      const double sv = (v - mj) * sj;
      xsj[b] = sv;
      rj[b] = sv;
    }
  }

  // Stage 3: scores t = P' x~, T^2 = sum t^2 / lambda, residual r = x~ - P t.
  for (int c = 0; c < k; ++c) {
    const double* __restrict p = comp + c * d;
    for (int b = 0; b < nb; ++b) t[b] = 0.0;
    for (int j = 0; j < d; ++j) {
      const double pj = p[j];
      const double* __restrict xsj = xs + j * kBlock;
      for (int b = 0; b < nb; ++b) t[b] += pj * xsj[b];
    }
    const double ie = inv_eigen[c];
    for (int b = 0; b < nb; ++b) t2[b] += t[b] * t[b] * ie;
    for (int j = 0; j < d; ++j) {
      const double pj = p[j];
      double* __restrict rj = r + j * kBlock;
      for (int b = 0; b < nb; ++b) rj[b] -= pj * t[b];
    }
  }

  // Stage 4: SPE and the metric contributing most to it (d = 1 has no SPE).
  if (m.has_spe) {
    for (int j = 0; j < d; ++j) {
      const double jd = static_cast<double>(j);
      const double* __restrict rj = r + j * kBlock;
      for (int b = 0; b < nb; ++b) {
        const double c2 = rj[b] * rj[b];
        spe[b] += c2;
        const double best = spe_best[b];
        spe_arg[b] = c2 > best ? jd : spe_arg[b];
        spe_best[b] = c2 > best ? c2 : best;
      }
    }
  }
  if (out.contributions != nullptr) {
    double* __restrict cb = out.contributions + i0 * d;
    for (int b = 0; b < nb; ++b) {
      for (int j = 0; j < d; ++j) {
        const double rv = r[j * kBlock + b];
        cb[b * d + j] = m.has_spe ? rv * rv : 0.0;
      }
    }
  }

  // Stage 5: fuse and write out.
  const double inv_spe_limit = m.inv_spe_limit;
  const double inv_z_limit = m.inv_z_limit;
  double* __restrict fused_o = out.fused + i0;
  double* __restrict spe_o = out.spe + i0;
  double* __restrict t2_o = out.t2 + i0;
  double* __restrict z_o = out.z_max + i0;
  int32_t* __restrict top_o = out.top_metric + i0;
  uint8_t* __restrict an_o = out.anomalous + i0;
  // Doubles first (one vectorised loop), then the narrow integer outputs.
  for (int b = 0; b < nb; ++b) {
    // Values so large that the arithmetic overflowed (inf - inf) still score as extreme.
    const double sp = spe[b] == spe[b] ? spe[b] : kInf;
    const double tt = t2[b] == t2[b] ? t2[b] : kInf;
    const double spe_term = sp * inv_spe_limit;
    const double z_term = z_max[b] * inv_z_limit;
    fused_o[b] = spe_term > z_term ? spe_term : z_term;
    z_arg[b] = spe_term > z_term ? spe_arg[b] : z_arg[b];  // the top metric
    spe_o[b] = sp;
    t2_o[b] = tt;
    z_o[b] = z_max[b];
  }
  int bad = 0;
  for (int b = 0; b < nb; ++b) {
    top_o[b] = static_cast<int32_t>(z_arg[b]);
    an_o[b] = fused_o[b] >= 1.0 ? 1 : 0;
    bad += probe[b] != 0.0 ? 1 : 0;
  }

  // Invalid records: NaN scores, not anomalous, top metric -1.
  if (bad != 0) {
    for (int b = 0; b < nb; ++b) {
      if (probe[b] == 0.0) continue;
      fused_o[b] = spe_o[b] = t2_o[b] = z_o[b] = kNaN;
      top_o[b] = -1;
      an_o[b] = 0;
      if (out.contributions != nullptr) {
        for (int j = 0; j < d; ++j) out.contributions[(i0 + b) * d + j] = kNaN;
      }
    }
  }
  return bad;
}

template <int D>
int64_t score_rows(const ScoringModel& m, const double* x, int64_t rows, const ScoreOutputs& out) {
  const int d = D > 0 ? D : m.d;
  Scratch<D> scratch(d);
  int64_t invalid = 0;
  int64_t i0 = 0;
  for (; i0 + kBlock <= rows; i0 += kBlock) {
    invalid += score_block<D, kBlock>(m, x + i0 * d, kBlock, i0, out, scratch);
  }
  // The tail: a few records one at a time (straight-line code, no loop set-up), more as one
  // short block.
  if (rows - i0 >= kShortTail) {
    invalid += score_block<D, 0>(m, x + i0 * d, static_cast<int>(rows - i0), i0, out, scratch);
  } else {
    for (; i0 < rows; ++i0) invalid += score_block<D, 1>(m, x + i0 * d, 1, i0, out, scratch);
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
  const auto check_limit = [](double v, const char* field) {
    if (!(v > 0.0) || !std::isfinite(v)) {
      throw_range(std::string("model.") + field + " must be finite and > 0");
    }
    if (!std::isfinite(1.0 / v)) {
      throw_range(std::string("model.") + field + " is too small: its reciprocal overflows");
    }
  };
  check_limit(z_limit, "z_limit");
  const bool has_spe = d > 1;
  if (has_spe) check_limit(spe_limit, "spe_limit");
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
