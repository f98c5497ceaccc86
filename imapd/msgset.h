#pragma once
// Resolving a sequence-set argument against the selected mailbox.
#include <cstdint>
#include <vector>

#include "mailbox_view.h"
#include "parser.h"
#include "types.h"

namespace postern::imapd {

// The message sequence numbers (ascending) that `arg` names: UIDs when
// `uid` (unknown UIDs are ignored, RFC 3501 6.4.8), otherwise sequence
// numbers, where one beyond EXISTS is an error.
imap::Parsed<std::vector<uint32_t>> resolveSeqs(const MailboxView& v, const imap::Arg& arg, bool uid);
// Message sequence numbers for SEARCH: numbers past EXISTS (and any number
// in an empty mailbox) match nothing instead of being an error, and "n:*"
// with n past the end names the last message - what Dovecot answers.
imap::Parsed<std::vector<uint32_t>> resolveSearchSeqs(const MailboxView& v, const imap::Arg& arg);

}  // namespace postern::imapd
