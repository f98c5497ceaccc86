#include "mailgen.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "util.h"

namespace postern::bench {
namespace {

// No word contains "xq", so the search words of kSearchTerms appear only where placed.
constexpr const char* kWords[] = {
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "this",
    "are",
    "or",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "there",
    "been",
    "one",
    "all",
    "we",
    "their",
    "has",
    "would",
    "when",
    "if",
    "so",
    "no",
    "out",
    "up",
    "into",
    "do",
    "any",
    "your",
    "what",
    "more",
    "about",
    "time",
    "can",
    "only",
    "other",
    "new",
    "some",
    "could",
    "these",
    "two",
    "may",
    "then",
    "first",
    "than",
    "its",
    "over",
    "like",
    "also",
    "after",
    "use",
    "meeting",
    "report",
    "invoice",
    "project",
    "schedule",
    "budget",
    "release",
    "deploy",
    "review",
    "server",
    "mail",
    "quarter",
    "customer",
    "support",
    "ticket",
    "update",
    "draft",
    "attached",
    "please",
    "thanks",
    "regards",
    "tomorrow",
    "agenda",
    "minutes",
    "contract",
    "proposal",
    "deadline",
    "estimate",
    "figures",
    "migration",
    "backup",
    "network",
    "printer",
    "holiday",
    "travel",
    "expenses",
    "approval",
    "signature",
    "office",
    "warehouse",
    "delivery",
    "shipment",
    "order",
    "payment",
    "reminder",
    "quote",
    "team",
    "lunch",
    "friday",
    "monday",
    "morning",
    "afternoon",
    "weekly",
    "monthly",
    "numbers",
    "question",
    "answer",
    "issue",
    "fixed",
    "broken",
    "tested",
    "working",
    "pending",
    "confirmed",
    "cancelled",
    "postponed",
    "urgent",
    "important",
    "note",
    "summary",
    "details",
    "version",
    "document",
    "spreadsheet",
    "presentation",
    "slides",
    "call",
    "phone",
    "conference",
    "room",
    "building",
    "parking",
    "access",
    "password",
    "account",
    "login",
    "website",
    "launch",
    "marketing",
    "sales",
    "revenue",
    "forecast",
    "target",
    "plan",
    "strategy",
    "goal",
    "progress",
    "status",
    "feedback",
    "comments",
    "changes",
    "caf\xc3\xa9",
    "na\xc3\xafve",
    "Gr\xc3\xbc\xc3\x9f"
    "e",
    "M\xc3\xbcnchen",
    "d\xc3\xa9j\xc3\xa0",
};
constexpr size_t kNumWords = sizeof kWords / sizeof kWords[0];
constexpr size_t kAsciiWords = kNumWords - 5;

constexpr const char* kFirst[] = {"Alice",  "Bob",   "Carol", "Dave",    "Erin",  "Frank",  "Grace",
                                  "Heidi",  "Ivan",  "Judy",  "Mallory", "Niaj",  "Olivia", "Peggy",
                                  "Rupert", "Sybil", "Trent", "Victor",  "Walter"};
constexpr const char* kLast[] = {"Smith",  "Jones", "Miller", "Brown", "Davis", "Garcia",
                                 "Wilson", "Moore", "Taylor", "Clark", "Lewis", "Walker"};
constexpr const char* kDomains[] = {"example.org", "example.com", "mail.example.net", "corp.example",
                                    "lists.example.org"};
constexpr const char* kAttach[][2] = {{"application/pdf", "pdf"},
                                      {"image/jpeg", "jpg"},
                                      {"application/vnd.openxmlformats-officedocument."
                                       "spreadsheetml.sheet",
                                       "xlsx"},
                                      {"application/zip", "zip"}};

template <size_t N>
const char* pick(Rng& r, const char* const (&a)[N]) {
  return a[r.below(N)];
}

struct Person {
  std::string name, addr;
};

Person person(Rng& r) {
  std::string first = pick(r, kFirst), last = pick(r, kLast);
  std::string local = first + "." + last;
  for (auto& c : local) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return {first + " " + last, local + "@" + pick(r, kDomains)};
}

std::string words(Rng& r, int n, bool ascii) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kWords[r.below(ascii ? kAsciiWords : kNumWords)];
  }
  return s;
}

// Text of about `bytes` octets: lines of at most 72 characters, paragraphs separated by a
// blank line. `mark` (if not empty) goes into the first line.
std::string text(Rng& r, size_t bytes, const std::string& mark, bool ascii) {
  std::string out;
  out.reserve(bytes + 128);
  std::string line = mark;
  int lines_in_par = 0, par_len = static_cast<int>(r.range(3, 9));
  while (out.size() + line.size() < bytes) {
    const char* w = kWords[r.below(ascii ? kAsciiWords : kNumWords)];
    if (line.size() + 1 + std::strlen(w) > 72) {
      out += line;
      out += "\r\n";
      line.clear();
      if (++lines_in_par == par_len) {
        out += "\r\n";
        lines_in_par = 0;
        par_len = static_cast<int>(r.range(3, 9));
      }
    }
    if (!line.empty()) line += ' ';
    line += w;
  }
  if (!line.empty()) out += line + "\r\n";
  return out;
}

