// The POP3 policy of a user: pop3.expire (RFC 2449 EXPIRE), pop3.login_delay
// (LOGIN-DELAY) and pop3.mark_seen, set in the config and overridable per
// user (posternctl user set, kept by stored); how CAPA announces them, and
// the expiry of retrieved messages at login.
#include <algorithm>
#include <string>

#include "log.h"
#include "pop3d/session.h"

namespace postern::pop3d {

namespace {

// A config holding only the policy keys of `cfg`: copying those is enough
// to apply overrides through the config file's own validation.
Config policyConfig(const Config& cfg) {
  Config c;
  c.pop3_expire_days = cfg.pop3_expire_days;
  c.pop3_login_delay_s = cfg.pop3_login_delay_s;
  c.pop3_mark_seen = cfg.pop3_mark_seen;
  return c;
}

std::string expireText(int32_t days) { return days < 0 ? "NEVER" : std::to_string(days); }

// NEVER (-1) keeps messages longest: it orders after every number of days.
bool keepsShorter(int32_t a, int32_t b) {
  if (a < 0) return false;
  return b < 0 || a < b;
}

}  // namespace

Session::Policy Session::userPolicy(const StoreClient::UserSettings& overrides,
                                    const std::string& user) const {
  Config c = policyConfig(host_.config());
  for (const auto& [key, value] : overrides) {
    // stored validated it when it was set; a value from a newer version
    // that this one refuses leaves the server's setting.
    if (Error e = applyConfigValue(c, key, value); !e.ok())
      log::warn("ignoring a user setting",
                {{"proc", "pop3d"}, {"session", sid_}, {"user", user}, {"error", e.message}});
  }
  return Policy{c.pop3_expire_days, c.pop3_login_delay_s, c.pop3_mark_seen};
}

std::string Session::policyCapa() const {
  return "EXPIRE " + expireText(settings_.expire_days) + "\r\nLOGIN-DELAY " +
         std::to_string(settings_.login_delay_s) + "\r\n";
}

// RFC 2449: in AUTHORIZATION, a value that may differ per user is followed
// by USER, and the client asks CAPA again after login for its own. The
// number announced then is the least any user has (the server's included):
// the most a client may rely on before it knows who it is.
std::string Session::policyCapa(const Config& cfg, const StoreClient::SettingsSummary& summary) {
  int32_t expire = cfg.pop3_expire_days;
  uint32_t delay = cfg.pop3_login_delay_s;
  bool expire_varies = false, delay_varies = false;
  auto values = [&](const char* key) {
    auto it = summary.find(key);
    return it == summary.end() ? std::vector<std::string>{} : it->second;
  };
  for (const auto& v : values("pop3.expire")) {
    Config c = policyConfig(cfg);
    if (!applyConfigValue(c, "pop3.expire", v).ok() || c.pop3_expire_days == cfg.pop3_expire_days) continue;
    expire_varies = true;
    if (keepsShorter(c.pop3_expire_days, expire)) expire = c.pop3_expire_days;
  }
  for (const auto& v : values("pop3.login_delay")) {
    Config c = policyConfig(cfg);
    if (!applyConfigValue(c, "pop3.login_delay", v).ok() || c.pop3_login_delay_s == cfg.pop3_login_delay_s)
      continue;
    delay_varies = true;
    delay = std::min(delay, c.pop3_login_delay_s);
  }
  return "EXPIRE " + expireText(expire) + (expire_varies ? " USER" : "") + "\r\nLOGIN-DELAY " +
         std::to_string(delay) + (delay_varies ? " USER" : "") + "\r\n";
}

void Session::expireRetrieved() {
  if (settings_.expire_days < 0) return openMailbox();
  std::weak_ptr<Session> weak = weakSelf();
  int64_t max_age_s = int64_t(settings_.expire_days) * 86400;
  host_.store().expireRetrieved(user_, "INBOX", max_age_s, [weak](Result<std::vector<uint32_t>> r) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    if (!r.ok()) {
      log::warn(
          "cannot expire retrieved messages",
          {{"proc", "pop3d"}, {"session", self->sid_}, {"user", self->user_}, {"error", r.error().message}});
    } else if (!r->empty()) {
      log::info("expired retrieved messages", {{"proc", "pop3d"},
                                               {"session", self->sid_},
                                               {"user", self->user_},
                                               {"messages", std::to_string(r->size())},
                                               {"expire_days", std::to_string(self->settings_.expire_days)}});
    }
    self->openMailbox();
  });
}

}  // namespace postern::pop3d
