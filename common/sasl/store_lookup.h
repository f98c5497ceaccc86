#pragma once
// The one bridge between the SASL library and the store: a CredentialLookup
// over the abstract StoreClient (common/store_client.h), for imapd and pop3d.
// Built as its own library (sasl_store_dep) so the SASL library itself stays
// free of the store.
#include <memory>
#include <string>

#include "sasl/mechanism.h"
#include "store_client.h"

namespace postern::sasl {

class StoreLookup : public CredentialLookup {
 public:
  // `store` must outlive every pending lookup (it is the worker's, which
  // lives for the process). `protocol`: "imap" or "pop3".
  StoreLookup(StoreClient& store, std::string protocol) : store_(store), protocol_(std::move(protocol)) {}

  void verifyPassword(const std::string& authcid, const std::string& password, UserCallback cb) override;
  void scramCredentials(const std::string& authcid, ScramHash hash, ScramCallback cb) override;
  // A user whose canonical name is the identity. Note: the protocol
  // access of the user is not checked here (EXTERNAL is not offered until
  // client certificates are configured).
  void externalUser(const std::string& identity, UserCallback cb) override;

 private:
  StoreClient& store_;
  std::string protocol_;
};

}  // namespace postern::sasl
