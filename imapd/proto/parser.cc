#include "parser.h"

#include <algorithm>
#include <cstring>

namespace postern::imap {
namespace {

constexpr uint64_t kMaxNumber = 4294967295ULL;  // RFC 3501 "number"

bool isCtlOr8bit(unsigned char c) { return c < 0x20 || c >= 0x7f; }

// ASTRING-CHAR except "+" (RFC 3501 "tag"): ATOM-CHAR plus "]", minus "+".
bool isTagChar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (isCtlOr8bit(c) || c == ' ') return false;
  return std::strchr("(){%*\"\\+", c) == nullptr;
}

// Command names are plain atoms.
bool isNameChar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (isCtlOr8bit(c) || c == ' ') return false;
  return std::strchr("(){%*\"\\[]", c) == nullptr;
}

// Generic atoms are lenient like Dovecot's: list-wildcards ("*" "%"), "\"
// (flags) and "]" are allowed; typed helpers validate further.
bool isAtomChar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (isCtlOr8bit(c) || c == ' ') return false;
  return std::strchr("(){\"", c) == nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'a' && a[i] <= 'z') ? static_cast<char>(a[i] - 32) : a[i];
    const char y = (b[i] >= 'a' && b[i] <= 'z') ? static_cast<char>(b[i] - 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

// Does a discarded line end in "{n+}" (optionally followed by CR)? Then its
// n octets follow without a continuation request and must be skipped too.
std::optional<uint64_t> trailingNonSyncLiteral(std::string_view tail) {
  if (!tail.empty() && tail.back() == '\r') tail.remove_suffix(1);
  if (tail.size() < 4 || tail.back() != '}') return std::nullopt;
  tail.remove_suffix(1);
  if (tail.back() != '+') return std::nullopt;
  tail.remove_suffix(1);
  const size_t open = tail.rfind('{');
  if (open == std::string_view::npos || open + 1 == tail.size()) return std::nullopt;
  uint64_t n = 0;
  for (char c : tail.substr(open + 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = std::min<uint64_t>(n * 10 + static_cast<uint64_t>(c - '0'), kMaxNumber + 1);
  }
  return n;
}

constexpr size_t kSkipTailMax = 32;
constexpr uint64_t kLiteralReserveMax = 64 * 1024;

}  // namespace

Parser::Parser(ParserLimits limits) : limits_(limits) {}

void Parser::feed(const char* p, size_t n) { in_.append(p, n); }

bool Parser::idle() const { return state_ == State::kLineStart; }

size_t Parser::literalLimit() const {
  return cmd_.name == "APPEND" ? limits_.maxAppendLiteral : limits_.maxLiteral;
}

void Parser::compact() {
  if (pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ >= 4096 && pos_ * 2 >= in_.size()) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
}

void Parser::resetCommand() {
  cmd_ = Command{};
  tagValid_ = false;
  stack_.clear();
  cur_ = Arg{};
  bracketDepth_ = 0;
  bracketAtom_ = Arg{};
  litInBracket_ = false;
  lineLen_ = 0;
  total_ = 0;
}

void Parser::addArg(Arg arg) {
  if (stack_.empty()) {
    cmd_.args.push_back(std::move(arg));
  } else {
    stack_.back().list.push_back(std::move(arg));
  }
}

void Parser::finishAtom() {
  if (cur_.type == Arg::kAtom && iequals(cur_.value, "NIL")) cur_.type = Arg::kNil;
  addArg(std::move(cur_));
  cur_ = Arg{};
}

Parser::Step Parser::fail(ParseEvent& ev, ParseError::Kind kind, std::string reason,
                          bool fatal) {
  ev.kind = ParseEvent::kError;
  ev.error.kind = kind;
  ev.error.tag = tagValid_ ? cmd_.tag : "*";
  ev.error.reason = std::move(reason);
  ev.error.fatal = fatal;
  resetCommand();
  skipTail_.clear();
  state_ = State::kLineStart;
  return Step::kEvent;
}

Parser::Step Parser::failLine(ParseEvent& ev, ParseError::Kind kind, std::string reason,
                              char c) {
  // The rest of the line, starting with the offending octet c, is skipped.
  // If we were inside a literal header, keep what was seen of it so that a
  // line ending in "{n+}" still has its n octets skipped (RFC 7888).
  std::string seed;
  if (state_ == State::kLiteralDigits || state_ == State::kLiteralPlus ||
      state_ == State::kLiteralClose || state_ == State::kLiteralCloseCr) {
    seed = "{";
    if (litDigits_ > 0) seed += std::to_string(litSize_);
    if (!litSync_) seed += '+';
    if (state_ == State::kLiteralClose || state_ == State::kLiteralCloseCr) seed += '}';
    if (state_ == State::kLiteralCloseCr) seed += '\r';
  }
  fail(ev, kind, std::move(reason));
  skipTail_ = std::move(seed);
  state_ = State::kSkipLine;
  if (!skipByte(c)) ev.error.fatal = true;
  return Step::kEvent;
}

Parser::Step Parser::lineEnd(ParseEvent& ev) {
  if (!stack_.empty()) return fail(ev, ParseError::kSyntax, "Missing ')'");
  ev.kind = ParseEvent::kCommand;
  ev.command = std::move(cmd_);
  resetCommand();
  state_ = State::kLineStart;
  return Step::kEvent;
}

Parser::Step Parser::literalHeaderDone(ParseEvent& ev) {
  const uint64_t n = litSize_;
  if (n > kMaxNumber || n > literalLimit() || total_ + n > limits_.maxCommandSize) {
    const auto kind = (n <= literalLimit() && n <= kMaxNumber) ? ParseError::kCommandTooLarge
                                                                : ParseError::kLiteralTooLarge;
    const char* reason =
        kind == ParseError::kCommandTooLarge ? "Command too large" : "Literal too large";
    // A synchronising literal is simply never requested: the client waits
    // for "+", gets the tagged BAD instead and sends nothing more of it.
    if (litSync_) return fail(ev, kind, reason);
    // A non-synchronising one is already on its way; its size must be
    // trusted to stay in sync, so an unrepresentable size ends the session.
    if (n > kMaxNumber) return fail(ev, kind, reason, true);
    fail(ev, kind, reason);
    litRemaining_ = n;
    state_ = State::kSkipLiteral;
    return Step::kEvent;
  }
  total_ += static_cast<size_t>(n);
  cur_ = Arg{};
  cur_.type = Arg::kLiteral;
  cur_.literal8 = lit8_;
  litRemaining_ = n;
  lineLen_ = 0;
  state_ = State::kLiteralData;
  if (litSync_) {
    ev.kind = ParseEvent::kNeedContinuation;
    return Step::kEvent;
  }
  return Step::kContinue;
}

ParseEvent Parser::next() {
  ParseEvent ev;
  for (;;) {
    if (state_ == State::kLiteralData || state_ == State::kSkipLiteral) {
      if (litRemaining_ == 0) {
        if (state_ == State::kLiteralData && litInBracket_) {
          // Back into the section atom, the name as a quoted string (what
          // the FETCH section parser reads). A field name never holds CR,
          // LF or NUL, and no quoted string can carry them: refused here,
          // the rest of the line skipped.
          std::string name = std::move(cur_.value);
          if (name.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            litInBracket_ = false;
            bracketAtom_ = Arg{};
            cur_ = Arg{};
            fail(ev, ParseError::kSyntax, "Invalid characters in header field name");
            state_ = State::kSkipLine;
            compact();
            return ev;
          }
          cur_ = std::move(bracketAtom_);
          bracketAtom_ = Arg{};
          litInBracket_ = false;
          cur_.value.push_back('"');
          for (char ch : name) {
            if (ch == '"' || ch == '\\') cur_.value.push_back('\\');
            cur_.value.push_back(ch);
          }
          cur_.value.push_back('"');
          state_ = State::kAtomBracket;
        } else if (state_ == State::kLiteralData) {
          addArg(std::move(cur_));
          cur_ = Arg{};
          state_ = State::kAfterElement;
        } else {
          skipTail_.clear();
          state_ = State::kSkipLine;
        }
        continue;
      }
      if (pos_ == in_.size()) break;
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(litRemaining_, in_.size() - pos_));
      if (state_ == State::kLiteralData) {
        // Reserve for what is announced only up to a cap: a client that
        // announces {52428800+} and sends one octet must not cost 50 MB.
        // Beyond the cap the string grows with the octets that arrive.
        if (cur_.value.empty()) {
          cur_.value.reserve(static_cast<size_t>(std::min<uint64_t>(litSize_, kLiteralReserveMax)));
        }
        cur_.value.append(in_, pos_, n);
      }
      pos_ += n;
      litRemaining_ -= n;
      continue;
    }
    if (pos_ == in_.size()) break;
    const char c = in_[pos_++];
    const Step s = (state_ == State::kSkipLine) ? stepSkip(c, ev) : step(c, ev);
    if (s == Step::kEvent) {
      compact();
      return ev;
    }
  }
  compact();
  ev.kind = ParseEvent::kNeedMore;
  return ev;
}

