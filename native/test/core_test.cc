// The native core's own test, without Node: the size limits and memory check, special functions
// against tabulated values, the chunk-invariance of the streaming moments, exact medians, and
// scoring of invalid records. scripts/sanitize.sh builds and runs it under AddressSanitizer and
// UndefinedBehaviorSanitizer; to build and run it alone (or under valgrind for a leak check):
//   cmake -S . -B build/native-tools -DTADS_NATIVE_TOOLS=ON && cmake --build build/native-tools
//   build/native-tools/tads_core_test
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "error.h"
#include "moments.h"
#include "pca.h"
#include "robust.h"
#include "scoring.h"
#include "size_limits.h"
#include "special.h"

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAIL: %s\n", what);
    ++failures;
  }
}

void check_rel(double got, double want, double rel, const char* what) {
  if (!(std::fabs(got - want) <= rel * std::fabs(want))) {
    std::printf("FAIL: %s: got %.17g, want %.17g\n", what, got, want);
    ++failures;
  }
}

// Tabulated quantiles (classic statistical tables, more digits from the closed forms noted).
void test_special() {
  // chi^2 with 2 degrees of freedom has the closed form -2 ln(alpha).
  check_rel(tads::chi2_upper_quantile(0.001, 2), -2.0 * std::log(0.001), 1e-13, "chi2(0.001; 2)");
  check_rel(tads::chi2_upper_quantile(0.05, 2), -2.0 * std::log(0.05), 1e-13, "chi2(0.05; 2)");
  // F(2, d2): P(F > f) = (1 + 2 f / d2)^(-d2 / 2), so f = d2 / 2 (alpha^(-2 / d2) - 1).
  for (double d2 : {5.0, 30.0, 1000.0, 1e6}) {
    const double want = d2 / 2.0 * (std::pow(0.001, -2.0 / d2) - 1.0);
    check_rel(tads::f_upper_quantile(0.001, 2, d2), want, 1e-11, "F(0.001; 2, d2)");
  }
  check_rel(tads::normal_upper_quantile(0.025), 1.959963984540054, 1e-13, "z(0.025)");
  check_rel(tads::normal_upper_quantile(0.001), 3.090232306167813, 1e-13, "z(0.001)");
  check_rel(tads::chi2_upper_quantile(0.05, 10), 18.307038053275146, 1e-12, "chi2(0.05; 10)");
  // I_x(a, 1) = x^a and both tails sum to one.
  const tads::Tails t = tads::inc_beta(0.3, 0.7, 2.5, 1.0);
  check_rel(t.lower, std::pow(0.3, 2.5), 1e-13, "I_0.3(2.5, 1)");
  check_rel(t.lower + t.upper, 1.0, 1e-15, "beta tails sum");
  // P(1, x) = 1 - e^-x.
  check_rel(tads::inc_gamma(1.0, 2.0).upper, std::exp(-2.0), 1e-14, "Q(1, 2)");
}

void test_moments() {
  const int d = 3;
  const int64_t n = 5000;
  std::vector<double> x(n * d);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) x[i * d + j] = 1e6 + std::sin(0.37 * i + j) * (j + 1) + 0.01 * i;
  }
  tads::MomentAccumulator one(d);
  one.push(x.data(), n);
  const tads::Moments a = one.moments();
  for (int64_t chunk : {1, 7, 1000, 1024, 1025, 4999}) {
    tads::MomentAccumulator acc(d);
    for (int64_t i = 0; i < n; i += chunk) acc.push(x.data() + i * d, std::min(chunk, n - i));
    const tads::Moments b = acc.moments();
    check(b.n == n, "chunked row count");
    check(std::memcmp(a.mean.data(), b.mean.data(), sizeof(double) * d) == 0, "chunked mean");
    check(std::memcmp(a.comoment.data(), b.comoment.data(), sizeof(double) * d * d) == 0,
          "chunked co-moment");
  }
  // Two-pass reference on data with a large offset (a naive sum of squares would lose it).
  for (int j = 0; j < d; ++j) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i * d + j];
    mean /= n;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += (x[i * d + j] - mean) * (x[i * d + j] - mean);
    check_rel(a.comoment(j, j), ss, 1e-9, "co-moment vs two-pass");
  }
  // A non-finite value is rejected and adds nothing.
  tads::MomentAccumulator acc(d);
  acc.push(x.data(), 10);
  std::vector<double> bad(x.begin(), x.begin() + 4 * d);
  bad[2 * d + 1] = NAN;
  bool threw = false;
  try {
    acc.push(bad.data(), 4);
  } catch (const tads::Error& e) {
    threw =
        e.kind() == tads::ErrorKind::kRange && std::strstr(e.what(), "row 2, column 1") != nullptr;
  }
  check(threw, "non-finite row named");
  check(acc.rows() == 10, "failed push adds nothing");
}

