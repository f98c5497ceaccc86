#include "fetch_packed.h"

namespace postern::packed {
namespace {

void put32(std::string& out, uint32_t n) {
  const char b[4] = {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  out.append(b, 4);
}

uint32_t get32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

}  // namespace

void appendHeader(std::string& out, uint32_t uid, Kind kind, uint32_t length) {
  put32(out, uid);
  out += static_cast<char>(kind);
  put32(out, length);
}

void append(std::string& out, uint32_t uid, Kind kind, std::string_view data) {
  appendHeader(out, uid, kind, static_cast<uint32_t>(data.size()));
  out += data;
}

void appendError(std::string& out, uint32_t uid, uint32_t code, std::string_view message) {
  appendHeader(out, uid, Kind::kError, static_cast<uint32_t>(4 + message.size()));
  put32(out, code);
  out += message;
}

std::optional<Entry> next(std::string_view packed, size_t* offset) {
  if (*offset > packed.size() || packed.size() - *offset < kHeaderSize) return std::nullopt;
  const char* h = packed.data() + *offset;
  Entry e;
  e.uid = get32(h);
  const char kind = h[4];
  const size_t n = get32(h + 5);
  if (n > packed.size() - *offset - kHeaderSize) return std::nullopt;
  std::string_view data(h + kHeaderSize, n);
  switch (kind) {
    case static_cast<char>(Kind::kRendered):
    case static_cast<char>(Kind::kStructure):
      e.kind = static_cast<Kind>(kind);
      e.data = data;
      break;
    case static_cast<char>(Kind::kError):
      if (n < 4) return std::nullopt;
      e.kind = Kind::kError;
      e.code = get32(data.data());
      e.message = data.substr(4);
      break;
    default:
      return std::nullopt;
  }
  *offset += kHeaderSize + n;
  return e;
}

}  // namespace postern::packed
