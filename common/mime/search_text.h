#pragma once
// The search text of a message: what SEARCH BODY, TEXT and the header keys
// match, decoded and case-folded once (at delivery, by stored) so that a
// search reads neither the message nor its decoding. It holds the texts of
// forEachHeaderText (the top-level header) and forEachBodyText, each through
// foldCase(), and a Bloom filter of their byte trigrams. contains() answers
// exactly what the scan (bodyContains, headerContains) answers: the same
// texts, the same folding, the same find; the filter only skips messages
// that cannot match.
//
// Serialised form (buildSearchText):
//   be32 F, the filter's size in bytes (a power of two, 32 .. 128 KiB)
//   F bytes of filter (bit i of the filter: byte i / 8, bit i % 8)
//   then per text: one byte scope (0 header, 1 body), be32 length, the bytes
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mime/mime.h"

namespace postern::mime {

// Which texts a needle is looked for in, and the scan it stands for.
enum class SearchScope : uint8_t {
  kBody = 0,    // body texts: bodyContains (SEARCH BODY)
  kText = 1,    // header and body texts (SEARCH TEXT)
  kHeader = 2,  // header texts, "Name: value" whole: headerContains(h, "", n)
  kField = 3,   // the values of the header fields called `field`: headerContains(h, field, n)
};
// kField compares field names as headerContains does (ASCII case-insensitive)
// only for names of printable ASCII without a colon: others cannot be asked
// of a search text (the caller scans).
bool searchableField(std::string_view field);

std::string buildSearchText(std::string_view message, const Structure& s);

class SearchText {
 public:
  // nullopt when `data` is not of the form above (texts are checked as they
  // are read: a text that runs past the end ends the walk).
  static std::optional<SearchText> parse(std::string_view data);
  // The length prefix and filter, then the texts: the parts a store
  // checksums separately (the filter is read for every message, the texts
  // only when it passes).
  std::string_view filterBlock() const { return filter_block_; }
  std::string_view texts() const { return texts_; }

  // False only when `folded` (a foldCase()d needle) is in no text: some
  // trigram of it is missing from the filter. Needles under 3 bytes: true.
  bool mayContain(std::string_view folded) const;
  // Whether a text in `scope` contains `folded`; for kField, `field` is the
  // field name (searchableField()). An empty needle is in any such text.
  bool contains(std::string_view folded, SearchScope scope, std::string_view field = {}) const;

 private:
  std::string_view filter_block_, filter_, texts_;
};

}  // namespace postern::mime
