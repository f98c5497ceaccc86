#pragma once
// The command table and the context every command handler gets. One file
// per command under imapd/cmd/, all with the signature
//   void run(CommandContext& ctx)
// A handler validates its typed arguments, calls the store, and finishes
// exactly once with ok()/no()/bad() (possibly from a store callback).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "parser.h"
#include "session.h"

namespace postern::imapd {

// Behaviour flags, applied by the session before calling the handler.
// The last three decide pipelining (RFC 3501 section 5.5): a command may
// start while earlier ones still run only when no ambiguity can result:
// neither is kExclusive, and none of them breaks the sequence numbers the
// other uses (mayRunBeside()).
enum CommandFlag : uint32_t {
  kAnyState = 0,
  kNotAuthOnly = 1u << 0,   // only before login
  kAuthOnly = 1u << 1,      // authenticated or selected
  kSelectedOnly = 1u << 2,  // selected state
  kNoExpunge = 1u << 3,     // EXPUNGE responses must not be sent around it (FETCH, STORE, SEARCH)
  kUidVariant = 1u << 4,    // may follow "UID"
  kUsesSeqs = 1u << 5,      // takes or returns sequence numbers (not in its UID form)
  kBreaksSeqs = 1u << 6,    // expunges: renumbers the mailbox
  // Changes state another command could observe (session state, mailbox
  // names, messages, flags) or needs the input stream to itself (IDLE,
  // AUTHENTICATE, STARTTLS): runs alone, in order.
  kExclusive = 1u << 7,
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

// How a parsed command behaves for pipelining: its table flags, refined by
// its arguments (a FETCH that sets \Seen writes; the UID form of a command
// uses no sequence numbers).
uint32_t effectiveFlags(const CommandDef& def, const imap::Command& cmd, bool uid);
// True when a command with flags `later` may start while one with flags
// `running` has not finished (RFC 3501 section 5.5).
bool mayRunBeside(uint32_t running, uint32_t later);
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

  // Untagged output ("* " is added). While earlier pipelined commands are
  // still running, output is held here and sent, in order, once they have
  // finished; pendingOutput() and onDrain() give handlers that stream
  // (FETCH) back-pressure in both cases, so held output stays bounded.
  void untagged(std::string_view line);
  void write(std::string_view raw);
  size_t pendingOutput() const;
  void onDrain(std::function<void()> cb);

  // Completion. Each sends the tagged line and releases the session.
  void ok(std::string_view text);
  void no(std::string_view code_and_text);
  void bad(std::string_view text);
  // NO with the response code mapped from `e` (error_map.cc).
  void fail(const Error& e, std::string_view what);
  bool finished() const { return finished_; }

  // Session side of pipelining.
  uint32_t flags() const { return flags_; }
  // This command's output now goes straight to the session: the held output
  // is written and a waiting onDrain callback handed over.
  void becomeHead();
  bool isHead() const { return head_; }
  // The tagged line, once finished.
  const std::string& taggedLine() const { return tagged_; }
  // May the untagged updates sent at completion include EXPUNGE?
  bool allowsExpunge() const { return !(def_->flags & kNoExpunge) || uid_; }

 private:
  void finish(std::string_view status, std::string_view text);

  std::shared_ptr<Session> session_;
  imap::Command cmd_;
  const CommandDef* def_;
  bool uid_;
  uint32_t flags_;
  bool finished_ = false;
  bool head_ = false;
  std::string held_;
  std::function<void()> held_drain_;
  std::string tagged_;
};

}  // namespace postern::imapd
