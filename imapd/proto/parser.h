#pragma once
// Incremental IMAP command tokeniser (Dovecot style): turns client bytes into
// one Command at a time - tag, upper-cased command name and a generic
// argument tree. It knows nothing about individual commands except that
// APPEND may carry big literals; typed interpretation of the arguments is in
// types.h / fetch.h.
//
// Memory is bounded: bytes outside literals are limited per line, literals
// per command name, and the whole command (lines + literals + argument
// nodes) by ParserLimits::maxCommandSize. Whatever exceeds a limit is
// discarded, never stored, and the parser resynchronises on the next command
// (skipping the octets of any non-synchronising literal it must skip), so
// the client and server never disagree about where a command starts.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::imap {

// One node of the generic argument tree.
struct Arg {
  enum Type { kAtom, kQuoted, kLiteral, kList, kNil };
  Type type = kAtom;
  // kAtom: the atom as sent (case preserved; may contain "[...]" sections).
  // kQuoted: the unescaped contents. kLiteral: the literal octets.
  // kNil: "NIL" as sent (so astring consumers can still read it as a name).
  std::string value;
  std::vector<Arg> list;  // kList only
  bool literal8 = false;  // kLiteral sent as ~{n} (RFC 3516)

  bool isList() const { return type == kList; }
  bool isString() const { return type == kQuoted || type == kLiteral; }
};

struct Command {
  std::string tag;
  std::string name;  // upper-cased ASCII, e.g. "UID", "FETCH"
  std::vector<Arg> args;
};

struct ParserLimits {
  size_t maxLineLength = 65536;                // octets of one line, outside literals
  size_t maxLiteral = 64 * 1024;               // any literal of a non-APPEND command
  size_t maxAppendLiteral = 50 * 1024 * 1024;  // one literal of APPEND
  size_t maxCommandSize = 51 * 1024 * 1024;    // lines + literals + ~sizeof(Arg) per node
  size_t maxListDepth = 32;
  size_t maxRawLine = 65536;                   // nextLine()
};

struct ParseError {
  enum Kind {
    kSyntax,           // malformed command: tagged BAD
    kBadTag,           // missing/invalid tag: "* BAD"
    kLineTooLong,      // BAD; rest of the line was/will be discarded
    kLiteralTooLarge,  // BAD (a "[TOOBIG]" code fits); literal refused or skipped
    kCommandTooLarge,  // BAD; the command's remainder is discarded
  };
  Kind kind = kSyntax;
  std::string tag;     // "*" when the tag is unknown or invalid
  std::string reason;  // short human text for "<tag> BAD <reason>"
  bool fatal = false;  // the stream cannot be resynchronised: send BYE and close
};

struct ParseEvent {
  enum Kind {
    kNeedMore,          // feed more bytes
    kNeedContinuation,  // synchronising literal accepted: send "+ Ready" and keep feeding
    kCommand,           // `command` holds a complete command
    kError,             // `error` holds the reason; call next() again afterwards
  };
  Kind kind = kNeedMore;
  Command command;
  ParseError error;
};

class Parser {
 public:
  explicit Parser(ParserLimits limits = {});

  // Appends client bytes to the internal buffer (copied). The caller should
  // call next() until kNeedMore before feeding again, so the buffer never
  // holds more than one read's worth of unconsumed input.
  void feed(const char* p, size_t n);
  void feed(std::string_view s) { feed(s.data(), s.size()); }

  // Consumes buffered bytes and returns the next event. Never blocks. After
  // kError the parser is already resynchronising: keep calling next().
  ParseEvent next();

  // Raw line mode, for AUTHENTICATE responses and IDLE's "DONE": returns one
  // LF- or CRLF-terminated line without its terminator, or nullopt when no
  // complete line is buffered yet. Only valid between commands (after a
  // kCommand event, before the next next()). A line longer than
  // limits.maxRawLine is truncated (the excess is discarded, not stored) and
  // lastLineTruncated() reports it.
  std::optional<std::string> nextLine();
  bool lastLineTruncated() const { return rawTruncated_; }

  // Bytes fed but not yet consumed.
  size_t buffered() const { return in_.size() - pos_; }
  // True when no command is partially parsed (nothing pending but buffered input).
  bool idle() const;

  const ParserLimits& limits() const { return limits_; }
  // New limits from the next command on (the session widens them at login).
  void setLimits(const ParserLimits& l) { limits_ = l; }

 private:
  enum class State {
    kLineStart, kTag, kName, kArgStart, kAfterElement, kAtom, kAtomBracket,
    kAtomBracketQuoted, kAtomBracketQuotedEsc, kQuoted, kQuotedEsc, kTilde,
    kLiteralDigits, kLiteralPlus, kLiteralClose, kLiteralCloseCr, kLiteralData,
    kLineCr, kSkipLine, kSkipLiteral,
  };
  enum class Step { kContinue, kEvent };

  Step step(char c, ParseEvent& ev);
  Step stepSkip(char c, ParseEvent& ev);
  Step lineEnd(ParseEvent& ev);
  Step literalHeaderDone(ParseEvent& ev);
  // Reports an error and drops the command; the caller sets the next state.
  Step fail(ParseEvent& ev, ParseError::Kind kind, std::string reason, bool fatal = false);
  // Reports an error at octet c of a line and skips the rest of that line.
  Step failLine(ParseEvent& ev, ParseError::Kind kind, std::string reason, char c);
  // One octet of a line being discarded; false if it ends in an unskippable literal.
  bool skipByte(char c);
  void addArg(Arg arg);
  void finishAtom();
  void resetCommand();
  size_t literalLimit() const;
  void compact();

  ParserLimits limits_;
  std::string in_;
  size_t pos_ = 0;

  State state_ = State::kLineStart;
  Command cmd_;
  bool tagValid_ = false;
  std::vector<Arg> stack_;  // open lists, innermost last
  Arg cur_;                 // token being built
  size_t bracketDepth_ = 0;
  // A literal inside "BODY[HEADER.FIELDS (...)]" (header-fld-name is an
  // astring): the section atom waits here while the literal is read, then
  // gets the name as a quoted string.
  Arg bracketAtom_;
  bool litInBracket_ = false;
  size_t lineLen_ = 0;
  size_t total_ = 0;
  uint64_t litSize_ = 0;
  size_t litDigits_ = 0;
  bool litSync_ = true;
  bool lit8_ = false;
  uint64_t litRemaining_ = 0;
  std::string skipTail_;  // last octets of a discarded line, to spot "{n+}"

  std::string rawLine_;
  bool rawTruncated_ = false;
  bool rawOverflow_ = false;
};

}  // namespace postern::imap
