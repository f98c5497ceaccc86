// Binary form of a Structure, kept beside each message by the store.
//
//   "PMS" version(1) part crc32(4, big-endian, over everything before it)
//
// Integers are LEB128 varints; a string is its length then its octets; an
// optional string is 0 when absent, else length + 1 then the octets. A part
// is: kind, header start/end, body start/end, octets, lines, type, subtype,
// params, id, description, encoding, md5, location, disposition,
// disposition params, languages, envelope (0/1 + fields), children.
#include <array>

#include "mime/mime.h"

namespace postern::mime {

namespace {

constexpr char kMagic[] = "PMS";
constexpr uint8_t kVersion = 1;

uint32_t crc32(std::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : data) c = table[(c ^ static_cast<uint8_t>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

class Writer {
 public:
  std::string out;
  void num(uint64_t v) {
    while (v >= 0x80) {
      out += static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    out += static_cast<char>(v);
  }
  void str(std::string_view s) {
    num(s.size());
    out.append(s);
  }
  void opt(const std::optional<std::string>& s) {
    if (!s) {
      num(0);
    } else {
      num(s->size() + 1);
      out.append(*s);
    }
  }
  void params(const std::vector<Param>& ps) {
    num(ps.size());
    for (const Param& p : ps) {
      str(p.name);
      str(p.value);
    }
  }
  void addresses(const std::vector<Address>& as) {
    num(as.size());
    for (const Address& a : as) {
      opt(a.name);
      opt(a.route);
      opt(a.mailbox);
      opt(a.host);
    }
  }
  void envelope(const Envelope& e) {
    opt(e.date);
    opt(e.subject);
    addresses(e.from);
    addresses(e.sender);
    addresses(e.replyTo);
    addresses(e.to);
    addresses(e.cc);
    addresses(e.bcc);
    opt(e.inReplyTo);
    opt(e.messageId);
  }
  void part(const Part& p) {
    num(static_cast<uint64_t>(p.kind));
    num(p.header.start);
    num(p.header.end);
    num(p.body.start);
    num(p.body.end);
    num(p.bodyOctets);
    num(p.bodyLines);
    str(p.type);
    str(p.subtype);
    params(p.params);
    opt(p.id);
    opt(p.description);
    opt(p.encoding);
    opt(p.md5);
    opt(p.location);
    opt(p.disposition);
    params(p.dispositionParams);
    num(p.language.size());
    for (const std::string& l : p.language) str(l);
    num(p.envelope ? 1 : 0);
    if (p.envelope) envelope(*p.envelope);
    num(p.children.size());
    for (const Part& c : p.children) part(c);
  }
};

// Every read checks the remaining length; after the first failure every
// read returns zero values and ok stays false.
class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool ok = true;
  size_t parts = 0;

  uint64_t num() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!ok || pos_ >= d_.size()) return fail();
      auto b = static_cast<uint8_t>(d_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail();
  }
  // A count of elements that each take at least one octet.
  size_t count() {
    uint64_t n = num();
    if (n > d_.size() - pos_) return fail();
    return static_cast<size_t>(n);
  }
  std::string bytes(uint64_t n) {
    if (!ok || n > d_.size() - pos_) return fail(), std::string();
    std::string s(d_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::string str() { return bytes(num()); }
  std::optional<std::string> opt() {
    uint64_t n = num();
    if (!ok || n == 0) return std::nullopt;
    return bytes(n - 1);
  }
  std::vector<Param> params() {
    std::vector<Param> ps(count());
    for (Param& p : ps) {
      p.name = str();
      p.value = str();
    }
    return ps;
  }
  std::vector<Address> addresses() {
    std::vector<Address> as(count());
    for (Address& a : as) {
      a.name = opt();
      a.route = opt();
      a.mailbox = opt();
      a.host = opt();
    }
    return as;
  }
  Envelope envelope() {
    Envelope e;
    e.date = opt();
    e.subject = opt();
    e.from = addresses();
    e.sender = addresses();
    e.replyTo = addresses();
    e.to = addresses();
    e.cc = addresses();
    e.bcc = addresses();
    e.inReplyTo = opt();
    e.messageId = opt();
    return e;
  }
  Part part(int depth) {
    Part p;
    if (depth > kMaxDepth + 1 || ++parts > kMaxParts + 1) return fail(), p;
    uint64_t kind = num();
    if (kind > 2) return fail(), p;
    p.kind = static_cast<Part::Kind>(kind);
    p.header.start = num();
    p.header.end = num();
    p.body.start = num();
    p.body.end = num();
    if (p.header.start > p.header.end || p.body.start > p.body.end) return fail(), p;
    p.bodyOctets = num();
    p.bodyLines = num();
    p.type = str();
    p.subtype = str();
    p.params = params();
    p.id = opt();
    p.description = opt();
    p.encoding = opt();
    p.md5 = opt();
    p.location = opt();
    p.disposition = opt();
    p.dispositionParams = params();
    p.language.resize(count());
    for (std::string& l : p.language) l = str();
    uint64_t hasEnv = num();
    if (hasEnv > 1) return fail(), p;
    if (hasEnv) p.envelope = envelope();
    size_t n = count();
    if (!ok) return p;
    if ((p.kind == Part::Kind::kLeaf && n != 0) || (p.kind == Part::Kind::kMessage && n != 1)) {
      return fail(), p;
    }
    for (size_t i = 0; i < n && ok; ++i) p.children.push_back(part(depth + 1));
    return p;
  }
  bool atEnd() const { return pos_ == d_.size(); }

 private:
  uint64_t fail() {
    ok = false;
    return 0;
  }
  std::string_view d_;
  size_t pos_ = 0;
};

}  // namespace

std::string serialise(const Structure& s) {
  Writer w;
  w.out.append(kMagic, 3);
  w.out += static_cast<char>(kVersion);
  w.part(s.root);
  uint32_t c = crc32(w.out);
  for (int shift = 24; shift >= 0; shift -= 8) w.out += static_cast<char>((c >> shift) & 0xFF);
  return std::move(w.out);
}

Result<Structure> deserialise(std::string_view data) {
  if (data.size() < 8 || data.substr(0, 3) != kMagic) return Error{ErrorCode::kCorrupt, "mime: not a structure"};
  if (static_cast<uint8_t>(data[3]) != kVersion) {
    return Error{ErrorCode::kCorrupt, "mime: unknown structure version " +
                                          std::to_string(static_cast<uint8_t>(data[3]))};
  }
  std::string_view payload = data.substr(0, data.size() - 4);
  uint32_t want = 0;
  for (size_t i = data.size() - 4; i < data.size(); ++i) want = (want << 8) | static_cast<uint8_t>(data[i]);
  if (crc32(payload) != want) return Error{ErrorCode::kCorrupt, "mime: structure checksum mismatch"};
  Reader r(payload.substr(4));
  Structure s;
  s.root = r.part(0);
  if (!r.ok || !r.atEnd() || !s.root.envelope) return Error{ErrorCode::kCorrupt, "mime: malformed structure"};
  return s;
}

}  // namespace postern::mime
