#include "pop3d/proto/command.h"

#include <array>
#include <utility>
#include <vector>

namespace postern::pop3d {
namespace {

struct VerbInfo {
  std::string_view name;
  Verb verb;
};
constexpr std::array<VerbInfo, 14> kVerbs{{
    {"USER", Verb::kUser},
    {"PASS", Verb::kPass},
    {"QUIT", Verb::kQuit},
    {"STAT", Verb::kStat},
    {"LIST", Verb::kList},
    {"RETR", Verb::kRetr},
    {"DELE", Verb::kDele},
    {"NOOP", Verb::kNoop},
    {"RSET", Verb::kRset},
    {"TOP", Verb::kTop},
    {"UIDL", Verb::kUidl},
    {"CAPA", Verb::kCapa},
    {"AUTH", Verb::kAuth},
    {"STLS", Verb::kStls},
}};

std::vector<std::string_view> splitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// A decimal number without sign, at most 10 digits, fitting uint32_t.
bool parseNumber(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool parseMsg(std::string_view s, Command* cmd) {
  uint32_t n = 0;
  if (!parseNumber(s, &n) || n == 0) {
    cmd->error = "Invalid message number";
    return false;
  }
  cmd->msg = n;
  cmd->has_msg = true;
  return true;
}

}  // namespace

Command parseCommand(std::string_view line) {
  Command cmd;
  size_t sp = line.find(' ');
  std::string_view kw = line.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
  for (char c : kw) cmd.keyword += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  if (cmd.keyword.empty()) {
    cmd.error = "Empty command";
    return cmd;
  }
  for (const auto& v : kVerbs) {
    if (v.name == cmd.keyword) cmd.verb = v.verb;
  }
  if (cmd.verb == Verb::kUnknown) {
    cmd.error = "Unknown command";
    return cmd;
  }
  // PASS takes the rest of the line verbatim: passwords may contain spaces
  // (RFC 1939 section 7).
  if (cmd.verb == Verb::kPass) {
    if (rest.empty()) cmd.error = "Missing password";
    cmd.arg = std::string(rest);
    return cmd;
  }
  std::vector<std::string_view> args = splitSpaces(rest);
  auto expect = [&](size_t min, size_t max) {
    if (args.size() < min) {
      cmd.error = "Missing argument";
      return false;
    }
    if (args.size() > max) {
      cmd.error = "Too many arguments";
      return false;
    }
    return true;
  };
  switch (cmd.verb) {
    case Verb::kUser:
      if (expect(1, 1)) cmd.arg = std::string(args[0]);
      break;
    case Verb::kQuit:
    case Verb::kStat:
    case Verb::kNoop:
    case Verb::kRset:
    case Verb::kCapa:
    case Verb::kStls:
      expect(0, 0);
      break;
    case Verb::kList:
    case Verb::kUidl:
      if (expect(0, 1) && !args.empty()) parseMsg(args[0], &cmd);
      break;
    case Verb::kRetr:
    case Verb::kDele:
      if (expect(1, 1)) parseMsg(args[0], &cmd);
      break;
    case Verb::kTop:
      if (expect(2, 2) && parseMsg(args[0], &cmd) && !parseNumber(args[1], &cmd.lines)) {
        cmd.error = "Invalid line count";
      }
      break;
    case Verb::kAuth:
      if (expect(0, 2) && !args.empty()) {
        for (char c : args[0]) cmd.arg += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
        if (args.size() == 2) {
          cmd.has_initial = true;
          cmd.initial = std::string(args[1]);
        }
      }
      break;
    default:
      break;
  }
  return cmd;
}

}  // namespace postern::pop3d
