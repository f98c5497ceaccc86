#pragma once
// The password mechanisms PLAIN and LOGIN, and EXTERNAL. Created through
// sasl::create (mechanism.h); declared here for tests.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sasl/mechanism.h"

namespace postern::sasl {

struct PlainMessage {
  std::string authzid;  // empty: act as authcid
  std::string authcid;
  std::string password;
};
// Splits "[authzid] NUL authcid NUL passwd" (RFC 4616 section 2): exactly
// two NULs, authcid and passwd non-empty; nullopt otherwise.
std::optional<PlainMessage> parsePlain(std::string_view msg);

std::shared_ptr<Mechanism> makePlain(std::shared_ptr<CredentialLookup> lookup);
std::shared_ptr<Mechanism> makeLogin(std::shared_ptr<CredentialLookup> lookup);
std::shared_ptr<Mechanism> makeExternal(std::string identity, std::shared_ptr<CredentialLookup> lookup);

}  // namespace postern::sasl
