#pragma once
// Decoding for SEARCH: RFC 2047 encoded words, transfer encodings, charset
// conversion to UTF-8 (glibc iconv), and case-insensitive matching.
// Everything here is tolerant: malformed input is kept as it is, invalid
// octets in a known charset become U+FFFD, nothing fails.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mime/mime.h"

namespace postern::mime {

// `bytes` in `charset` (MIME name, case-insensitive, RFC 2231 "*lang"
// suffix allowed) as UTF-8; nullopt when iconv does not know the charset.
std::optional<std::string> toUtf8(std::string_view bytes, std::string_view charset);
// Valid UTF-8 is kept; anything else is read as ISO-8859-1 (the usual
// meaning of raw 8-bit in mail headers and undeclared bodies).
std::string sanitizeUtf8(std::string_view bytes);

// A header value (unfolded) with RFC 2047 encoded words (B and Q, any
// charset) decoded, as UTF-8. Blanks between adjacent encoded words are
// dropped, adjacent words in one charset are joined before conversion (a
// character split across words survives), malformed words stay as written.
std::string decodeHeader(std::string_view value);

// Tolerant decoders: base64 skips non-alphabet octets; quoted-printable
// keeps malformed escapes as written and drops soft line breaks.
std::string decodeBase64(std::string_view in);
std::string decodeQuotedPrintable(std::string_view in);
// By Content-Transfer-Encoding name; unknown encodings return the input.
std::string decodeTransfer(std::string_view body, std::string_view encoding);

// The body of a leaf part as UTF-8 text: transfer decoding, then its
// charset parameter (unknown or absent: sanitizeUtf8).
std::string partText(std::string_view message, const Part& part);
// A parameter value as UTF-8: RFC 2231 "name*" values percent-decoded and
// converted; plain values RFC 2047-decoded (mailers put encoded words in
// filename="...").
std::string decodeParam(const Param& p);

// Simple case folding of UTF-8 text: ASCII, Latin-1, Latin Extended-A,
// Greek and Cyrillic capitals to lower case; other code points and invalid
// octets unchanged. (No full Unicode folding: no ß -> ss, no Turkish i.)
std::string foldCase(std::string_view utf8);
// True when `needle` occurs in `haystack` ignoring case (foldCase); both
// UTF-8. An empty needle is in everything.
bool containsText(std::string_view haystack, std::string_view needle);

// The texts SEARCH TEXT and BODY match, decoded to UTF-8 (not case-folded),
// one call of `fn` each; `fn` returns false to stop, and so does the walk.
// Header texts: "Name: value" of every field of a header block (TEXT).
bool forEachHeaderText(std::string_view header, const std::function<bool(std::string&&)>& fn);
// Body texts, in document order: the header texts of every encapsulated
// message and the decoded text of every text/* or message/* leaf (BODY).
bool forEachBodyText(std::string_view message, const Structure& s, const std::function<bool(std::string&&)>& fn);

// SEARCH HEADER / SUBJECT ...: a field named `name` (any field when empty;
// then "Name: value" is matched, for TEXT) of a header block whose decoded
// value contains `needle`.
bool headerContains(std::string_view header, std::string_view name, std::string_view needle);
// SEARCH BODY: any text/* or message/* leaf (decoded), and the headers of
// encapsulated messages, contains `needle`.
bool bodyContains(std::string_view message, const Structure& s, std::string_view needle);

}  // namespace postern::mime
