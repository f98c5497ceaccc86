#include "lmtpd/proto/command.h"

#include <array>
#include <cctype>

namespace postern::lmtpd {
namespace {

struct VerbInfo {
  std::string_view name;
  Verb verb;
};
constexpr std::array<VerbInfo, 12> kVerbs{{
    {"LHLO", Verb::kLhlo},
    {"HELO", Verb::kHelo},
    {"EHLO", Verb::kEhlo},
    {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt},
    {"DATA", Verb::kData},
    {"RSET", Verb::kRset},
    {"NOOP", Verb::kNoop},
    {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy},
    {"HELP", Verb::kHelp},
    {"STARTTLS", Verb::kStarttls},  // RFC 3207
}};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && upper(s.substr(0, prefix.size())) == prefix;
}

bool parseSize(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

bool parsePathAndParams(std::string_view s, std::string* address, std::vector<Param>* params) {
  s = trim(s);
  std::string_view rest;
  if (!s.empty() && s.front() == '<') {
    // Find the closing '>' outside quoted strings.
    size_t i = 1;
    bool quoted = false;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (c == '\\' && quoted) {
        ++i;
        continue;
      }
      if (c == '"') quoted = !quoted;
      if (c == '>' && !quoted) break;
    }
    if (i >= s.size()) return false;
    std::string_view path = s.substr(1, i - 1);
    // A source route "@a,@b:user@d" is ignored (RFC 5321 section 4.1.2).
    if (!path.empty() && path.front() == '@') {
      size_t colon = path.find(':');
      if (colon == std::string_view::npos) return false;
      path.remove_prefix(colon + 1);
    }
    *address = std::string(path);
    rest = s.substr(i + 1);
    if (!rest.empty() && rest.front() != ' ') return false;
  } else {
    size_t sp = s.find(' ');
    *address = std::string(s.substr(0, sp));
    if (address->empty()) return false;
    rest = sp == std::string_view::npos ? std::string_view{} : s.substr(sp);
  }
  for (char c : *address) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  params->clear();
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t start = i;
    while (i < rest.size() && rest[i] != ' ') ++i;
    if (i == start) break;
    std::string_view p = rest.substr(start, i - start);
    size_t eq = p.find('=');
    Param param{upper(p.substr(0, eq)), eq == std::string_view::npos ? "" : std::string(p.substr(eq + 1))};
    if (param.key.empty()) return false;
    for (char c : param.key) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    params->push_back(std::move(param));
  }
  return true;
}

Command parseCommand(std::string_view line) {
  Command cmd;
  size_t sp = line.find(' ');
  std::string kw = upper(line.substr(0, sp));
  std::string_view rest = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
  for (const auto& v : kVerbs) {
    if (v.name == kw) cmd.verb = v.verb;
  }
  switch (cmd.verb) {
    case Verb::kUnknown:
      cmd.error = "500 5.5.2 Unknown command";
      break;
    case Verb::kHelo:
    case Verb::kEhlo:
      cmd.error = "500 5.5.1 This is LMTP: use LHLO";
      break;
    case Verb::kLhlo:
      cmd.arg = std::string(trim(rest));
      if (cmd.arg.empty()) cmd.error = "501 5.5.4 Syntax: LHLO hostname";
      break;
    case Verb::kMail:
    case Verb::kRcpt: {
      std::string_view prefix = cmd.verb == Verb::kMail ? "FROM:" : "TO:";
      std::string_view syntax = cmd.verb == Verb::kMail ? "501 5.5.4 Syntax: MAIL FROM:<address>"
                                                        : "501 5.5.4 Syntax: RCPT TO:<address>";
      rest = trim(rest);
      if (!startsWithNoCase(rest, prefix) ||
          !parsePathAndParams(rest.substr(prefix.size()), &cmd.address, &cmd.params)) {
        cmd.error = std::string(syntax);
        break;
      }
      if (cmd.verb == Verb::kRcpt && cmd.address.empty()) {
        cmd.error = "501 5.1.3 Bad recipient address syntax";
        break;
      }
      for (const auto& p : cmd.params) {
        if (cmd.verb == Verb::kMail && p.key == "SIZE") {
          if (!parseSize(p.value, &cmd.size)) {
            cmd.error = "501 5.5.4 Bad SIZE parameter";
            break;
          }
          cmd.has_size = true;
        }
      }
      break;
    }
    case Verb::kData:
    case Verb::kRset:
    case Verb::kQuit:
    case Verb::kStarttls:
      if (!trim(rest).empty()) cmd.error = "501 5.5.4 No arguments allowed";
      break;
    case Verb::kNoop:
    case Verb::kVrfy:
    case Verb::kHelp:
      cmd.arg = std::string(trim(rest));
      break;
  }
  return cmd;
}

}  // namespace postern::lmtpd
