// LIST and LSUB (RFC 3501 6.3.8, 6.3.9), with CHILDREN attributes (RFC 3348).
#include <algorithm>
#include <map>
#include <set>

#include "command.h"
#include "types.h"
#include "writer.h"

namespace postern::imapd {
namespace {

// "*" matches anything, "%" anything but the delimiter.
bool match(std::string_view pat, std::string_view name) {
  if (pat.empty()) return name.empty();
  if (pat[0] == '*' || pat[0] == '%') {
    for (size_t i = 0; i <= name.size(); ++i) {
      if (match(pat.substr(1), name.substr(i))) return true;
      if (i < name.size() && pat[0] == '%' && name[i] == '/') break;
    }
    return false;
  }
  if (name.empty()) return false;
  bool same = pat[0] == name[0];
  return same && match(pat.substr(1), name.substr(1));
}

bool matchName(const std::string& pattern, const std::string& name) {
  // INBOX is case-insensitive: compare its normalised form.
  return match(imap::normalizeMailbox(pattern), name);
}

// The LIST or LSUB answer, given the user's mailboxes and, for LSUB, the
// subscription list (whose names need not exist: RFC 3501 6.3.6).
void answer(const std::shared_ptr<CommandContext>& self, const std::string& pattern, bool lsub,
            const std::vector<MailboxInfo>& boxes, const std::set<std::string>& subscribed) {
  std::map<std::string, bool> names;  // name -> selectable (exists)
  for (const auto& m : boxes) {
    names[m.name] = true;
    for (size_t p = m.name.find('/'); p != std::string::npos; p = m.name.find('/', p + 1))
      names.emplace(m.name.substr(0, p), false);  // implicit parent
  }
  std::set<std::string> shown;  // LSUB: subscribed names, and parents shown for "%"
  if (lsub) {
    shown = subscribed;
    // An unsubscribed parent of a subscribed mailbox is listed as \Noselect
    // when "%" would otherwise hide the hierarchy (RFC 3501 6.3.9).
    if (pattern.find('%') != std::string::npos)
      for (const auto& s : subscribed)
        for (size_t p = s.find('/'); p != std::string::npos; p = s.find('/', p + 1))
          if (!subscribed.count(s.substr(0, p))) shown.insert(s.substr(0, p));
  }
  const auto& candidates = lsub ? shown : [&] {
    std::set<std::string> all;
    for (const auto& [n, e] : names) all.insert(n);
    return all;
  }();
  for (const auto& name : candidates) {
    if (!matchName(pattern, name)) continue;
    auto it = names.find(name);
    bool exists = it != names.end() && it->second;
    // A parent shown only for "%" is \Noselect even when it exists.
    if (lsub && !subscribed.count(name)) exists = false;
    // The first name after "name/" in sort order; not simply the next
    // name, which may be a sibling such as "name.old" ('.' < '/').
    auto next = names.lower_bound(name + "/");
    bool children = next != names.end() && next->first.compare(0, name.size() + 1, name + "/") == 0;
    std::string attrs;
    if (!exists) attrs = "\\Noselect ";
    attrs += children ? "\\HasChildren" : "\\HasNoChildren";
    std::string line = std::string(lsub ? "LSUB" : "LIST") + " (" + attrs + ") \"/\" ";
    imap::appendAstring(line, name);
    self->untagged(line);
  }
  self->ok(std::string(lsub ? "LSUB" : "LIST") + " completed");
}

}  // namespace

void cmdList(CommandContext& ctx) {
  bool lsub = ctx.name() == "LSUB";
  if (!ctx.argCount(2)) return ctx.bad(std::string(ctx.name()) + " needs a reference and a mailbox pattern");
  auto ref = ctx.astring(0);
  auto pat = imap::argListMailbox(ctx.args()[1]);
  if (!ref || !pat) return ctx.bad("Invalid reference or pattern");
  std::string pattern = *ref + std::string(*pat);
  if (pat->empty() && !lsub) {
    ctx.untagged("LIST (\\Noselect) \"/\" \"\"");
    return ctx.ok("LIST completed");
  }
  if (pattern.size() > 1024 || std::count(pattern.begin(), pattern.end(), '*') +
                                       std::count(pattern.begin(), pattern.end(), '%') > 16)
    return ctx.bad("Pattern too complex");
  auto self = ctx.self();
  ctx.store().listMailboxes(ctx.session().user(), [self, pattern, lsub](Result<std::vector<MailboxInfo>> r) {
    if (!r.ok()) return self->fail(r.error(), lsub ? "LSUB" : "LIST");
    if (!lsub) return answer(self, pattern, false, r.value(), {});
    auto boxes = std::make_shared<std::vector<MailboxInfo>>(std::move(r.value()));
    self->store().listSubscriptions(self->session().user(),
                                    [self, pattern, boxes](Result<std::vector<std::string>> s) {
                                      if (!s.ok()) return self->fail(s.error(), "LSUB");
                                      std::set<std::string> subscribed(s.value().begin(), s.value().end());
                                      answer(self, pattern, true, *boxes, subscribed);
                                    });
  });
}

}  // namespace postern::imapd
