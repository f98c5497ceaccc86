#pragma once
// Shared helpers for the fuzz targets: an invariant check that aborts (so
// libFuzzer and the replay runner both report it), and deterministic ways
// to cut one input into the pieces a socket might deliver.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace postern::fuzz {

[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, what);
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond)                                           \
  do {                                                             \
    if (!(cond)) ::postern::fuzz::fail(#cond, __FILE__, __LINE__); \
  } while (0)

// FNV-1a of the input: seeds the chunking so it follows the input.
inline uint64_t hashBytes(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// splitmix64: small, deterministic and good enough for chunk sizes.
inline uint64_t nextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// How a stream is cut into reads.
enum class Chunking { kWhole, kBytes, kRandom };
inline constexpr Chunking kAllChunkings[] = {Chunking::kWhole, Chunking::kBytes, Chunking::kRandom};

// The pieces of `data` under `how`; kRandom uses sizes 1..64 drawn from a
// generator seeded with the input's hash, so a given input always splits
// the same way.
inline std::vector<std::string_view> chunks(std::string_view data, Chunking how) {
  std::vector<std::string_view> out;
  if (data.empty()) return out;
  switch (how) {
    case Chunking::kWhole:
      out.push_back(data);
      break;
    case Chunking::kBytes:
      for (size_t i = 0; i < data.size(); ++i) out.push_back(data.substr(i, 1));
      break;
    case Chunking::kRandom: {
      uint64_t state = hashBytes(data);
      size_t i = 0;
      while (i < data.size()) {
        const size_t n = 1 + static_cast<size_t>(nextRandom(state) % 64);
        out.push_back(data.substr(i, n));
        i += n;
      }
      break;
    }
  }
  return out;
}

}  // namespace postern::fuzz
