// Users' credentials: authentication (and the upgrade of legacy hashes at
// the next successful login), SCRAM keys (real or made up), adding users,
// passwords, and the Dovecot passwd-file import. The slow hashing always
// happens before a write is queued, never on the writer thread.
#include <openssl/rand.h>

#include <optional>

#include "engine_internal.h"
#include "log.h"
#include "passwd_import.h"
#include "password.h"
#include "store_engine.h"

namespace postern::stored {

using namespace detail;

namespace {

// A valid hash of a random password: unknown users cost as much as known ones.
const std::string& dummyHash() {
  static const std::string h = [] {
    auto r = hashPassword("postern-no-such-user");
    return r.ok() ? *r : std::string();
  }();
  return h;
}

// A native hash and both SCRAM key sets for one password.
struct Credentials {
  std::string hash;
  ScramRecord sha1, sha256;
};

Result<Credentials> makeCredentials(std::string_view password, std::string keep_hash = {}) {
  Credentials c;
  if (keep_hash.empty()) {
    auto h = hashPassword(password);
    if (!h.ok()) return h.error();
    c.hash = std::move(*h);
  } else {
    c.hash = std::move(keep_hash);
  }
  auto s1 = scramRecord(password, sasl::ScramHash::kSha1);
  if (!s1.ok()) return s1.error();
  auto s256 = scramRecord(password, sasl::ScramHash::kSha256);
  if (!s256.ok()) return s256.error();
  c.sha1 = std::move(*s1);
  c.sha256 = std::move(*s256);
  return c;
}

void setKeys(rec::ScramKeys* k, const ScramRecord& r) {
  k->set_salt(r.salt);
  k->set_iterations(r.iterations);
  k->set_stored_key(r.stored_key);
  k->set_server_key(r.server_key);
}

void applyCredentials(rec::User* u, const Credentials& c) {
  u->set_password(c.hash);
  setKeys(u->mutable_scram_sha1(), c.sha1);
  setKeys(u->mutable_scram_sha256(), c.sha256);
}

// A legacy hash has no SCRAM keys until it is upgraded.
void applyLegacy(rec::User* u, const std::string& stored) {
  u->set_password(stored);
  u->clear_scram_sha1();
  u->clear_scram_sha256();
}

// Writes the new user `u` (id assigned here) and its INBOX.
Error insertUser(MDB_txn* t, const Dbs& d, rec::User u, std::vector<Change>* changes) {
  auto id = nextCounter(t, d, keys::kMetaNextUserId);
  if (!id.ok()) return id.error();
  u.set_id(uint32_t(*id));
  u.clear_subscriptions();
  u.add_subscriptions("INBOX");
  if (auto e = putRec(t, d.users, u.name(), u); !e.ok()) return e;
  auto inbox = createMailboxRec(t, d, u.id(), "INBOX");
  if (!inbox.ok()) return inbox.error();
  const rec::Mailbox& mb = *inbox;
  Change c;
  c.kind = Change::kMailbox;
  c.user = u.name();
  c.mailbox_id = mb.id();
  changes->push_back(std::move(c));
  return {};
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return s;
}

}  // namespace

Result<std::string> StoreEngine::authenticate(const std::string& user, const std::string& password) {
  auto name = canonicalUser(user);
  if (!name.ok()) {
    verifyPassword(password, dummyHash());
    return Error{ErrorCode::kAuthFailed, "bad user name"};
  }
  std::string hash;
  bool has_scram = false;
  {
    Reader rd(this);
    if (!rd.error().ok()) return rd.error();
    auto u = loadUser(rd.txn(), rd.dbs(), *name);
    if (!u.ok() && u.error().code != ErrorCode::kNotFound) return u.error();
    if (u.ok()) {
      hash = u->password();
      has_scram = u->has_scram_sha1() && u->has_scram_sha256();
    }
  }  // no read txn held during the slow hash
  if (hash.empty()) {
    verifyPassword(password, dummyHash());
    return Error{ErrorCode::kAuthFailed, "unknown user " + *name};
  }
  bool legacy = schemeOf(hash) != Scheme::kScrypt;
  // Verified before with this very stored hash (auth_cache.h): skip scrypt.
  // Only native hashes with SCRAM keys are cached, so nothing is left to
  // upgrade; a wrong password or a changed hash never hits.
  if (!legacy && has_scram && auth_cache_.lookup(*name, hash, password)) return *name;
  ++password_verifications_;
  bool ok = verifyPassword(password, hash);
  // A cheaper legacy scheme must not tell a guesser that the user exists:
  // pay for one scrypt as well, as an unknown user does.
  if (legacy) verifyPassword(password, dummyHash());
  if (!ok) return Error{ErrorCode::kAuthFailed, "wrong password for " + *name};
  if (legacy || !has_scram)
    upgradePassword(*name, password, hash);
  else
    auth_cache_.insert(*name, hash, password);
  return *name;
}

Result<std::string> StoreEngine::authenticate(const std::string& user, const std::string& password,
                                              const std::string& protocol) {
  auto r = authenticate(user, password);
  if (!r.ok() || protocol.empty()) return r;
  Reader rd(this);
  if (!rd.error().ok()) return rd.error();
  auto u = loadUser(rd.txn(), rd.dbs(), *r);
  if (!u.ok()) return u.error();
  for (const auto& p : u->denied_protocols())
    if (p == protocol) return Error{ErrorCode::kDenied, protocol + " access is disabled for " + *r};
  return r;
}

void StoreEngine::upgradePassword(const std::string& name, const std::string& password,
                                  const std::string& old_hash) {
  Scheme from = schemeOf(old_hash);
  // A native hash stays; only the SCRAM keys are added.
  auto creds = makeCredentials(password, from == Scheme::kScrypt ? old_hash : std::string());
  if (!creds.ok()) {
    log::warn("password upgrade failed", {{"user", name}, {"error", creds.error().message}});
    return;
  }
  bool changed = false;
  const Dbs& d = *dbs_;
  Error e = runWrite([&](MDB_txn* t, std::vector<Change>*) -> Error {
    auto u = loadUser(t, d, name);
    if (!u.ok()) return u.error();
    if (u->password() != old_hash) return {};  // set meanwhile: that one wins
    applyCredentials(&*u, *creds);
    changed = true;
    return putRec(t, d.users, name, *u);
  });
  if (!e.ok()) {
    log::warn("password upgrade failed", {{"user", name}, {"error", e.message}});
    return;
  }
  if (changed)
    log::info(from == Scheme::kScrypt ? "SCRAM keys added at login" : "password hash upgraded at login",
              {{"user", name}, {"from", std::string(schemeName(from))}, {"to", "SCRYPT+SCRAM"}});
}

Result<std::string> StoreEngine::scramSecret() {
  {
    std::lock_guard<std::mutex> lk(secret_mu_);
    if (!scram_secret_.empty()) return scram_secret_;
  }
  std::string fresh(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(fresh.data()), int(fresh.size())) != 1)
    return Error{ErrorCode::kInternal, "RAND_bytes failed"};
  std::string secret;
  const Dbs& d = *dbs_;
  // Created once for the life of the store: the same unknown name must get
  // the same salt after a restart, as a real user's does.
  Error e = runWrite([&](MDB_txn* t, std::vector<Change>*) -> Error {
    std::string_view v;
    auto found = getRaw(t, d.meta, keys::kMetaScramSecret, &v);
    if (!found.ok()) return found.error();
    if (*found && v.size() == 32) {
      secret = std::string(v);
      return {};
    }
    secret = fresh;
    return putRaw(t, d.meta, keys::kMetaScramSecret, secret);
  });
  if (!e.ok()) return e;
  std::lock_guard<std::mutex> lk(secret_mu_);
  scram_secret_ = secret;
  return secret;
}

