#pragma once
// A deterministic generator of realistic mail.
//
// Message `index` of the set `seed` is a pure function of (seed, index): any subset can be
// regenerated in any order, by any process, to check what a server returns. Properties:
//  - sizes: 93% log-uniform 2-20 KiB, 6% 20-128 KiB, 1% 128 KiB-1 MiB;
//  - kinds: text/plain (8bit or quoted-printable), multipart/alternative (plain + html),
//    multipart/mixed with a base64 attachment (most large messages);
//  - threads: blocks of 5 consecutive indices form a thread for two thirds of the blocks
//    (Re: subject, In-Reply-To, References), the rest are stand-alone;
//  - searchable words with known frequencies (kSearchTerms): expectedHits() says how many
//    of the messages 0..n-1 a server must find.
// Messages use CRLF line ends and never contain a line starting with '.'.

#include <cstdint>
#include <string>
#include <string_view>

namespace postern::bench {

std::string generateMessage(uint64_t seed, uint64_t index);

// "<bench.INDEX.HEX@gen.example>" of message index.
std::string messageId(uint64_t seed, uint64_t index);

// The index in the first (or, with last, the last) "<bench.INDEX." found in text, or -1.
// In a message the first is its Message-ID; in an ENVELOPE the last is (In-Reply-To
// comes before Message-ID there).
long long findMessageIndex(std::string_view text, bool last = false);

struct SearchTerm {
  const char* key;   // IMAP search key: SUBJECT, BODY, TEXT
  const char* word;  // the argument; appears nowhere else in the generated mail
  uint32_t mod;      // message i matches when i % mod == rem
  uint32_t rem;
};
inline constexpr SearchTerm kSearchTerms[] = {
    {"SUBJECT", "xqsubjq", 10, 0},  // in the Subject of every 10th message
    {"BODY", "xqbodyq", 7, 0},      // in the first text part of every 7th
    {"TEXT", "xqtextq", 5, 3},      // in a header (i % 10 == 3) or in the body (i % 10 == 8)
};

// Number of i in [0, n) with i % mod == rem.
inline uint64_t expectedHits(const SearchTerm& t, uint64_t n) {
  return n > t.rem ? (n - t.rem + t.mod - 1) / t.mod : 0;
}

}  // namespace postern::bench
