#include "sasl/mechanism.h"

#include "sasl/plain.h"
#include "sasl/scram.h"

namespace postern::sasl {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x + 32);
    if (y >= 'A' && y <= 'Z') y = char(y + 32);
    if (x != y) return false;
  }
  return true;
}

bool isPlaintext(std::string_view name) { return iequals(name, "PLAIN") || iequals(name, "LOGIN"); }

std::vector<std::string> advertised(const Context& ctx) {
  std::vector<std::string> out;
  if (!ctx.external_identity.empty()) out.emplace_back("EXTERNAL");
  bool plus = ctx.tls || ctx.channelBindingAvailable();
  for (ScramHash h : {ScramHash::kSha256, ScramHash::kSha1}) {
    if (plus) out.emplace_back(scram::mechanismName(h, true));
    out.emplace_back(scram::mechanismName(h, false));
  }
  if (ctx.plaintext_allowed) {
    out.emplace_back("PLAIN");
    out.emplace_back("LOGIN");
  }
  return out;
}

Result<std::shared_ptr<Mechanism>> create(std::string_view name, const Context& ctx,
                                          std::shared_ptr<CredentialLookup> lookup) {
  if (isPlaintext(name)) {
    if (!ctx.plaintext_allowed) return Error{ErrorCode::kDenied, "plaintext mechanism before TLS"};
    return iequals(name, "PLAIN") ? makePlain(std::move(lookup)) : makeLogin(std::move(lookup));
  }
  for (ScramHash h : {ScramHash::kSha256, ScramHash::kSha1}) {
    if (iequals(name, scram::mechanismName(h, false)))
      return scram::makeServer(h, false, ctx, std::move(lookup));
    if (iequals(name, scram::mechanismName(h, true))) {
      if (!ctx.channelBindingAvailable())
        return Error{ErrorCode::kNotFound, "no channel binding on this connection"};
      return scram::makeServer(h, true, ctx, std::move(lookup));
    }
  }
  if (iequals(name, "EXTERNAL")) {
    if (ctx.external_identity.empty()) return Error{ErrorCode::kNotFound, "no client certificate"};
    return makeExternal(ctx.external_identity, std::move(lookup));
  }
  return Error{ErrorCode::kNotFound, "unknown mechanism"};
}

}  // namespace postern::sasl
