#include "mime/address.h"

#include "mime/header.h"
#include "mime/lex.h"

namespace postern::mime {

namespace {

constexpr size_t kMaxAddresses = 10000;
constexpr size_t kMaxAddressHeader = size_t{1} << 20;

bool isPhraseChar(char c) { return lex::isAtext(c) || c == '.'; }

// phrase = 1*word (obs-phrase: dots allowed); words joined by one space.
std::string readPhrase(std::string_view s, size_t& i) {
  std::string out;
  for (;;) {
    lex::skipCfws(s, i);
    if (i >= s.size()) break;
    std::string word;
    if (s[i] == '"') {
      word = lex::readQuoted(s, i);
    } else if (isPhraseChar(s[i])) {
      word = std::string(lex::readWhile(s, i, isPhraseChar));
    } else {
      break;
    }
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

// local-part = dot-atom / quoted-string / obs-local-part, CFWS tolerated.
std::optional<std::string> readLocal(std::string_view s, size_t& i, std::string* comment) {
  std::string out;
  bool any = false;
  for (;;) {
    lex::skipCfws(s, i, comment);
    if (i >= s.size()) break;
    if (s[i] == '"') {
      out += lex::readQuoted(s, i);
      any = true;
    } else if (lex::isAtext(s[i])) {
      out += lex::readWhile(s, i, lex::isAtext);
      any = true;
    } else {
      break;
    }
    lex::skipCfws(s, i, comment);
    if (i < s.size() && s[i] == '.') {
      out += '.';
      ++i;
      continue;
    }
    break;
  }
  if (!any) return std::nullopt;
  return out;
}

// domain = dot-atom / domain-literal (kept with its brackets).
std::optional<std::string> readDomain(std::string_view s, size_t& i, std::string* comment) {
  lex::skipCfws(s, i, comment);
  if (i < s.size() && s[i] == '[') {
    size_t b = i;
    while (i < s.size() && s[i] != ']') ++i;
    if (i < s.size()) ++i;
    std::string lit = unfold(s.substr(b, i - b));
    lex::skipCfws(s, i, comment);
    return lit;
  }
  std::string out;
  for (;;) {
    std::string_view atom = lex::readWhile(s, i, lex::isAtext);
    if (atom.empty()) break;
    out += atom;
    lex::skipCfws(s, i, comment);
    if (i < s.size() && s[i] == '.') {
      out += '.';
      ++i;
      lex::skipCfws(s, i, comment);
      continue;
    }
    break;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

void fillMissing(Address& a) {
  if (!a.mailbox) a.mailbox = "MISSING_MAILBOX";
  if (!a.host) a.host = "MISSING_DOMAIN";
}

// After '<': [route ":"] local-part ["@" domain] ">".
void parseAngle(std::string_view s, size_t& i, Address& a) {
  lex::skipCfws(s, i);
  if (i < s.size() && s[i] == '@') {
    std::string route;
    while (i < s.size() && s[i] == '@') {
      ++i;
      std::optional<std::string> d = readDomain(s, i, nullptr);
      if (!route.empty()) route += ',';
      route += '@';
      if (d) route += *d;
      while (i < s.size() && (s[i] == ',' || lex::isWsp(s[i]))) ++i;
    }
    if (i < s.size() && s[i] == ':') {
      ++i;
      a.route = route;
    } else {
      a.route = "INVALID_ROUTE";
    }
  }
  a.mailbox = readLocal(s, i, nullptr);
  if (i < s.size() && s[i] == '@') {
    ++i;
    a.host = readDomain(s, i, nullptr);
  }
  lex::skipCfws(s, i);
  if (i < s.size() && s[i] == '>') {
    ++i;
    return;
  }
  if (!a.host) a.host = "SYNTAX_ERROR";
  while (i < s.size() && s[i] != '>' && s[i] != ',') ++i;
  if (i < s.size() && s[i] == '>') ++i;
}

Address parseMailbox(std::string_view s, size_t& i) {
  Address a;
  size_t save = i;
  std::string phrase = readPhrase(s, i);
  lex::skipCfws(s, i);
  if (i < s.size() && s[i] == '<') {
    if (!phrase.empty()) a.name = phrase;
    ++i;
    parseAngle(s, i, a);
  } else {
    i = save;
    std::string comment;
    a.mailbox = readLocal(s, i, &comment);
    if (i < s.size() && s[i] == '@') {
      ++i;
      a.host = readDomain(s, i, &comment);
    }
    lex::skipCfws(s, i, &comment);
    if (!comment.empty()) a.name = unfold(comment);
  }
  fillMissing(a);
  return a;
}

// Skips whatever is left of a broken address, up to a separator in `stops`.
void skipGarbage(std::string_view s, size_t& i, std::string_view stops) {
  while (i < s.size() && stops.find(s[i]) == std::string_view::npos) {
    if (s[i] == '"') {
      lex::readQuoted(s, i);
    } else if (s[i] == '(') {
      lex::skipCfws(s, i);
    } else {
      ++i;
    }
  }
}

}  // namespace

std::vector<Address> parseAddressList(std::string_view s) {
  std::vector<Address> out;
  size_t i = 0;
  while (i < s.size() && out.size() < kMaxAddresses) {
    lex::skipCfws(s, i);
    if (i >= s.size()) break;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    size_t save = i;
    std::string phrase = readPhrase(s, i);
    lex::skipCfws(s, i);
    if (i < s.size() && s[i] == ':') {
      ++i;
      Address start;
      start.mailbox = phrase;
      out.push_back(std::move(start));
      while (i < s.size() && out.size() < kMaxAddresses) {
        lex::skipCfws(s, i);
        if (i >= s.size()) break;
        if (s[i] == ';') {
          ++i;
          break;
        }
        if (s[i] == ',') {
          ++i;
          continue;
        }
        size_t before = i;
        out.push_back(parseMailbox(s, i));
        lex::skipCfws(s, i);
        skipGarbage(s, i, ",;");
        if (i == before) ++i;  // never loop without progress
      }
      out.push_back(Address{});
    } else {
      i = save;
      out.push_back(parseMailbox(s, i));
    }
    lex::skipCfws(s, i);
    size_t before = i;
    skipGarbage(s, i, ",");
    if (i == before && i < s.size() && s[i] != ',') ++i;
  }
  return out;
}

Envelope parseEnvelope(std::string_view header) {
  Envelope e;
  bool seen[6] = {};
  forEachField(header, [&](const HeaderField& f) {
    auto text = [&](std::optional<std::string>& slot) {
      if (!slot) slot = unfold(f.rawValue, kMaxValue);
    };
    auto list = [&](int k, std::vector<Address>& slot) {
      if (seen[k]) return;
      seen[k] = true;
      slot = parseAddressList(unfold(f.rawValue, kMaxAddressHeader));
    };
    std::string_view n = f.name;
    if (iequals(n, "Date")) text(e.date);
    else if (iequals(n, "Subject")) text(e.subject);
    else if (iequals(n, "In-Reply-To")) text(e.inReplyTo);
    else if (iequals(n, "Message-ID")) text(e.messageId);
    else if (iequals(n, "From")) list(0, e.from);
    else if (iequals(n, "Sender")) list(1, e.sender);
    else if (iequals(n, "Reply-To")) list(2, e.replyTo);
    else if (iequals(n, "To")) list(3, e.to);
    else if (iequals(n, "Cc")) list(4, e.cc);
    else if (iequals(n, "Bcc")) list(5, e.bcc);
    return true;
  });
  if (e.sender.empty()) e.sender = e.from;
  if (e.replyTo.empty()) e.replyTo = e.from;
  return e;
}

}  // namespace postern::mime
