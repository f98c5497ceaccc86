#pragma once
// Small helpers shared by every part of the load generator.
//
// The load generator is a test tool, not part of the appliance: a failed check or a broken
// connection throws BenchError, which ends the workload with a non-zero exit and a message
// naming what was expected. No partial figures are ever reported as a success.

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace postern::bench {

struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& what) { throw BenchError(what); }

using Clock = std::chrono::steady_clock;

inline double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}
inline double secondsSince(Clock::time_point t) { return msSince(t) / 1000.0; }

// splitmix64: the seed expander and the mixing function of the generator. Every random
// choice in the tool goes through Rng, never through <random>'s distributions, whose
// results differ between standard libraries: the same seed gives the same mail everywhere.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(mix64(seed)) {}
  Rng(uint64_t seed, uint64_t stream) : s_(mix64(mix64(seed) ^ mix64(stream + 0x51ed2701ULL))) {}
  uint64_t next() {
    s_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = s_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0. The modulo bias is below 2^-40 for the n used here.
  uint64_t below(uint64_t n) { return next() % n; }
  // Uniform in [lo, hi].
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t s_;
};

// "bench%d" with i -> "bench7"; a name without %d is returned as is.
inline std::string formatName(const std::string& pattern, long i) {
  auto p = pattern.find("%d");
  if (p == std::string::npos) return pattern;
  return pattern.substr(0, p) + std::to_string(i) + pattern.substr(p + 2);
}

}  // namespace postern::bench
