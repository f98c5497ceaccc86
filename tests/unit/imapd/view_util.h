#pragma once
// A selected mailbox of given uids (id 7, INBOX), for MailboxView tests.
#include <cstdint>
#include <initializer_list>

#include "mailbox_view.h"

namespace postern::imapd::test {

inline SelectedMailbox box(std::initializer_list<uint32_t> uids) {
  SelectedMailbox s;
  s.mailbox.id = 7;
  s.mailbox.name = "INBOX";
  s.mailbox.uidvalidity = 100;
  s.mailbox.uidnext = 1;
  for (uint32_t u : uids) {
    MessageMeta m;
    m.uid = u;
    m.modseq = u;
    m.size = 10;
    s.messages.push_back(m);
    s.mailbox.uidnext = u + 1;
  }
  return s;
}

}  // namespace postern::imapd::test
