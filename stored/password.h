#pragma once
// Password hashing for stored user records: scrypt (N=2^14, r=8, p=1) with a
// 16-byte random salt, stored as "$scrypt$ln=14,r=8,p=1$<b64 salt>$<b64 hash>".
// CPU- and memory-heavy (~16 MiB, tens of ms): never call on the writer thread.
#include <string>
#include <string_view>

#include "error.h"

namespace postern::stored {

// Returns the scheme string for `password`; kInternal if OpenSSL fails.
Result<std::string> hashPassword(std::string_view password);

// True when `password` matches `stored`. Compares in constant time; returns
// false (never crashes) for a malformed or unknown-scheme string.
bool verifyPassword(std::string_view password, std::string_view stored);

}  // namespace postern::stored
