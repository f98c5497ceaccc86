#include "sasl/store_lookup.h"

#include "sasl/scram.h"

namespace postern::sasl {

void StoreLookup::verifyPassword(const std::string& authcid, const std::string& password, UserCallback cb) {
  store_.authenticate(authcid, password, protocol_, [cb](Result<std::string> r) {
    // Unknown user and wrong password are one answer.
    if (!r.ok() && r.error().code == ErrorCode::kNotFound)
      return cb(Error{ErrorCode::kAuthFailed, r.error().message});
    cb(std::move(r));
  });
}

void StoreLookup::scramCredentials(const std::string& authcid, ScramHash hash, ScramCallback cb) {
  store_.scramSecrets(authcid, std::string(scram::mechanismName(hash, false)), protocol_,
                      [cb](Result<ScramSecrets> r) {
                        if (!r.ok()) return cb(r.error());
                        ScramCredentials c;
                        c.user = std::move(r->user);
                        c.salt = std::move(r->salt);
                        c.iterations = r->iterations;
                        c.stored_key = std::move(r->stored_key);
                        c.server_key = std::move(r->server_key);
                        c.denied = r->denied;
                        cb(std::move(c));
                      });
}

void StoreLookup::externalUser(const std::string& identity, UserCallback cb) {
  std::string lower = identity;
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  store_.userExists({lower}, [lower, cb](Result<std::vector<bool>> r) {
    if (!r.ok()) return cb(r.error());
    if (r->size() != 1 || !(*r)[0]) return cb(Error{ErrorCode::kAuthFailed, "no user " + lower});
    cb(lower);
  });
}

}  // namespace postern::sasl
