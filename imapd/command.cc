#include "command.h"


#include "error_map.h"
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
    {"APPEND", kAuthOnly, cmdAppend},
    {"AUTHENTICATE", kNotAuthOnly, cmdAuthenticate},
    {"CAPABILITY", kAnyState, cmdCapability},
    {"CHECK", kSelectedOnly, cmdCheck},
    {"CLOSE", kSelectedOnly, cmdClose},
    {"COPY", kSelectedOnly | kUidVariant, cmdCopy},
    {"CREATE", kAuthOnly, cmdCreate},
    {"DELETE", kAuthOnly, cmdDelete},
    {"EXAMINE", kAuthOnly, cmdSelect},
    {"EXPUNGE", kSelectedOnly | kUidVariant, cmdExpunge},
    {"FETCH", kSelectedOnly | kNoExpunge | kUidVariant, cmdFetch},
    {"ID", kAnyState, cmdId},
    {"IDLE", kAuthOnly, cmdIdle},
    {"LIST", kAuthOnly, cmdList},
    {"LOGIN", kNotAuthOnly, cmdLogin},
    {"LOGOUT", kAnyState, cmdLogout},
    {"LSUB", kAuthOnly, cmdList},
    {"MOVE", kSelectedOnly | kUidVariant, cmdCopy},
    {"NAMESPACE", kAuthOnly, cmdNamespace},
    {"NOOP", kAnyState, cmdNoop},
    {"RENAME", kAuthOnly, cmdRename},
    {"SEARCH", kSelectedOnly | kNoExpunge | kUidVariant, cmdSearch},
    {"SELECT", kAuthOnly, cmdSelect},
    {"STARTTLS", kNotAuthOnly, cmdStarttls},
    {"STATUS", kAuthOnly, cmdStatus},
    {"STORE", kSelectedOnly | kNoExpunge | kUidVariant, cmdStore},
    {"SUBSCRIBE", kAuthOnly, cmdSubscribe},
    {"UNSELECT", kSelectedOnly, cmdClose},
    {"UNSUBSCRIBE", kAuthOnly, cmdSubscribe},
    {"XNOOP", kAnyState, cmdNoop},
};

}  // namespace

const CommandDef* findCommand(std::string_view name) {
  for (const auto& c : kCommands)
    if (c.name == name && c.run) return &c;
  return nullptr;
}

std::string capabilities(const Session& s) {
  std::string caps = "IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UIDPLUS UNSELECT CHILDREN MOVE";
  if (s.state() == State::kNotAuthenticated) {
    if (s.starttlsOffered()) caps += " STARTTLS";
    // RFC 3501 6.2.3 / 7.2.1: LOGINDISABLED while plaintext login is
    // refused; AUTH=PLAIN is not offered then either (RFC 2595 section 6).
    caps += s.plaintextAllowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
  }
  return caps;
}

CommandContext::CommandContext(std::shared_ptr<Session> s, imap::Command cmd, const CommandDef* def, bool uid)
    : session_(std::move(s)), cmd_(std::move(cmd)), def_(def), uid_(uid) {}

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
  session_->write(out);
}

void CommandContext::finish(std::string_view status, std::string_view text) {
  if (finished_) return;
  finished_ = true;
  bool allow_expunge = !(def_->flags & kNoExpunge) || uid_;
  session_->flushUpdates(allow_expunge, uid_);
  std::string line = cmd_.tag;
  line += ' ';
  line.append(status);
  line += ' ';
  line.append(text);
  line += "\r\n";
  session_->write(line);
  session_->commandDone();
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
