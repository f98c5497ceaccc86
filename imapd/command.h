#pragma once
// The command table and the context every command handler gets. One file
// per command under imapd/cmd/, all with the signature
//   void run(CommandContext& ctx)
// A handler validates its typed arguments, calls the store, and finishes
// exactly once with ok()/no()/bad() (possibly from a store callback).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "parser.h"
#include "session.h"

namespace postern::imapd {

// Behaviour flags, applied by the session before calling the handler.
enum CommandFlag : uint32_t {
  kAnyState = 0,
  kNotAuthOnly = 1u << 0,   // only before login
  kAuthOnly = 1u << 1,      // authenticated or selected
  kSelectedOnly = 1u << 2,  // selected state
  kNoExpunge = 1u << 3,     // EXPUNGE responses must not be sent around it (FETCH, STORE, SEARCH)
  kUidVariant = 1u << 4,    // may follow "UID"
};

class CommandContext;
using Handler = void (*)(CommandContext&);

struct CommandDef {
  std::string_view name;
  uint32_t flags;
  Handler run;
};

// nullptr if unknown.
const CommandDef* findCommand(std::string_view upper_name);
std::string capabilities(const Session& s);

class CommandContext : public std::enable_shared_from_this<CommandContext> {
 public:
  CommandContext(std::shared_ptr<Session> s, imap::Command cmd, const CommandDef* def, bool uid);

  Session& session() { return *session_; }
  StoreClient& store() { return session_->store(); }
  const std::string& tag() const { return cmd_.tag; }
  const std::string& name() const { return cmd_.name; }
  const std::vector<imap::Arg>& args() const { return cmd_.args; }
  bool uid() const { return uid_; }
  const CommandDef& def() const { return *def_; }
  std::shared_ptr<CommandContext> self() { return shared_from_this(); }

  // Argument helpers: true when args() has exactly n entries.
  bool argCount(size_t n) const { return cmd_.args.size() == n; }
  // The i-th argument as an astring (atom, quoted, literal); nullopt if not one.
  std::optional<std::string> astring(size_t i) const;
  // Mailbox name argument: astring, INBOX case-normalised.
  std::optional<std::string> mailbox(size_t i) const;

  // Untagged output ("* " is added).
  void untagged(std::string_view line);
  void write(std::string_view raw) { session_->write(raw); }

  // Completion. Each sends the tagged line and releases the session.
  void ok(std::string_view text);
  void no(std::string_view code_and_text);
  void bad(std::string_view text);
  // NO with the response code mapped from `e` (error_map.cc).
  void fail(const Error& e, std::string_view what);
  bool finished() const { return finished_; }

 private:
  void finish(std::string_view status, std::string_view text);

  std::shared_ptr<Session> session_;
  imap::Command cmd_;
  const CommandDef* def_;
  bool uid_;
  bool finished_ = false;
};

}  // namespace postern::imapd
