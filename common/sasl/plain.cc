// PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login-00) and EXTERNAL
// (RFC 4422 appendix A): the mechanisms whose last step asks the lookup.
#include "sasl/plain.h"

namespace postern::sasl {
namespace {

// Maps the lookup's answer to an outcome.
Outcome userOutcome(const std::string& tried, Result<std::string> r) {
  if (r.ok()) return Outcome::success(*r);
  if (r.error().code == ErrorCode::kAuthFailed || r.error().code == ErrorCode::kNotFound)
    return Outcome::failed(tried, r.error().message);
  return Outcome{Outcome::Kind::kError, {}, tried, r.error().message, r.error()};
}

void verify(const std::shared_ptr<CredentialLookup>& lookup, const std::string& user,
            const std::string& password, Next cb) {
  if (user.empty() || user.size() > kMaxUser || password.size() > kMaxPassword)
    return cb(Outcome::failed(user.substr(0, kMaxUser), "user name or password length out of bounds"));
  lookup->verifyPassword(user, password,
                         [user, cb](Result<std::string> r) { cb(userOutcome(user, std::move(r))); });
}

class Plain : public Mechanism {
 public:
  explicit Plain(std::shared_ptr<CredentialLookup> lookup) : lookup_(std::move(lookup)) {}
  std::string_view name() const override { return "PLAIN"; }

  void step(std::string_view msg, Next cb) override {
    if (done_) return cb(Outcome::malformed("PLAIN exchange already finished"));
    done_ = true;
    auto creds = parsePlain(msg);
    if (!creds) return cb(Outcome::malformed("malformed PLAIN message"));
    // No proxy authorisation: acting as another user is refused.
    if (!creds->authzid.empty() && !iequals(creds->authzid, creds->authcid))
      return cb(Outcome{Outcome::Kind::kAuthzFailed, {}, creds->authcid, "authzid differs from authcid", {}});
    verify(lookup_, creds->authcid, creds->password, std::move(cb));
  }

 private:
  std::shared_ptr<CredentialLookup> lookup_;
  bool done_ = false;
};

class Login : public Mechanism {
 public:
  explicit Login(std::shared_ptr<CredentialLookup> lookup) : lookup_(std::move(lookup)) {}
  std::string_view name() const override { return "LOGIN"; }

  // The server speaks first; an initial response, when sent, is the user name.
  void start(Next cb) override { cb(Outcome::challenge("Username:")); }

  void step(std::string_view msg, Next cb) override {
    if (state_ == 0) {
      if (msg.empty() || msg.size() > kMaxUser || msg.find('\0') != std::string_view::npos) {
        state_ = 2;
        return cb(Outcome::failed(std::string(msg.substr(0, kMaxUser)), "bad LOGIN user name"));
      }
      user_ = std::string(msg);
      state_ = 1;
      return cb(Outcome::challenge("Password:"));
    }
    if (state_ == 1) {
      state_ = 2;
      return verify(lookup_, user_, std::string(msg), std::move(cb));
    }
    cb(Outcome::malformed("LOGIN exchange already finished"));
  }

 private:
  std::shared_ptr<CredentialLookup> lookup_;
  int state_ = 0;  // 0: want the user name, 1: want the password, 2: done
  std::string user_;
};

class External : public Mechanism {
 public:
  External(std::string identity, std::shared_ptr<CredentialLookup> lookup)
      : identity_(std::move(identity)), lookup_(std::move(lookup)) {}
  std::string_view name() const override { return "EXTERNAL"; }

  // The response is the authorization identity; empty: the certificate's.
  void step(std::string_view authzid, Next cb) override {
    if (done_) return cb(Outcome::malformed("EXTERNAL exchange already finished"));
    done_ = true;
    if (authzid.size() > kMaxUser || authzid.find('\0') != std::string_view::npos)
      return cb(Outcome::malformed("bad EXTERNAL authorization identity"));
    if (!authzid.empty() && !iequals(authzid, identity_))
      return cb(Outcome{Outcome::Kind::kAuthzFailed, {}, identity_, "authzid differs from certificate", {}});
    std::string id = identity_;
    lookup_->externalUser(id, [id, cb](Result<std::string> r) { cb(userOutcome(id, std::move(r))); });
  }

 private:
  std::string identity_;
  std::shared_ptr<CredentialLookup> lookup_;
  bool done_ = false;
};

}  // namespace

std::optional<PlainMessage> parsePlain(std::string_view msg) {
  size_t a = msg.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = msg.find('\0', a + 1);
  if (b == std::string_view::npos || msg.find('\0', b + 1) != std::string_view::npos) return std::nullopt;
  PlainMessage m{std::string(msg.substr(0, a)), std::string(msg.substr(a + 1, b - a - 1)),
                 std::string(msg.substr(b + 1))};
  if (m.authcid.empty() || m.password.empty()) return std::nullopt;
  return m;
}

std::shared_ptr<Mechanism> makePlain(std::shared_ptr<CredentialLookup> lookup) {
  return std::make_shared<Plain>(std::move(lookup));
}
std::shared_ptr<Mechanism> makeLogin(std::shared_ptr<CredentialLookup> lookup) {
  return std::make_shared<Login>(std::move(lookup));
}
std::shared_ptr<Mechanism> makeExternal(std::string identity, std::shared_ptr<CredentialLookup> lookup) {
  return std::make_shared<External>(std::move(identity), std::move(lookup));
}

}  // namespace postern::sasl
