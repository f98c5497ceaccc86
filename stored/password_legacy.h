#pragma once
// Legacy password schemes imported from Dovecot passwd-files, stored as
// "{SCHEME}<hash>" with the scheme name in upper case. Verify only: a
// successful login replaces them with the native scheme (password.h).
#include <string>
#include <string_view>

#include "password.h"

namespace postern::stored::legacy {

// The scheme of "{SCHEME}..." (kUnknown when not one of ours).
Scheme schemeOf(std::string_view stored);

// Constant-time check of `password` against a stored "{SCHEME}hash".
// False for a malformed hash or cost parameters beyond checkHash's bounds.
bool verify(Scheme s, std::string_view password, std::string_view stored);

// "" when `hash` (without the "{SCHEME}" prefix) is well formed for `s` and
// cheap enough to verify at every login; else why not (never the hash).
// Bounds: SHA-crypt rounds <= 1,000,000; bcrypt cost <= 16; argon2id
// m <= 256 MiB, t <= 16, p <= 8; SSHA512 salt 1..256 bytes.
std::string checkHash(Scheme s, std::string_view hash);

// The scheme for a Dovecot scheme name (case-insensitive, without braces).
Scheme fromDovecotName(std::string_view name);

}  // namespace postern::stored::legacy