// Quoted-printable of text whose lines are already short: only non-ASCII and '=' change.
std::string quotedPrintable(const std::string& in) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size() + in.size() / 8);
  size_t col = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') {
      out += "\r\n";
      ++i;
      col = 0;
      continue;
    }
    size_t need = (c >= 128 || c == '=') ? 3 : 1;
    if (col + need > 75) {  // soft line break
      out += "=\r\n";
      col = 0;
    }
    if (need == 3) {
      out += '=';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
    col += need;
  }
  return out;
}

std::string base64Lines(Rng& r, size_t raw_bytes) {
  static const char* tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(raw_bytes * 4 / 3 + raw_bytes / 38 + 8);
  size_t col = 0;
  uint64_t bits = 0;
  int have = 0;
  for (size_t done = 0; done < raw_bytes; done += 3) {
    if (have < 24) {
      bits = r.next();
      have = 64;
    }
    uint32_t v = static_cast<uint32_t>(bits & 0xffffff);
    bits >>= 24;
    have -= 24;
    size_t n = std::min<size_t>(3, raw_bytes - done);
    out += tab[(v >> 18) & 63];
    out += tab[(v >> 12) & 63];
    out += n > 1 ? tab[(v >> 6) & 63] : '=';
    out += n > 2 ? tab[v & 63] : '=';
    col += 4;
    if (col == 76) {
      out += "\r\n";
      col = 0;
    }
  }
  if (col) out += "\r\n";
  return out;
}

std::string rfc5322Date(uint64_t index) {
  time_t t = static_cast<time_t>(1704103200 + index * 97);  // 2024-01-01 10:00 UTC onwards
  tm g{};
  gmtime_r(&t, &g);
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[g.tm_wday], g.tm_mday,
                months[g.tm_mon], g.tm_year + 1900, g.tm_hour, g.tm_min, g.tm_sec);
  return buf;
}

size_t pickSize(Rng& r) {
  double u = r.unit(), v = r.unit();
  auto logUniform = [&](double lo, double hi) {
    return static_cast<size_t>(lo * std::exp(v * std::log(hi / lo)));
  };
  if (u < 0.93) return logUniform(2048, 20480);
  if (u < 0.99) return logUniform(20480, 131072);
  return logUniform(131072, 1048576 - 4096);
}

// Subject of a thread (or stand-alone message) rooted at `root`.
std::string threadSubject(uint64_t seed, uint64_t root) {
  Rng r(seed, root * 2 + 1);
  std::string s = words(r, static_cast<int>(r.range(3, 8)), true);
  s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  if (r.below(20) == 0) s = "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen:?= " + s;
  return s;
}

}  // namespace

std::string messageId(uint64_t seed, uint64_t index) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "<bench.%llu.%08llx@gen.example>", static_cast<unsigned long long>(index),
                static_cast<unsigned long long>(mix64(seed * 31 + index) & 0xffffffffULL));
  return buf;
}

long long findMessageIndex(std::string_view text, bool last) {
  auto p = last ? text.rfind("<bench.") : text.find("<bench.");
  if (p == std::string_view::npos) return -1;
  p += 7;
  long long v = 0;
  size_t start = p;
  while (p < text.size() && text[p] >= '0' && text[p] <= '9') v = v * 10 + (text[p++] - '0');
  return p > start && p < text.size() && text[p] == '.' ? v : -1;
}

