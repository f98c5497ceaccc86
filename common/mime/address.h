#pragma once
// RFC 5322 address lists and the IMAP envelope of a header block.
#include <string_view>
#include <vector>

#include "mime/mime.h"

namespace postern::mime {

// Tolerant address-list parser, modelled on Dovecot's (fill-missing mode):
//  - groups become a start marker (mailbox = group name, host absent), their
//    members, and an end marker (all absent), even without the ";";
//  - a display name is the phrase with quoting removed, words joined by one
//    space; encoded words stay encoded (clients decode them);
//  - "user@host (Name)" takes the last comment as the display name;
//  - obsolete routes "<@a,@b:user@host>" go to route as "@a,@b";
//  - a missing local part is "MISSING_MAILBOX", a missing domain is
//    "MISSING_DOMAIN" (so a client never sees a half-NIL address that it
//    would take for group syntax); an unterminated "<..." gets the domain
//    "SYNTAX_ERROR" when it has none;
//  - garbage between addresses is skipped up to the next ",".
// At most 10000 addresses are returned.
std::vector<Address> parseAddressList(std::string_view value);

// The envelope of a header block. First occurrence wins for each field.
Envelope parseEnvelope(std::string_view header);

}  // namespace postern::mime
