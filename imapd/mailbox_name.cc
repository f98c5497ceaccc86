// Mailbox name rules shared by CREATE, RENAME and APPEND.
#include <string>

#include "mailbox_name.h"
#include "mutf7.h"

namespace postern::imapd {

bool validMailboxName(const std::string& name, std::string* why) {
  if (name.empty()) {
    *why = "Mailbox name is empty";
    return false;
  }
  if (name.size() > 512) {
    *why = "Mailbox name is too long";
    return false;
  }
  if (name.front() == '/' || name.find("//") != std::string::npos) {
    *why = "Mailbox name has an empty hierarchy level";
    return false;
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '*' || c == '%') {
      *why = "Mailbox name contains a character that is not allowed";
      return false;
    }
  }
  if (!imap::isValidMutf7(name)) {
    *why = "Mailbox name is not valid modified UTF-7";
    return false;
  }
  return true;
}

}  // namespace postern::imapd