std::string generateMessage(uint64_t seed, uint64_t index) {
  Rng r(seed, index * 2);
  size_t size = pickSize(r);
  // Threads: 2 of 3 blocks of 5 consecutive messages are one conversation.
  uint64_t block = index / 5;
  bool threaded = mix64(seed ^ (block * 0x9e37)) % 3 != 0;
  uint64_t root = threaded ? block * 5 : index;
  uint64_t pos = index - root;

  Person from = person(r), to{"Bench User", "user@gen.example"};
  std::string subject = threadSubject(seed, root);
  if (pos > 0) subject = "Re: " + subject;
  if (index % kSearchTerms[0].mod == kSearchTerms[0].rem) subject += " xqsubjq";
  std::string body_mark;
  if (index % kSearchTerms[1].mod == kSearchTerms[1].rem) body_mark = "xqbodyq";
  if (index % 10 == 8) body_mark += body_mark.empty() ? "xqtextq" : " xqtextq";

  std::string h;
  h.reserve(size + 2048);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "Received: from mx%llu.example.net (mx%llu.example.net [192.0.2.%llu])\r\n"
                "\tby mail.gen.example with ESMTPS id %016llx\r\n"
                "\tfor <user@gen.example>; %s\r\n",
                static_cast<unsigned long long>(index % 4), static_cast<unsigned long long>(index % 4),
                static_cast<unsigned long long>(index % 250 + 1), static_cast<unsigned long long>(r.next()),
                rfc5322Date(index).c_str());
  h += buf;
  h += "From: \"" + from.name + "\" <" + from.addr + ">\r\n";
  h += "To: \"" + to.name + "\" <" + to.addr + ">\r\n";
  if (r.below(10) < 3) {
    Person cc = person(r);
    h += "Cc: \"" + cc.name + "\" <" + cc.addr + ">\r\n";
  }
  h += "Subject: " + subject + "\r\n";
  h += "Date: " + rfc5322Date(index) + "\r\n";
  h += "Message-ID: " + messageId(seed, index) + "\r\n";
  if (pos > 0) {
    h += "In-Reply-To: " + messageId(seed, index - 1) + "\r\n";
    h += "References:";
    for (uint64_t k = root; k < index; ++k) h += (k == root ? " " : "\r\n ") + messageId(seed, k);
    h += "\r\n";
  }
  h += "MIME-Version: 1.0\r\n";
  h += "X-Mailer: Bench Mailer 1.";
  h += std::to_string(index % 7);
  h += "\r\n";
  if (index % 10 == 3) h += "X-Bench-Tag: xqtextq\r\n";

  // What the body will be.
  int kind;  // 0 plain, 1 alternative, 2 mixed with attachment
  if (size > 48 * 1024) {
    kind = r.below(10) == 0 ? 0 : 2;
  } else {
    uint64_t k = r.below(100);
    kind = k < 55 ? 0 : k < 83 ? 1 : 2;
  }
  size_t room = size > h.size() + 600 ? size - h.size() - 600 : 256;
  std::string boundary;
  std::snprintf(buf, sizeof buf, "=_bench_%016llx", static_cast<unsigned long long>(r.next()));
  boundary = buf;

  if (kind == 0) {
    bool qp = r.below(3) == 0;
    std::string t = text(r, room, body_mark, !qp);
    if (pos > 0) t += "\r\n> " + words(r, 12, true) + "\r\n> " + words(r, 9, true) + "\r\n";
    t += "\r\n-- \r\n" + from.name + "\r\n";
    h += "Content-Type: text/plain; charset=utf-8; format=flowed\r\n";
    if (qp) {
      h += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
      h += quotedPrintable(t);
    } else {
      h += "Content-Transfer-Encoding: 7bit\r\n\r\n";
      h += t;
    }
    return h;
  }
  h += std::string("Content-Type: multipart/") + (kind == 1 ? "alternative" : "mixed") + "; boundary=\"" +
       boundary + "\"\r\n\r\n";
  h += "This is a multi-part message in MIME format.\r\n\r\n";
  if (kind == 1) {
    std::string plain = text(r, room / 2, body_mark, false);
    std::string html = text(r, room / 2 > 200 ? room / 2 - 200 : 64, "", true);
    std::string htmlBody = "<html><head><meta charset=\"utf-8\"></head><body>\r\n<p>";
    for (size_t i = 0; i < html.size(); ++i) {
      if (html.compare(i, 4, "\r\n\r\n") == 0) {
        htmlBody += "</p>\r\n<p>";
        i += 3;
      } else {
        htmlBody += html[i];
      }
    }
    htmlBody += "</p>\r\n</body></html>\r\n";
    h += "--" + boundary +
         "\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
         quotedPrintable(plain);
    h += "--" + boundary +
         "\r\nContent-Type: text/html; charset=utf-8\r\n"
         "Content-Transfer-Encoding: 7bit\r\n\r\n" +
         htmlBody;
  } else {
    size_t textBytes = std::min<size_t>(room, r.range(300, 3000));
    std::string plain = text(r, textBytes, body_mark, true);
    size_t raw = room > textBytes ? (room - textBytes) * 3 / 4 : 512;
    const char* const* att = kAttach[r.below(4)];
    std::snprintf(buf, sizeof buf, "%s-%llu.%s", r.below(2) ? "report" : "scan",
                  static_cast<unsigned long long>(index), att[1]);
    std::string name = buf;
    h += "--" + boundary +
         "\r\nContent-Type: text/plain; charset=us-ascii\r\n"
         "Content-Transfer-Encoding: 7bit\r\n\r\n" +
         plain + "\r\n";
    h += "--" + boundary + "\r\nContent-Type: " + att[0] + "; name=\"" + name + "\"\r\n" +
         "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"" + name +
         "\"\r\n\r\n" + base64Lines(r, raw);
  }
  h += "--" + boundary + "--\r\n";
  return h;
}

}  // namespace postern::bench
