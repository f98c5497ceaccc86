#include "protocols.h"

#include <cstring>

#include "util.h"

namespace postern::bench {

static bool startsWithCi(const std::string& s, size_t at, const char* p) {
  size_t n = std::strlen(p);
  if (s.size() < at + n) return false;
  return strncasecmp(s.data() + at, p, n) == 0;
}

static std::string quoteImap(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// ---- IMAP ---------------------------------------------------------------------------------

bool ImapReply::ok() const {
  auto sp = tagged.find(' ');
  return sp != std::string::npos && startsWithCi(tagged, sp + 1, "OK");
}

ImapClient::ImapClient(const Target& t, bool tls)
    : conn_(Conn::open(t.host, tls ? t.imaps : t.imap, tls, t.timeout)) {
  greeting_ = conn_->readLine();
  if (greeting_.rfind("* OK", 0) != 0) fail("IMAP greeting is not * OK: " + greeting_);
  learnCapabilities(greeting_);
}

void ImapClient::learnCapabilities(const std::string& text) {
  auto p = text.find("CAPABILITY");
  if (p == std::string::npos) return;
  caps_known_ = true;
  literal_plus_ = text.find("LITERAL+", p) != std::string::npos;
}

std::string ImapClient::nextTag() { return "b" + std::to_string(++tag_); }

// A literal announced at the end of a line: "{123}" -> 123; -1 when none.
static long long trailingLiteral(const std::string& line) {
  if (line.empty() || line.back() != '}') return -1;
  auto open = line.rfind('{');
  if (open == std::string::npos || open + 2 > line.size() - 1) return -1;
  long long v = 0;
  for (size_t i = open + 1; i < line.size() - 1; ++i) {
    if (line[i] < '0' || line[i] > '9') return -1;
    v = v * 10 + (line[i] - '0');
  }
  return v;
}

void ImapClient::readResponse(std::string line, Untagged& out) {
  for (;;) {
    out.text += line;
    long long n = trailingLiteral(line);
    if (n < 0) return;
    out.literals.emplace_back();
    out.literals.back().reserve(static_cast<size_t>(n));
    conn_->readExact(static_cast<size_t>(n), out.literals.back());
    line = conn_->readLine();
  }
}

ImapReply ImapClient::readUntil(const std::string& tag) {
  ImapReply r;
  std::string prefix = tag + " ";
  for (;;) {
    std::string line = conn_->readLine();
    if (line.rfind(prefix, 0) == 0) {
      r.tagged = std::move(line);
      learnCapabilities(r.tagged);
      return r;
    }
    if (line.rfind("* ", 0) != 0) fail("unexpected IMAP line: " + line.substr(0, 200));
    Untagged u;
    readResponse(std::move(line), u);
    if (startsWithCi(u.text, 2, "CAPABILITY ")) learnCapabilities(u.text);
    r.untagged.push_back(std::move(u));
  }
}

ImapReply ImapClient::command(const std::string& command) {
  std::string tag = nextTag();
  conn_->send(tag + " " + command + "\r\n");
  return readUntil(tag);
}

ImapReply ImapClient::ok(const std::string& command) {
  ImapReply r = this->command(command);
  if (!r.ok()) fail("'" + command.substr(0, 80) + "' failed: " + r.tagged);
  return r;
}

void ImapClient::login(const std::string& user, const std::string& password) {
  ImapReply r = command("LOGIN " + quoteImap(user) + " " + quoteImap(password));
  if (!r.ok()) fail("LOGIN " + user + " failed: " + r.tagged);
  if (!caps_known_ || r.tagged.find("CAPABILITY") == std::string::npos) {
    // The capabilities may change at login; ask once if the server did not say.
    if (!caps_known_) ok("CAPABILITY");
  }
}

uint32_t ImapClient::select(const std::string& mailbox) {
  ImapReply r = ok("SELECT " + quoteImap(mailbox));
  for (const auto& u : r.untagged) {
    uint32_t n = untaggedNumber(u.text, "EXISTS");
    if (n || u.text == "* 0 EXISTS") return n;
  }
  fail("SELECT " + mailbox + " sent no EXISTS");
}

ImapReply ImapClient::append(const std::string& mailbox, const std::string& message,
                             const std::string& flags) {
  std::string tag = nextTag();
  std::string head = tag + " APPEND " + quoteImap(mailbox) + (flags.empty() ? "" : " (" + flags + ")") +
                     " {" + std::to_string(message.size());
  if (literal_plus_) {
    std::string all = head + "+}\r\n";
    all += message;
    all += "\r\n";
    conn_->send(all);
  } else {
    conn_->send(head + "}\r\n");
    std::string cont = conn_->readLine();
    if (cont.rfind("+", 0) != 0) fail("APPEND: no continuation request: " + cont);
    conn_->send(message);
    conn_->send("\r\n");
  }
  ImapReply r = readUntil(tag);
  if (!r.ok()) fail("APPEND failed: " + r.tagged);
  return r;
}

void ImapClient::logout() {
  ImapReply r = command("LOGOUT");
  bool bye = false;
  for (const auto& u : r.untagged) bye = bye || u.text.rfind("* BYE", 0) == 0;
  if (!r.ok() || !bye) fail("LOGOUT: want * BYE and OK, got " + r.tagged);
  conn_->close();
}

void ImapClient::idle() {
  conn_->send(nextTag() + " IDLE\r\n");
  for (;;) {
    std::string line = conn_->readLine();
    if (line.rfind("+", 0) == 0) return;
    if (line.rfind("* ", 0) != 0) fail("IDLE refused: " + line);
  }
}

uint32_t fetchSeq(const Untagged& u) {
  const std::string& t = u.text;
  if (t.size() < 10 || t[0] != '*') return 0;
  size_t p = 2;
  uint32_t n = 0;
  while (p < t.size() && t[p] >= '0' && t[p] <= '9') n = n * 10 + static_cast<uint32_t>(t[p++] - '0');
  return startsWithCi(t, p, " FETCH ") ? n : 0;
}

long long numberAfter(const std::string& text, const std::string& name) {
  auto p = text.find(name + " ");
  if (p == std::string::npos) return -1;
  p += name.size() + 1;
  if (p >= text.size() || text[p] < '0' || text[p] > '9') return -1;
  long long v = 0;
  while (p < text.size() && text[p] >= '0' && text[p] <= '9') v = v * 10 + (text[p++] - '0');
  return v;
}

std::vector<uint64_t> searchHits(const ImapReply& r) {
  std::vector<uint64_t> out;
  for (const auto& u : r.untagged) {
    if (!startsWithCi(u.text, 0, "* SEARCH")) continue;
    const std::string& t = u.text;
    size_t p = 8;
    while (p < t.size()) {
      while (p < t.size() && t[p] == ' ') ++p;
      uint64_t v = 0;
      bool any = false;
      while (p < t.size() && t[p] >= '0' && t[p] <= '9') {
        v = v * 10 + static_cast<uint64_t>(t[p++] - '0');
        any = true;
      }
      if (!any) break;  // "(MODSEQ ...)" or garbage ends the list
      out.push_back(v);
    }
  }
  return out;
}

uint32_t untaggedNumber(const std::string& text, const char* kind) {
  if (text.size() < 4 || text[0] != '*' || text[1] != ' ') return 0;
  size_t p = 2;
  uint32_t n = 0;
  bool any = false;
  while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
    n = n * 10 + static_cast<uint32_t>(text[p++] - '0');
    any = true;
  }
  if (!any || p >= text.size() || text[p] != ' ') return 0;
  return strcasecmp(text.c_str() + p + 1, kind) == 0 ? n : 0;
}

// ---- LMTP ---------------------------------------------------------------------------------

LmtpClient::LmtpClient(const Target& t) : conn_(Conn::open(t.host, t.lmtp, false, t.timeout)) {
  std::string text;
  if (reply(&text) != 220) fail("LMTP greeting: " + text);
  conn_->send("LHLO bench.example\r\n");
  if (reply(&text) != 250) fail("LHLO: " + text);
  pipelining_ = text.find("PIPELINING") != std::string::npos;
}

int LmtpClient::reply(std::string* text) {
  if (text) text->clear();
  for (;;) {
    std::string line = conn_->readLine();
    if (text) *text += line + "\n";
    if (line.size() < 3) fail("short LMTP reply: " + line);
    if (line.size() == 3 || line[3] != '-') return std::atoi(line.substr(0, 3).c_str());
  }
}

void LmtpClient::sendData(const std::string& m) {
  // Generated mail has no line starting with '.', but stuff anyway for any input.
  if (m.find("\n.") == std::string::npos && m.rfind(".", 0) != 0) {
    conn_->send(m);
  } else {
    std::string s;
    s.reserve(m.size() + 64);
    bool bol = true;
    for (char c : m) {
      if (bol && c == '.') s += '.';
      s += c;
      bol = c == '\n';
    }
    conn_->send(s);
  }
  if (m.size() < 2 || m.compare(m.size() - 2, 2, "\r\n") != 0) conn_->send("\r\n");
  conn_->send(".\r\n");
}

void LmtpClient::transaction(const std::string& from, const std::vector<std::string>& rcpts,
                             const std::string& message, void (*cb)(void*), void* arg) {
  std::string text;
  std::string cmds = "MAIL FROM:<" + from + ">\r\n";
  for (const auto& r : rcpts) cmds += "RCPT TO:<" + r + ">\r\n";
  cmds += "DATA\r\n";
  if (pipelining_) {
    conn_->send(cmds);
    if (reply(&text) != 250) fail("MAIL FROM: " + text);
    for (const auto& r : rcpts)
      if (reply(&text) != 250) fail("RCPT TO:<" + r + ">: " + text);
    if (reply(&text) != 354) fail("DATA: " + text);
  } else {
    conn_->send("MAIL FROM:<" + from + ">\r\n");
    if (reply(&text) != 250) fail("MAIL FROM: " + text);
    for (const auto& r : rcpts) {
      conn_->send("RCPT TO:<" + r + ">\r\n");
      if (reply(&text) != 250) fail("RCPT TO:<" + r + ">: " + text);
    }
    conn_->send("DATA\r\n");
    if (reply(&text) != 354) fail("DATA: " + text);
  }
  sendData(message);
  if (cb) cb(arg);
  for (const auto& r : rcpts)
    if (reply(&text) != 250) fail("delivery to " + r + ": " + text);
}

void LmtpClient::deliver(const std::string& from, const std::vector<std::string>& rcpts,
                         const std::string& message) {
  transaction(from, rcpts, message, nullptr, nullptr);
}

void LmtpClient::quit() {
  conn_->send("QUIT\r\n");
  std::string text;
  if (reply(&text) != 221) fail("QUIT: " + text);
  conn_->close();
}

// ---- POP3 ---------------------------------------------------------------------------------

Pop3Client::Pop3Client(const Target& t) : conn_(Conn::open(t.host, t.pop3, false, t.timeout)) {
  std::string g = conn_->readLine();
  if (g.rfind("+OK", 0) != 0) fail("POP3 greeting: " + g);
}

std::string Pop3Client::ok(const std::string& command) {
  conn_->send(command + "\r\n");
  std::string line = conn_->readLine();
  if (line.rfind("+OK", 0) != 0) fail("POP3 " + command.substr(0, 40) + ": " + line);
  return line;
}

size_t Pop3Client::multiline(std::string* out) {
  size_t lines = 0;
  for (;;) {
    std::string line = conn_->readLine();
    if (line == ".") return lines;
    ++lines;
    if (out) {
      *out += (line.rfind(".", 0) == 0) ? line.substr(1) : line;
      *out += "\r\n";
    }
  }
}

void Pop3Client::login(const std::string& user, const std::string& password) {
  ok("USER " + user);
  ok("PASS " + password);
}

void Pop3Client::quit() {
  ok("QUIT");
  conn_->close();
}

}  // namespace postern::bench
