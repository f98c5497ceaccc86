#pragma once
// The MIME engine: one parse of a message into a tree of parts with byte
// offsets, kept beside the message (serialise/deserialise) so that FETCH of
// ENVELOPE, BODYSTRUCTURE or any BODY[section] never parses again.
//
// No I/O, no allocation beyond the returned values, no global state. Only the
// C++ standard library (and glibc iconv in decode.h).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace postern::mime {

// Nesting deeper than this (multipart or message/rfc822 levels) is not
// parsed: such a part becomes an opaque application/octet-stream leaf.
constexpr int kMaxDepth = 50;
// At most this many parts per message; past it, multipart bodies are not
// split any further (the rest stays inside the enclosing part's body).
constexpr size_t kMaxParts = 10000;
// Header values kept in the structure (Subject, Content-Description, ...)
// are cut at this many octets; the message itself is never changed.
constexpr size_t kMaxValue = 65536;

// [start, end) byte offsets into the message.
struct Range {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t size() const { return end - start; }
  bool operator==(const Range&) const = default;
};

// A Content-Type or Content-Disposition parameter, as IMAP shows it: names
// and values as written, RFC 2231 continuations (name*0, name*1, ...)
// merged. An extended value keeps its encoding, Dovecot style:
// name "filename*", value "utf-8''%E2%82%AC.pdf" (see decodeParam()).
struct Param {
  std::string name;
  std::string value;
  bool operator==(const Param&) const = default;
};

// One address of an envelope list (RFC 3501 7.4.2). Group syntax: a start
// marker has no host and the group name in mailbox; the end marker has
// every field absent.
struct Address {
  std::optional<std::string> name;     // display phrase, quoting removed
  std::optional<std::string> route;    // obsolete source route "@a,@b"
  std::optional<std::string> mailbox;  // local part, quoting removed
  std::optional<std::string> host;     // domain
  bool operator==(const Address&) const = default;
};

// The envelope of a message (RFC 3501 7.4.2). Absent Date, Subject,
// In-Reply-To, Message-ID are nullopt; present but empty are "". Address
// lists are empty when absent or empty; sender and replyTo already hold
// From when their headers are missing or empty.
struct Envelope {
  std::optional<std::string> date, subject;
  std::vector<Address> from, sender, replyTo, to, cc, bcc;
  std::optional<std::string> inReplyTo, messageId;
  bool operator==(const Envelope&) const = default;
};

struct Part {
  enum class Kind : uint8_t { kLeaf = 0, kMultipart = 1, kMessage = 2 };
  Kind kind = Kind::kLeaf;
  Range header;            // the header block, including the blank line ending it
  Range body;              // everything after it, up to the next boundary
  uint64_t bodyOctets = 0; // body size with every bare LF counted as CRLF
  uint64_t bodyLines = 0;  // LF count in the body

  // Content-Type as written ("TEXT", "Plain"); empty when absent or
  // unparsable, and then the defaults apply: text/plain, or message/rfc822
  // inside multipart/digest. Compare with isType().
  std::string type, subtype;
  std::vector<Param> params;
  std::optional<std::string> id, description, encoding, md5, location;
  std::optional<std::string> disposition;  // Content-Disposition token
  std::vector<Param> dispositionParams;
  std::vector<std::string> language;       // Content-Language tags

  // kMultipart: the body parts, in order. kMessage: exactly one, the
  // encapsulated message's top entity (its header is the message header).
  std::vector<Part> children;
  // Set on the top entity of a message: the root, and the child of every
  // kMessage part.
  std::optional<Envelope> envelope;

  // Effective media type, case-insensitive ("text", "plain"); the defaults
  // are taken into account.
  bool isType(std::string_view t, std::string_view sub = {}) const;
  bool operator==(const Part&) const = default;
};

struct Structure {
  Part root;  // the message itself; root.envelope is always set
  bool operator==(const Structure&) const = default;
};

// Parses a message (CRLF or bare LF line ends, any octets). Never fails:
// a message the parser cannot make sense of is one text/plain part.
Structure parse(std::string_view message);

// Compact, versioned, checksummed binary form, to store beside the message.
std::string serialise(const Structure& s);
// kCorrupt for anything serialise() did not produce (wrong version,
// truncated, bit flips, absurd counts). Never reads out of bounds.
Result<Structure> deserialise(std::string_view data);

// What of the addressed entity BODY[section] returns.
enum class SectionText {
  kNone,    // "1.2": the part's body (the whole message for an empty path)
  kHeader,  // "HEADER", "1.HEADER": message header (path must end at message/rfc822)
  kText,    // "TEXT", "1.TEXT": message body (likewise)
  kMime,    // "1.MIME": the part's own header block (path must be non-empty)
};

// The octets of BODY[part.text] (RFC 3501 6.4.5), by offsets. Part numbers
// go to any depth, through message/rfc822 parts; part 1 of a non-multipart
// entity is its body. nullopt when the section does not exist or the
// structure does not fit the message (stale or corrupt). For HEADER.FIELDS
// use kHeader and filter with headerFields().
std::optional<std::string_view> section(std::string_view message, const Structure& s,
                                        const std::vector<uint32_t>& part, SectionText text);

// The header lines (continuations included) whose field names are (or,
// with exclude, are not) in `names` (ASCII case-insensitive), followed by
// the blank line. `header` is a header block (from section(..., kHeader)).
std::string headerFields(std::string_view header, const std::vector<std::string>& names, bool exclude);

}  // namespace postern::mime
