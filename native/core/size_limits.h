// Size limits of the native core, and the checks made before anything whose size a caller
// chooses is allocated: sizes are multiplied without overflow, and a need larger than the
// machine's physical memory is refused with a PcaError (OUT_OF_MEMORY) instead of being left to
// the allocator (which, with overcommit, may hand out memory the kernel later kills the process
// for touching).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "error.h"

namespace tads {

// Most metrics per row. The streaming moments keep a d x d co-moment (and a copy of it to roll a
// bad chunk back), a fit several d x d matrices: about 0.8 GB each at d = 10,000.
inline constexpr int kMaxFeatures = 10000;

// Most rows in one call.
inline constexpr int64_t kMaxRows = int64_t{1} << 50;

// a * b, or false when the product does not fit in 64 bits.
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// The machine's physical memory in bytes (the largest value when the system cannot tell).
inline uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  uint64_t bytes = 0;
  if (pages <= 0 || page_size <= 0 ||
      !checked_mul(static_cast<uint64_t>(pages), static_cast<uint64_t>(page_size), &bytes)) {
    return std::numeric_limits<uint64_t>::max();
  }
  return bytes;
}

// Throws a PcaError OUT_OF_MEMORY naming `what` when `doubles` values of 8 bytes need more than
// the machine's physical memory.
inline void check_memory(uint64_t doubles, const std::string& what) {
  uint64_t bytes = 0;
  const bool fits = checked_mul(doubles, sizeof(double), &bytes);
  const uint64_t have = physical_memory_bytes();
  if (fits && bytes <= have) return;
  char buf[160];
  if (!fits) {
    std::snprintf(buf, sizeof buf, " needs more than 2^64 bytes; this machine has %.1f GB",
                  static_cast<double>(have) / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, " needs %.1f GB; this machine has %.1f GB",
                  static_cast<double>(bytes) / 1e9, static_cast<double>(have) / 1e9);
  }
  throw_pca("OUT_OF_MEMORY", what + buf);
}

}  // namespace tads
