#include "lmtpd/proto/trace.h"

namespace postern::lmtpd {
namespace {

// Header text must not let a client inject lines.
std::string clean(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') continue;
    out += c;
  }
  return out;
}

}  // namespace

std::string rfc5322Date(std::time_t when) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return std::string(buf, n);
}

std::string traceHeaders(const TraceInfo& t) {
  std::string out = "Return-Path: <" + clean(t.sender) + ">\r\n";
  out += "Received: from " + clean(t.lhlo.empty() ? "unknown" : t.lhlo) + " (" + clean(t.peer) + ")\r\n";
  out += "\tby " + clean(t.host) + " (Postern) with LMTP id " + clean(t.id);
  if (!t.recipient.empty()) out += "\r\n\tfor <" + clean(t.recipient) + ">";
  out += "; " + rfc5322Date(t.when) + "\r\n";
  return out;
}

}  // namespace postern::lmtpd
