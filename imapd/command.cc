#include "command.h"

#include "auth.h"
#include "error_map.h"
#include "fetch.h"
#include "types.h"

namespace postern::imapd {

// Handlers, one file each under cmd/.
void cmdCapability(CommandContext&);
void cmdNoop(CommandContext&);
void cmdLogout(CommandContext&);
void cmdId(CommandContext&);
void cmdLogin(CommandContext&);
void cmdAuthenticate(CommandContext&);
void cmdNamespace(CommandContext&);
void cmdList(CommandContext&);
void cmdCreate(CommandContext&);
void cmdDelete(CommandContext&);
void cmdRename(CommandContext&);
void cmdSubscribe(CommandContext&);
void cmdStatus(CommandContext&);
void cmdSelect(CommandContext&);
void cmdAppend(CommandContext&);
void cmdCheck(CommandContext&);
void cmdClose(CommandContext&);
void cmdExpunge(CommandContext&);
void cmdFetch(CommandContext&);
void cmdStore(CommandContext&);
void cmdCopy(CommandContext&);
void cmdSearch(CommandContext&);
void cmdIdle(CommandContext&);
void cmdStarttls(CommandContext&);

namespace {

// Sorted by name for lookup.
const CommandDef kCommands[] = {
    {"APPEND", kAuthOnly | kExclusive, cmdAppend},
    {"AUTHENTICATE", kNotAuthOnly | kExclusive, cmdAuthenticate},
    {"CAPABILITY", kAnyState, cmdCapability},
    {"CHECK", kSelectedOnly, cmdCheck},
    {"CLOSE", kSelectedOnly | kExclusive, cmdClose},
    {"COPY", kSelectedOnly | kUidVariant | kUsesSeqs | kExclusive, cmdCopy},
    {"CREATE", kAuthOnly | kExclusive, cmdCreate},
    {"DELETE", kAuthOnly | kExclusive, cmdDelete},
    {"EXAMINE", kAuthOnly | kExclusive, cmdSelect},
    {"EXPUNGE", kSelectedOnly | kUidVariant | kBreaksSeqs | kExclusive, cmdExpunge},
    {"FETCH", kSelectedOnly | kNoExpunge | kUidVariant | kUsesSeqs, cmdFetch},
    {"ID", kAnyState, cmdId},
    {"IDLE", kAuthOnly | kExclusive, cmdIdle},
    {"LIST", kAuthOnly, cmdList},
    {"LOGIN", kNotAuthOnly | kExclusive, cmdLogin},
    {"LOGOUT", kAnyState | kExclusive, cmdLogout},
    {"LSUB", kAuthOnly, cmdList},
    {"MOVE", kSelectedOnly | kUidVariant | kUsesSeqs | kBreaksSeqs | kExclusive, cmdCopy},
    {"NAMESPACE", kAuthOnly, cmdNamespace},
    {"NOOP", kAnyState, cmdNoop},
    {"RENAME", kAuthOnly | kExclusive, cmdRename},
    {"SEARCH", kSelectedOnly | kNoExpunge | kUidVariant | kUsesSeqs, cmdSearch},
    {"SELECT", kAuthOnly | kExclusive, cmdSelect},
    {"STARTTLS", kNotAuthOnly | kExclusive, cmdStarttls},
    {"STATUS", kAuthOnly, cmdStatus},
    {"STORE", kSelectedOnly | kNoExpunge | kUidVariant | kUsesSeqs | kExclusive, cmdStore},
    {"SUBSCRIBE", kAuthOnly | kExclusive, cmdSubscribe},
    {"UNSELECT", kSelectedOnly | kExclusive, cmdClose},
    {"UNSUBSCRIBE", kAuthOnly | kExclusive, cmdSubscribe},
    {"XNOOP", kAnyState, cmdNoop},
};

}  // namespace

const CommandDef* findCommand(std::string_view name) {
  for (const auto& c : kCommands)
    if (c.name == name && c.run) return &c;
  return nullptr;
}

uint32_t effectiveFlags(const CommandDef& def, const imap::Command& cmd, bool uid) {
  uint32_t f = def.flags;
  if (uid) f &= ~static_cast<uint32_t>(kUsesSeqs);
  if (def.run == cmdFetch) {
    // A FETCH that sets \Seen is a write: a later FETCH FLAGS must see it.
    // One that will fail to parse runs alone too, keeping its BAD in order.
    if (cmd.args.size() != 2) return f | kExclusive;
    auto req = imap::parseFetchRequest(cmd.args[1]);
    if (!req || req->setsSeen()) f |= kExclusive;
  }
  return f;
}

bool mayRunBeside(uint32_t running, uint32_t later) {
  if ((running | later) & kExclusive) return false;
  if ((running & kBreaksSeqs) && (later & kUsesSeqs)) return false;
  if ((running & kUsesSeqs) && (later & kBreaksSeqs)) return false;
  return true;
}

std::string capabilities(const Session& s) {
  std::string caps = "IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UIDPLUS UNSELECT CHILDREN MOVE";
  if (s.state() == State::kNotAuthenticated) {
    if (s.starttlsOffered()) caps += " STARTTLS";
    caps += authCapabilities(s);  // AUTH=... and LOGINDISABLED (auth.cc)
  }
  return caps;
}

CommandContext::CommandContext(std::shared_ptr<Session> s, imap::Command cmd, const CommandDef* def, bool uid)
    : session_(std::move(s)), cmd_(std::move(cmd)), def_(def), uid_(uid),
      flags_(effectiveFlags(*def, cmd_, uid)) {}

std::optional<std::string> CommandContext::astring(size_t i) const {
  if (i >= cmd_.args.size()) return std::nullopt;
  auto v = imap::argAstring(cmd_.args[i]);
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<std::string> CommandContext::mailbox(size_t i) const {
  auto v = astring(i);
  if (!v) return std::nullopt;
  return imap::normalizeMailbox(*v);
}

void CommandContext::untagged(std::string_view line) {
  std::string out = "* ";
  out.append(line);
  out += "\r\n";
  write(out);
}

void CommandContext::write(std::string_view raw) {
  if (head_)
    session_->write(raw);
  else
    held_.append(raw);
}

size_t CommandContext::pendingOutput() const { return head_ ? session_->pendingOutput() : held_.size(); }

void CommandContext::onDrain(std::function<void()> cb) {
  if (head_)
    session_->onDrain(std::move(cb));
  else
    held_drain_ = std::move(cb);
}

void CommandContext::becomeHead() {
  head_ = true;
  if (!held_.empty()) {
    session_->write(held_);
    std::string().swap(held_);
  }
  if (held_drain_) session_->onDrain(std::move(held_drain_));
  held_drain_ = nullptr;
}

void CommandContext::finish(std::string_view status, std::string_view text) {
  if (finished_) return;
  finished_ = true;
  tagged_ = cmd_.tag;
  tagged_ += ' ';
  tagged_.append(status);
  tagged_ += ' ';
  tagged_.append(text);
  tagged_ += "\r\n";
  // The session sends the untagged updates and the tagged line once every
  // earlier command has completed.
  session_->commandFinished();
}

void CommandContext::ok(std::string_view text) {
  session_->noteGood();
  finish("OK", text);
}
void CommandContext::no(std::string_view text) {
  session_->noteGood();
  finish("NO", text);
}
void CommandContext::bad(std::string_view text) {
  finish("BAD", text);
  session_->noteBad();
}
void CommandContext::fail(const Error& e, std::string_view what) {
  finish("NO", imapNoText(e, std::string(what)));
}

}  // namespace postern::imapd
