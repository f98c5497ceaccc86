#pragma once
// Extracting BODY[section] octets from a stored (CRLF) message, through the
// MIME engine (common/mime): part numbers to any depth, parts inside
// message/rfc822, HEADER, HEADER.FIELDS(.NOT), TEXT, MIME.
#include <optional>
#include <string>
#include <string_view>

#include "fetch.h"
#include "mime/mime.h"

namespace postern::imapd {

// The header block including the blank line that ends it.
std::string_view headerOf(std::string_view msg);
// Everything after the header block.
std::string_view textOf(std::string_view msg);
// The header lines (with continuations) whose field names are (or, with
// `exclude`, are not) in `fields` (upper-case), followed by CRLF.
std::string headerFields(std::string_view header, const std::vector<std::string>& fields, bool exclude);
// The octets of `section`; nullopt when the section does not exist.
std::optional<std::string> extractSection(std::string_view msg, const imap::BodySection& section);
// The same with an already parsed structure.
std::optional<std::string> extractSection(std::string_view msg, const mime::Structure& s,
                                          const imap::BodySection& section);

}  // namespace postern::imapd