void test_median() {
  double odd[] = {5, 1, 4, 2, 3};
  check(tads::median_inplace(odd, 5) == 3.0, "median of odd count");
  double even[] = {4, 1, 3, 2};
  check(tads::median_inplace(even, 4) == 2.5, "median of even count");
}

void test_scoring() {
  const int d = 4;
  const int64_t n = 400;
  std::vector<double> x(n * d);
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::sin(0.1 * i), b = std::cos(0.27 * i);
    x[i * d + 0] = a + 0.01 * std::sin(3.1 * i);
    x[i * d + 1] = 2 * a + b;
    x[i * d + 2] = b + 0.02 * std::cos(1.7 * i);
    x[i * d + 3] = a - b;
  }
  tads::FitOptions options;
  options.n_components = 2;
  const tads::PcaModelData m = tads::fit_matrix(x.data(), n, d, options);
  const tads::ScoringModel sm = tads::prepare_scoring(m);
  std::vector<double> batch(x.begin(), x.begin() + 40 * d);
  batch[3 * d + 2] = INFINITY;
  batch[7 * d + 0] = NAN;
  std::vector<double> fused(40), spe(40), t2(40), z(40), contrib(40 * d);
  std::vector<int32_t> top(40);
  std::vector<uint8_t> an(40);
  const tads::ScoreOutputs out{fused.data(), spe.data(), t2.data(),     z.data(),
                               top.data(),   an.data(),  contrib.data()};
  check(tads::score_batch(sm, batch.data(), 40, out) == 2, "invalid count");
  check(std::isnan(fused[3]) && top[3] == -1 && an[3] == 0, "invalid record 3");
  check(std::isnan(spe[7]) && std::isnan(contrib[7 * d]), "invalid record 7");
  // A record alone scores exactly as within the batch.
  for (int64_t i : {0, 5, 33, 39}) {
    double f1, s1, t1, z1;
    int32_t top1;
    uint8_t an1;
    std::vector<double> c1(d);
    const tads::ScoreOutputs one{&f1, &s1, &t1, &z1, &top1, &an1, c1.data()};
    tads::score_batch(sm, batch.data() + i * d, 1, one);
    check(f1 == fused[i] && s1 == spe[i] && t1 == t2[i] && z1 == z[i] && top1 == top[i],
          "single record equals batch");
  }
  double sum = 0;
  for (int j = 0; j < d; ++j) sum += contrib[j];
  check_rel(sum, spe[0], 1e-12, "contributions sum to SPE");
}

}  // namespace

// The size limits: overflow-safe products, the memory check, and the d range of the moments.
void test_limits() {
  uint64_t product = 0;
  check(tads::checked_mul(uint64_t{1} << 50, 10000, &product) &&
            product == (uint64_t{1} << 50) * 10000,
        "checked_mul: 2^50 * 10000 fits");
  check(!tads::checked_mul(uint64_t{1} << 50, uint64_t{1} << 14, &product),
        "checked_mul: 2^50 * 2^14 overflows");
  const auto code_of = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const tads::Error& e) {
      return e.code().empty() ? "range" : e.code();
    }
    return "none";
  };
  const uint64_t doubles = tads::physical_memory_bytes() / sizeof(double);
  check(code_of([&] { tads::check_memory(doubles, "all of memory"); }) == "none",
        "check_memory: all of memory is allowed");
  check(code_of([&] { tads::check_memory(doubles + 1, "more"); }) == "OUT_OF_MEMORY",
        "check_memory: more than memory is OUT_OF_MEMORY");
  check(code_of([&] { tads::check_memory(UINT64_MAX, "2^64 doubles"); }) == "OUT_OF_MEMORY",
        "check_memory: a byte count past 2^64 is OUT_OF_MEMORY");
  check(code_of([] { tads::MomentAccumulator acc(tads::kMaxFeatures + 1); }) == "range",
        "MomentAccumulator: d > kMaxFeatures is a range error");
  check(code_of([] { tads::MomentAccumulator acc(0); }) == "range",
        "MomentAccumulator: d = 0 is a range error");
}

int main() {
  test_limits();
  test_special();
  test_moments();
  test_median();
  test_scoring();
  if (failures == 0) std::printf("core_test: all passed\n");
  return failures == 0 ? 0 : 1;
}
