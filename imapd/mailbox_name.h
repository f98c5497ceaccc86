#pragma once
#include <string>

namespace postern::imapd {

// Whether `name` may be created: non-empty, no empty levels, 7-bit
// printable, valid modified UTF-7, no wildcards. *why gets the reason.
bool validMailboxName(const std::string& name, std::string* why);

}  // namespace postern::imapd