bool Parser::skipByte(char c) {
  if (c != '\n') {
    if (skipTail_.size() == kSkipTailMax) skipTail_.erase(0, 1);
    skipTail_.push_back(c);
    return true;
  }
  const auto lit = trailingNonSyncLiteral(skipTail_);
  skipTail_.clear();
  state_ = State::kLineStart;
  if (!lit) return true;
  if (*lit > kMaxNumber) return false;
  litRemaining_ = *lit;
  state_ = State::kSkipLiteral;
  return true;
}

Parser::Step Parser::stepSkip(char c, ParseEvent& ev) {
  if (skipByte(c)) return Step::kContinue;
  return fail(ev, ParseError::kLiteralTooLarge, "Literal too large", true);
}

Parser::Step Parser::step(char c, ParseEvent& ev) {
  using K = ParseError::Kind;
  if (state_ == State::kLineStart) {
    if (c == '\r' || c == '\n') return Step::kContinue;  // stray blank lines are ignored
    resetCommand();
    lineLen_ = 1;
    total_ = 1;
    if (!isTagChar(c)) return failLine(ev, K::kBadTag, c == ' ' ? "Missing tag" : "Invalid tag", c);
    cmd_.tag.push_back(c);
    state_ = State::kTag;
    return Step::kContinue;
  }
  if (++lineLen_ > limits_.maxLineLength) return failLine(ev, K::kLineTooLong, "Line too long", c);
  if (++total_ > limits_.maxCommandSize) {
    return failLine(ev, K::kCommandTooLarge, "Command too large", c);
  }

  auto startToken = [&]() -> bool {
    total_ += sizeof(Arg);
    return total_ <= limits_.maxCommandSize;
  };
  auto closeList = [&]() -> Step {
    if (stack_.empty()) return failLine(ev, K::kSyntax, "Unexpected ')'", c);
    Arg list = std::move(stack_.back());
    stack_.pop_back();
    addArg(std::move(list));
    state_ = State::kAfterElement;
    return Step::kContinue;
  };
  auto beginLiteral = [&](bool lit8) {
    lit8_ = lit8;
    litSize_ = 0;
    litDigits_ = 0;
    litSync_ = true;
    state_ = State::kLiteralDigits;
  };

  switch (state_) {
    case State::kTag:
      if (c == ' ') {
        tagValid_ = true;
        state_ = State::kName;
      } else if (c == '\r' || c == '\n') {
        tagValid_ = true;
        return failLine(ev, K::kSyntax, "Missing command", c);
      } else if (!isTagChar(c)) {
        return failLine(ev, K::kBadTag, "Invalid tag", c);
      } else {
        cmd_.tag.push_back(c);
      }
      return Step::kContinue;

    case State::kName:
      if (c == ' ' || c == '\r' || c == '\n') {
        if (cmd_.name.empty()) return failLine(ev, K::kSyntax, "Missing command", c);
        if (c == ' ') state_ = State::kArgStart;
        if (c == '\r') state_ = State::kLineCr;
        if (c == '\n') return lineEnd(ev);
        return Step::kContinue;
      }
      if (!isNameChar(c)) return failLine(ev, K::kSyntax, "Invalid command name", c);
      cmd_.name.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
      return Step::kContinue;

    case State::kArgStart:
      switch (c) {
        case ' ':
          return Step::kContinue;
        case '(':
          if (stack_.size() >= limits_.maxListDepth) {
            return failLine(ev, K::kSyntax, "Too deep list nesting", c);
          }
          if (!startToken()) return failLine(ev, K::kCommandTooLarge, "Command too large", c);
          stack_.emplace_back();
          stack_.back().type = Arg::kList;
          return Step::kContinue;
        case ')':
          return closeList();
        case '"':
          if (!startToken()) return failLine(ev, K::kCommandTooLarge, "Command too large", c);
          cur_ = Arg{};
          cur_.type = Arg::kQuoted;
          state_ = State::kQuoted;
          return Step::kContinue;
        case '{':
          if (!startToken()) return failLine(ev, K::kCommandTooLarge, "Command too large", c);
          beginLiteral(false);
          return Step::kContinue;
        case '~':
          if (!startToken()) return failLine(ev, K::kCommandTooLarge, "Command too large", c);
          state_ = State::kTilde;
          return Step::kContinue;
        case '\r':
          state_ = State::kLineCr;
          return Step::kContinue;
        case '\n':
          return lineEnd(ev);
        default:
          if (!isAtomChar(c)) return failLine(ev, K::kSyntax, "Invalid characters in atom", c);
          if (!startToken()) return failLine(ev, K::kCommandTooLarge, "Command too large", c);
          cur_ = Arg{};
          cur_.value.push_back(c);
          if (c == '[') {
            bracketDepth_ = 1;
            state_ = State::kAtomBracket;
          } else {
            state_ = State::kAtom;
          }
          return Step::kContinue;
      }

    case State::kAfterElement:
      if (c == ' ') {
        state_ = State::kArgStart;
        return Step::kContinue;
      }
      if (c == ')') return closeList();
      if (c == '\r') {
        state_ = State::kLineCr;
        return Step::kContinue;
      }
      if (c == '\n') return lineEnd(ev);
      return failLine(ev, K::kSyntax, "Missing space between arguments", c);

    case State::kAtom:
      if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
        finishAtom();
        if (c == ' ') state_ = State::kArgStart;
        if (c == ')') return closeList();
        if (c == '\r') state_ = State::kLineCr;
        if (c == '\n') return lineEnd(ev);
        return Step::kContinue;
      }
      if (!isAtomChar(c)) return failLine(ev, K::kSyntax, "Invalid characters in atom", c);
      cur_.value.push_back(c);
      if (c == '[') {
        bracketDepth_ = 1;
        state_ = State::kAtomBracket;
      }
      return Step::kContinue;

    case State::kAtomBracket:
      // BODY[HEADER.FIELDS (FROM TO)]: spaces and parentheses belong to the
      // atom until the matching "]"; quoted names are kept verbatim.
      if (c == '\r' || c == '\n') return failLine(ev, K::kSyntax, "Missing ']'", c);
      if (c != ' ' && isCtlOr8bit(static_cast<unsigned char>(c))) {
        return failLine(ev, K::kSyntax, "Invalid characters in section", c);
      }
      if (c == '{' && !cur_.value.empty() && (cur_.value.back() == ' ' || cur_.value.back() == '(')) {
        // A header field name sent as a literal.
        bracketAtom_ = std::move(cur_);
        cur_ = Arg{};
        litInBracket_ = true;
        beginLiteral(false);
        return Step::kContinue;
      }
      cur_.value.push_back(c);
      if (c == '[') ++bracketDepth_;
      if (c == '"') state_ = State::kAtomBracketQuoted;
      if (c == ']' && --bracketDepth_ == 0) state_ = State::kAtom;
      return Step::kContinue;

    case State::kAtomBracketQuoted:
      if (c == '\r' || c == '\n' || c == '\0') {
        return failLine(ev, K::kSyntax, "Missing '\"'", c);
      }
      cur_.value.push_back(c);
      if (c == '\\') state_ = State::kAtomBracketQuotedEsc;
      if (c == '"') state_ = State::kAtomBracket;
      return Step::kContinue;

    case State::kAtomBracketQuotedEsc:
      if (c != '"' && c != '\\') return failLine(ev, K::kSyntax, "Invalid escape", c);
      cur_.value.push_back(c);
      state_ = State::kAtomBracketQuoted;
      return Step::kContinue;

    case State::kQuoted:
      if (c == '"') {
        addArg(std::move(cur_));
        cur_ = Arg{};
        state_ = State::kAfterElement;
      } else if (c == '\\') {
        state_ = State::kQuotedEsc;
      } else if (c == '\r' || c == '\n') {
        return failLine(ev, K::kSyntax, "Missing '\"'", c);
      } else if (c == '\0') {
        return failLine(ev, K::kSyntax, "NUL in quoted string", c);
      } else {
        cur_.value.push_back(c);  // 8-bit is accepted (UTF8=ACCEPT, broken clients)
      }
      return Step::kContinue;

    case State::kQuotedEsc:
      if (c != '"' && c != '\\') return failLine(ev, K::kSyntax, "Invalid escape", c);
      cur_.value.push_back(c);
      state_ = State::kQuoted;
      return Step::kContinue;

    case State::kTilde:
      if (c == '{') {
        beginLiteral(true);
        return Step::kContinue;
      }
      // Just an atom starting with "~" (e.g. "~peter/mail"): re-read c as part of it.
      --pos_;
      --lineLen_;
      --total_;
      cur_ = Arg{};
      cur_.value.push_back('~');
      state_ = State::kAtom;
      return Step::kContinue;

    case State::kLiteralDigits:
      if (c >= '0' && c <= '9') {
        ++litDigits_;
        litSize_ = std::min<uint64_t>(litSize_ * 10 + static_cast<uint64_t>(c - '0'),
                                      kMaxNumber + 1);
        return Step::kContinue;
      }
      if (litDigits_ > 0 && c == '+') {
        litSync_ = false;
        state_ = State::kLiteralPlus;
        return Step::kContinue;
      }
      if (litDigits_ > 0 && c == '}') {
        state_ = State::kLiteralClose;
        return Step::kContinue;
      }
      return failLine(ev, K::kSyntax, "Invalid literal", c);

    case State::kLiteralPlus:
      if (c != '}') return failLine(ev, K::kSyntax, "Invalid literal", c);
      state_ = State::kLiteralClose;
      return Step::kContinue;

    case State::kLiteralClose:
      if (c == '\r') {
        state_ = State::kLiteralCloseCr;
        return Step::kContinue;
      }
      if (c == '\n') return literalHeaderDone(ev);
      return failLine(ev, K::kSyntax, "Missing CRLF after literal", c);

    case State::kLiteralCloseCr:
      if (c == '\n') return literalHeaderDone(ev);
      return failLine(ev, K::kSyntax, "Missing CRLF after literal", c);

    case State::kLineCr:
      if (c == '\n') return lineEnd(ev);
      return failLine(ev, K::kSyntax, "CR without LF", c);

    case State::kLineStart:
    case State::kLiteralData:
    case State::kSkipLine:
    case State::kSkipLiteral:
      break;  // handled by the caller
  }
  return Step::kContinue;
}

std::optional<std::string> Parser::nextLine() {
  if (state_ != State::kLineStart) return std::nullopt;
  while (pos_ < in_.size()) {
    const char* start = in_.data() + pos_;
    const size_t avail = in_.size() - pos_;
    const void* lf = std::memchr(start, '\n', avail);
    const size_t n = lf ? static_cast<size_t>(static_cast<const char*>(lf) - start) : avail;
    // Keep one extra octet so a CR right at the limit does not count as overflow.
    const size_t room = limits_.maxRawLine + 1 - std::min(rawLine_.size(), limits_.maxRawLine + 1);
    rawLine_.append(start, std::min(n, room));
    if (n > room) rawOverflow_ = true;
    pos_ += n;
    if (!lf) break;
    ++pos_;  // the LF
    std::string line = std::move(rawLine_);
    rawLine_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > limits_.maxRawLine) {
      line.resize(limits_.maxRawLine);
      rawOverflow_ = true;
    }
    rawTruncated_ = rawOverflow_;
    rawOverflow_ = false;
    compact();
    return line;
  }
  compact();
  return std::nullopt;
}

}  // namespace postern::imap
