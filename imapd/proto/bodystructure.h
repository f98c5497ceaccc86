#pragma once
// IMAP rendering of a parsed message (RFC 3501 7.4.2): ENVELOPE, BODY and
// BODYSTRUCTURE, from a mime::Structure alone (no message octets needed).
//
// Conventions (Dovecot's): media types, subtypes, parameter names and
// values go out as the message wrote them; defaults are lower case:
// "text" "plain", ("charset" "us-ascii") added to every text/* part without
// a charset, "7bit" when there is no Content-Transfer-Encoding, "x-unknown"
// for a multipart without subtype, "unknown" for a non-text type without
// one. A multipart with no parts shows one empty text/plain part. Strings
// with 8-bit octets or over writer.h's kMaxQuoted go out as literals.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mime/mime.h"

namespace postern::imap {

// "(date subject from sender reply-to to cc bcc in-reply-to message-id)".
std::string envelope(const mime::Structure& s);
void appendEnvelope(std::string& out, const mime::Envelope& e);

// BODY (extended = false) or BODYSTRUCTURE (extended = true), "(...)".
std::string bodyStructure(const mime::Structure& s, bool extended);
void appendBody(std::string& out, const mime::Part& p, bool extended);

// The three renderings at once, as stored keeps them beside each body (its
// "imap" db, written at delivery) so that FETCH ENVELOPE / BODY /
// BODYSTRUCTURE, first or repeated, parses nothing: for each of
// BODYSTRUCTURE, BODY and ENVELOPE a be32 length, then the string.
std::string renderAll(const mime::Structure& s);
struct Rendered {
  std::string_view bodystructure, body, envelope;  // empty: not sent (selectRendered)
};
// nullopt for anything renderAll() or selectRendered() did not produce.
std::optional<Rendered> parseRendered(std::string_view v);
// The same value with only `parts` kept (the others empty), so a FETCH of
// one of them does not carry the others; nullopt when `all` is not one.
enum RenderedPart : uint32_t { kRenderedBodyStructure = 1, kRenderedBody = 2, kRenderedEnvelope = 4, kRenderedAll = 7 };
std::optional<std::string> selectRendered(std::string_view all, uint32_t parts);
// selectRendered()'s value of a parsed one, appended to `out`, and its size.
size_t selectedSize(const Rendered& all, uint32_t parts);
void appendSelected(std::string& out, const Rendered& all, uint32_t parts);

}  // namespace postern::imap
