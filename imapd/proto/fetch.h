#pragma once
// FETCH attributes (RFC 3501 fetch-att) as a typed request.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parser.h"
#include "types.h"

namespace postern::imap {

// The "[...]" of BODY[...]: section-spec.
struct BodySection {
  enum class Text { kNone, kHeader, kHeaderFields, kHeaderFieldsNot, kText, kMime };
  std::vector<uint32_t> part;       // "1.2.3"; empty means the whole message
  Text text = Text::kNone;
  std::vector<std::string> fields;  // HEADER.FIELDS[.NOT] names, upper-cased

  // Canonical text between the brackets: "", "1.2.MIME", "HEADER.FIELDS (FROM TO)".
  std::string toString() const;
  bool operator==(const BodySection&) const = default;
};

struct FetchItem {
  enum class Kind {
    kFlags, kUid, kInternalDate, kRfc822Size, kRfc822, kRfc822Header, kRfc822Text,
    kEnvelope, kBody /* non-extensible BODYSTRUCTURE */, kBodyStructure, kBodySection,
  };
  Kind kind = Kind::kFlags;
  bool peek = false;                     // kBodySection sent as BODY.PEEK
  BodySection section;                   // kBodySection
  std::optional<uint32_t> partialOffset; // "<offset.length>"
  uint32_t partialLength = 0;            // > 0 when partialOffset is set

  // The name the untagged FETCH response uses: BODY.PEEK[HEADER] answers as
  // "BODY[HEADER]", BODY[]<0.100> as "BODY[]<0>", others as sent.
  std::string responseName() const;
  // BODY[...] without PEEK, RFC822 and RFC822.TEXT set \Seen.
  bool setsSeen() const;
};

struct FetchRequest {
  std::vector<FetchItem> items;  // in request order, duplicates kept
  bool has(FetchItem::Kind kind) const;
  bool setsSeen() const;
};

// The attribute argument of FETCH / UID FETCH: a macro atom (ALL, FAST,
// FULL), one fetch-att atom, or a non-empty list of fetch-att atoms.
Parsed<FetchRequest> parseFetchRequest(const Arg& arg);
// One fetch-att atom, e.g. "BODY.PEEK[1.2.HEADER.FIELDS (FROM TO)]<0.100>".
Parsed<FetchItem> parseFetchAtt(std::string_view atom);

}  // namespace postern::imap
