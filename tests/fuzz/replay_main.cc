// Replays a fuzz target's corpus as an ordinary test: every file of the
// corpus directory (argv[1]), then deterministic mutations of those seeds
// (byte flips, truncation, duplication, splicing, protocol tokens). The
// target aborts on a broken invariant, which fails the test; the input is
// written to stderr first so it can be added to the corpus.
//
//   replay <corpus-dir> [mutations (default 2000)] [seed]
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// No single allocation may exceed 32 MB (libFuzzer's -malloc_limit_mb=32 in
// README.md): inputs here are at most 16 KB, so a bigger one means a size
// taken from the input was trusted.
constexpr size_t kMaxAllocation = size_t{32} << 20;

void* operator new(size_t n) {
  if (n > kMaxAllocation) {
    std::fprintf(stderr, "replay: single allocation of %zu octets\n", n);
    std::abort();
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

// The input being run, for the abort handler.
std::string g_current;
std::string g_label;

void dumpCurrent() {
  std::fprintf(stderr, "\nreplay: failing input %s (%zu octets), hex:\n", g_label.c_str(), g_current.size());
  for (size_t i = 0; i < g_current.size(); ++i) {
    std::fprintf(stderr, "%02x%s", static_cast<unsigned char>(g_current[i]), (i + 1) % 32 == 0 ? "\n" : "");
  }
  std::fprintf(stderr, "\n");
}

void onAbort(int) {
  dumpCurrent();
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

void run(const std::string& input, const std::string& label) {
  g_current = input;
  g_label = label;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

// Tokens that steer mutations toward the interesting corners of all three
// protocols.
constexpr std::string_view kTokens[] = {
    "\r\n",
    "\n",
    "\r",
    " ",
    "{0}\r\n",
    "{5}\r\n",
    "{3+}\r\n",
    "~{2}\r\n",
    "{4294967295+}\r\n",
    "{4294967296}\r\n",
    "{99999999999999999999+}\r\n",
    "(",
    ")",
    "((((",
    "\"",
    "\\",
    "[",
    "]",
    "BODY[",
    "BODY.PEEK[HEADER.FIELDS (",
    "]<0.10>",
    "<",
    ">",
    "*",
    "$",
    ":",
    ",",
    "1:*",
    "NIL",
    "\\Seen",
    "&-",
    "&AOk-",
    std::string_view("\0", 1),
    "\xff",
    "a APPEND INBOX ",
    "a IDLE\r\n",
    "DONE\r\n",
    "a AUTHENTICATE PLAIN\r\n",
    ".\r\n",
    "\r\n.\r\n",
    "..",
    "DATA\r\n",
    "MAIL FROM:<",
    "RCPT TO:<",
    "@",
    "\"@",
    "SIZE=",
    "USER ",
    "PASS ",
    "TOP 1 ",
    "RETR ",
    "\r\n\r\n",
    "Content-Type: multipart/mixed\r\n",
    "Subject: x\r\n",
    "\tcontinued\r\n",
};

std::string mutate(const std::vector<std::string>& seeds, uint64_t& rng) {
  using postern::fuzz::nextRandom;
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(nextRandom(rng) % n); };
  std::string s = seeds[pick(seeds.size())];
  const size_t rounds = 1 + pick(4);
  for (size_t r = 0; r < rounds; ++r) {
    switch (pick(7)) {
      case 0:  // flip bits of a few bytes
        for (size_t k = 0, n = 1 + pick(4); k < n && !s.empty(); ++k) {
          s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
        }
        break;
      case 1:  // overwrite a byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(nextRandom(rng));
        break;
      case 2:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      case 3: {  // duplicate a range in place
        const size_t a = pick(s.size() + 1);
        const size_t n = pick(std::min<size_t>(s.size() - a, 512) + 1);
        s.insert(a, s.substr(a, n));
        break;
      }
      case 4: {  // splice another seed in
        const std::string& other = seeds[pick(seeds.size())];
        const size_t a = pick(s.size() + 1);
        const size_t b = pick(other.size() + 1);
        s = s.substr(0, a) + other.substr(b);
        break;
      }
      case 5: {  // insert a token
        const std::string_view tok = kTokens[pick(std::size(kTokens))];
        s.insert(pick(s.size() + 1), tok);
        break;
      }
      case 6: {  // erase a range
        const size_t a = pick(s.size() + 1);
        s.erase(a, pick(s.size() - a + 1));
        break;
      }
    }
  }
  if (s.size() > 16384) s.resize(16384);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir> [mutations] [seed]\n", argv[0]);
    return 2;
  }
  const long mutations = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 2000;
  uint64_t rng = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0x506f737465726eULL;
  std::signal(SIGABRT, onAbort);

  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(argv[1], ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  if (ec) {
    std::fprintf(stderr, "cannot read %s: %s\n", argv[1], ec.message().c_str());
    return 2;
  }
  std::sort(files.begin(), files.end());  // a fixed order keeps the mutations fixed
  if (files.empty()) {
    std::fprintf(stderr, "no seeds in %s\n", argv[1]);
    return 2;
  }
  std::vector<std::string> seeds;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    run(seeds.back(), f.filename().string());
  }
  for (long i = 0; i < mutations; ++i) {
    run(mutate(seeds, rng), "mutation " + std::to_string(i));
  }
  std::printf("replayed %zu seeds and %ld mutations\n", seeds.size(), mutations);
  return 0;
}
