#pragma once
// A CredentialLookup over an in-memory user table, answering at once or, with
// `deferred`, when the test calls runPending() (as stored answers later).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sasl/mechanism.h"
#include "sasl/scram.h"

namespace postern::sasl::test {

class FakeLookup : public CredentialLookup {
 public:
  struct User {
    std::string password;
    std::string salt = "0123456789abcdef";
    uint32_t iterations = 4096;
    bool denied = false;
  };
  std::map<std::string, User> users;
  bool deferred = false;
  Error fail;  // non-OK: every lookup answers this
  std::vector<std::function<void()>> pending;
  std::vector<std::string> asked;  // authcids looked up, in order

  void runPending() {
    auto p = std::move(pending);
    pending.clear();
    for (auto& f : p) f();
  }

  void verifyPassword(const std::string& authcid, const std::string& password, UserCallback cb) override {
    asked.push_back(authcid);
    answer([=, this] {
      if (!fail.ok()) return cb(fail);
      auto it = users.find(lower(authcid));
      if (it == users.end() || it->second.password != password)
        return cb(Error{ErrorCode::kAuthFailed, "no"});
      if (it->second.denied) return cb(Error{ErrorCode::kDenied, "denied"});
      cb(it->first);
    });
  }

  void scramCredentials(const std::string& authcid, ScramHash h, ScramCallback cb) override {
    asked.push_back(authcid);
    answer([=, this] {
      if (!fail.ok()) return cb(fail);
      auto it = users.find(lower(authcid));
      ScramCredentials c;
      if (it == users.end()) {
        // Made-up keys, as stored answers for an unknown user.
        c.user = lower(authcid);
        c.salt = "fake-salt-" + authcid;
        c.iterations = 4096;
        c.stored_key = std::string(scram::hashLen(h), 'x');
        c.server_key = std::string(scram::hashLen(h), 'y');
        return cb(c);
      }
      auto keys = scram::deriveKeys(h, it->second.password, it->second.salt, it->second.iterations);
      c.user = it->first;
      c.salt = it->second.salt;
      c.iterations = it->second.iterations;
      c.stored_key = keys.stored_key;
      c.server_key = keys.server_key;
      c.denied = it->second.denied;
      cb(c);
    });
  }

  void externalUser(const std::string& identity, UserCallback cb) override {
    asked.push_back(identity);
    answer([=, this] {
      auto it = users.find(lower(identity));
      if (it == users.end()) return cb(Error{ErrorCode::kAuthFailed, "no"});
      cb(it->first);
    });
  }

 private:
  static std::string lower(std::string s) {
    for (char& c : s)
      if (c >= 'A' && c <= 'Z') c = char(c + 32);
    return s;
  }
  void answer(std::function<void()> f) {
    if (deferred)
      pending.push_back(std::move(f));
    else
      f();
  }
};

}  // namespace postern::sasl::test
