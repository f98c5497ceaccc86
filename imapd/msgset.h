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

}  // namespace postern::imapd