Result<ScramSecrets> StoreEngine::scramSecrets(const std::string& user, const std::string& mechanism,
                                               const std::string& protocol) {
  sasl::ScramHash h;
  if (mechanism == "SCRAM-SHA-1")
    h = sasl::ScramHash::kSha1;
  else if (mechanism == "SCRAM-SHA-256")
    h = sasl::ScramHash::kSha256;
  else
    return Error{ErrorCode::kBadArgs, "unknown SCRAM mechanism " + mechanism};
  auto name = canonicalUser(user);
  ScramSecrets out;
  out.user = name.ok() ? *name : lower(user.substr(0, 255));
  std::optional<rec::User> u;
  if (name.ok()) {
    Reader rd(this);
    if (!rd.error().ok()) return rd.error();
    auto r = loadUser(rd.txn(), rd.dbs(), *name);
    if (!r.ok() && r.error().code != ErrorCode::kNotFound) return r.error();
    if (r.ok()) u = std::move(*r);
  }
  bool has = u && (h == sasl::ScramHash::kSha1 ? u->has_scram_sha1() : u->has_scram_sha256());
  if (has) {
    const rec::ScramKeys& k = h == sasl::ScramHash::kSha1 ? u->scram_sha1() : u->scram_sha256();
    out.salt = k.salt();
    out.iterations = k.iterations();
    out.stored_key = k.stored_key();
    out.server_key = k.server_key();
    for (const auto& p : u->denied_protocols())
      if (p == protocol) out.denied = true;
    return out;
  }
  if (u) {
    log::info("SCRAM not possible for this user until the next PLAIN/LOGIN login: no SCRAM keys",
              {{"user", out.user},
               {"mechanism", mechanism},
               {"scheme", std::string(schemeName(schemeOf(u->password())))}});
  }
  auto secret = scramSecret();
  if (!secret.ok()) return secret.error();
  ScramRecord fake = fakeScramRecord(*secret, out.user, h);
  out.salt = std::move(fake.salt);
  out.iterations = fake.iterations;
  out.stored_key = std::move(fake.stored_key);
  out.server_key = std::move(fake.server_key);
  return out;
}

