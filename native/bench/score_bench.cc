// The scoring benchmark without Node: the same core the addon calls, timed directly, so that the
// difference to the figures measured through the TypeScript API is what the binding costs.
// Data: d = 8 metrics driven by three latent factors plus small noise (a fixed-seed xorshift
// generator), k = 3. Prints one JSON object per line:
//   {"op":"score","batch":B,"records_per_s":R,"ns_per_call":N}
//   {"op":"accumulate","rows_per_s":R}   {"op":"fit","rows_per_s":R}
// Usage: tads_score_bench [rows [batch]]   (default 1,000,000 rows, every batch size)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "moments.h"
#include "pca.h"
#include "scoring.h"

namespace {

constexpr int kD = 8;

// xorshift64*: a small deterministic generator, uniform in [0, 1).
struct Rng {
  uint64_t s;
  double next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return static_cast<double>((s * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53;
  }
};

std::vector<double> make_data(int64_t rows) {
  std::vector<double> x(static_cast<size_t>(rows) * kD);
  Rng rng{0x9E3779B97F4A7C15ULL};
  for (int64_t i = 0; i < rows; ++i) {
    const double a = rng.next(), b = rng.next(), c = rng.next();
    for (int j = 0; j < kD; ++j) {
      x[i * kD + j] = a * (j + 1) + b * (j % 3) + c * (j % 2) + 0.05 * rng.next();
    }
  }
  return x;
}

// Time is this thread's CPU time: on a shared machine, wall time also counts other processes.
double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double seconds_since(double t0) { return cpu_now() - t0; }

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const std::vector<double> x = make_data(rows);

  tads::FitOptions options;
  options.n_components = 3;
  double t0 = cpu_now();
  const tads::PcaModelData model = tads::fit_matrix(x.data(), rows, kD, options);
  std::printf("{\"op\":\"fit\",\"rows_per_s\":%.0f}\n", rows / seconds_since(t0));

  // Accumulation alone (best of 5).
  double best = 1e300;
  for (int rep = 0; rep < 5; ++rep) {
    tads::MomentAccumulator acc(kD);
    t0 = cpu_now();
    acc.push(x.data(), rows);
    const tads::Moments m = acc.moments();
    best = std::min(best, seconds_since(t0));
    if (m.n != rows) return 1;
  }
  std::printf("{\"op\":\"accumulate\",\"rows_per_s\":%.0f}\n", rows / best);

  const tads::ScoringModel sm = tads::prepare_scoring(model);
  std::vector<double> fused(rows), spe(rows), t2(rows), z(rows);
  std::vector<int32_t> top(rows);
  std::vector<uint8_t> anomalous(rows);
  const tads::ScoreOutputs out{fused.data(), spe.data(),       t2.data(), z.data(),
                               top.data(),   anomalous.data(), nullptr};
  for (const int64_t batch : {int64_t{1}, int64_t{100}, int64_t{10000}, int64_t{1000000}}) {
    if (batch > rows || (argc > 2 && batch != std::atoll(argv[2]))) continue;
    // Walk the data in batches, enough calls for about `rows` records per repetition.
    const int64_t calls = std::max<int64_t>(1, std::min<int64_t>(rows / batch, 2000000 / batch));
    best = 1e300;
    int64_t sink = 0;
    for (int rep = 0; rep < 5; ++rep) {
      t0 = cpu_now();
      for (int64_t c = 0; c < calls; ++c) {
        const int64_t start = (c * batch) % (rows - batch + 1);
        sink += tads::score_batch(sm, x.data() + start * kD, batch, out);
      }
      best = std::min(best, seconds_since(t0));
    }
    if (sink != 0) return 1;  // the data are all finite
    const double records = static_cast<double>(calls * batch);
    std::printf("{\"op\":\"score\",\"batch\":%lld,\"records_per_s\":%.0f,\"ns_per_call\":%.1f}\n",
                static_cast<long long>(batch), records / best, best / calls * 1e9);
  }
  return 0;
}