Error StoreEngine::addUser(const std::string& user, const std::string& password) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  auto creds = makeCredentials(password);  // before queueing: never on the writer
  if (!creds.ok()) return creds.error();
  const Dbs& d = *dbs_;
  return runWrite([&](MDB_txn* t, std::vector<Change>* changes) -> Error {
    std::string_view v;
    auto found = getRaw(t, d.users, *name, &v);
    if (!found.ok()) return found.error();
    if (*found) return Error{ErrorCode::kExists, "user exists: " + *name};
    rec::User u;
    u.set_name(*name);
    applyCredentials(&u, *creds);
    return insertUser(t, d, std::move(u), changes);
  });
}

Error StoreEngine::setPassword(const std::string& user, const std::string& password) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  auto creds = makeCredentials(password);
  if (!creds.ok()) return creds.error();
  const Dbs& d = *dbs_;
  Error e = runWrite([&](MDB_txn* t, std::vector<Change>*) -> Error {
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    applyCredentials(&*u, *creds);
    return putRec(t, d.users, *name, *u);
  });
  auth_cache_.erase(*name);  // would miss anyway: the hash is part of the MAC
  return e;
}

Result<std::vector<ImportLineResult>> StoreEngine::importPasswd(const std::vector<std::string>& lines,
                                                                uint32_t first_line, bool replace) {
  struct Pending {
    size_t result;  // index into `results`
    std::string name;
    ImportedPassword pw;
    Credentials creds;  // {PLAIN} only
  };
  std::vector<ImportLineResult> results;
  std::vector<Pending> pending;
  for (size_t i = 0; i < lines.size(); ++i) {
    ImportLineResult r;
    r.line = first_line + uint32_t(i);
    auto entry = parsePasswdLine(lines[i]);
    if (entry.ok() && !entry->has_value()) continue;  // blank or comment
    if (!entry.ok()) {
      r.detail = entry.error().message;
      results.push_back(std::move(r));
      continue;
    }
    const PasswdEntry& e = **entry;
    r.user = e.user.substr(0, 64);
    auto name = canonicalUser(e.user);
    auto pw = importDovecotPassword(e.password);
    if (!name.ok() || !pw.ok()) {
      r.detail = !name.ok() ? "invalid user name" : pw.error().message;
      results.push_back(std::move(r));
      continue;
    }
    r.user = *name;
    Pending p{results.size(), *name, std::move(*pw), {}};
    if (p.pw.plaintext) {
      // Known in the clear: stored natively at once, never kept as given.
      auto creds = makeCredentials(*p.pw.plaintext);
      p.pw.plaintext.reset();
      if (!creds.ok()) {
        r.detail = "cannot hash: " + creds.error().message;
        results.push_back(std::move(r));
        continue;
      }
      p.creds = std::move(*creds);
    }
    results.push_back(std::move(r));
    pending.push_back(std::move(p));
  }
  const Dbs& d = *dbs_;
  std::vector<ImportLineResult> out;
  Error err = runWrite([&](MDB_txn* t, std::vector<Change>* changes) -> Error {
    out = results;  // a retried or failed write starts from the parse results
    for (const auto& p : pending) {
      ImportLineResult& r = out[p.result];
      auto u = loadUser(t, d, p.name);
      if (!u.ok() && u.error().code != ErrorCode::kNotFound) return u.error();
      bool exists = u.ok();
      if (exists && !replace) {
        r.detail = "user exists (use --replace to set the password)";
        continue;
      }
      rec::User rec = exists ? std::move(*u) : rec::User();
      if (!exists) rec.set_name(p.name);
      if (p.pw.stored.empty())
        applyCredentials(&rec, p.creds);
      else
        applyLegacy(&rec, p.pw.stored);
      if (exists) {
        if (auto e = putRec(t, d.users, p.name, rec); !e.ok()) return e;
      } else if (auto e = insertUser(t, d, std::move(rec), changes); !e.ok()) {
        return e;
      }
      r.imported = true;
      std::string scheme = p.pw.stored.empty() ? "PLAIN (stored as SCRYPT+SCRAM)"
                                               : std::string(schemeName(p.pw.scheme)) +
                                                     " (upgraded to SCRYPT+SCRAM at the next login)";
      r.detail = (exists ? "password replaced: " : "") + scheme;
    }
    return {};
  });
  if (!err.ok()) return err;
  return out;
}

}  // namespace postern::stored
