// The structure parser. One pass over the message with a stack of the
// enclosing multipart boundaries, like Dovecot's streaming parser: every
// entity ends at the first line that is a boundary of any enclosing
// multipart, so a missing close delimiter or a missing inner boundary ends
// the inner parts where the outer ones go on.
#include <algorithm>
#include <new>

#include "mime/address.h"
#include "mime/content.h"
#include "mime/header.h"
#include "mime/mime.h"

namespace postern::mime {

namespace {

// Where an entity stopped: at the boundary line starting at `line` of the
// stack level `level`, or at the end of the message (level -1).
struct Stop {
  size_t line = 0;
  int level = -1;
};

struct Ctx {
  std::string_view msg;
  std::vector<std::string_view> stack;  // boundaries, innermost last
  size_t parts = 0;
};

size_t lineEnd(std::string_view msg, size_t pos) {
  size_t nl = msg.find('\n', pos);
  return nl == std::string_view::npos ? msg.size() : nl + 1;
}

bool blankRest(std::string_view rest) {
  return std::all_of(rest.begin(), rest.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

// The stack level whose boundary `line` is, or -1. A delimiter followed by
// nothing but blanks, or a close delimiter, of the innermost level wins;
// else the innermost level the line merely starts with (Dovecot's prefix
// rule, for generators that put junk after the boundary).
int matchBoundary(const Ctx& c, std::string_view line) {
  if (c.stack.empty() || line.size() < 3 || line[0] != '-' || line[1] != '-') return -1;
  std::string_view text = line.substr(2);
  for (int k = static_cast<int>(c.stack.size()) - 1; k >= 0; --k) {
    std::string_view b = c.stack[static_cast<size_t>(k)];
    if (text.substr(0, b.size()) != b) continue;
    std::string_view rest = text.substr(b.size());
    if (blankRest(rest) || rest.substr(0, 2) == "--") return k;
  }
  for (int k = static_cast<int>(c.stack.size()) - 1; k >= 0; --k) {
    std::string_view b = c.stack[static_cast<size_t>(k)];
    if (text.substr(0, b.size()) == b) return k;
  }
  return -1;
}

bool isClose(const Ctx& c, std::string_view line, int level) {
  std::string_view b = c.stack[static_cast<size_t>(level)];
  return line.substr(2 + b.size(), 2) == "--";
}

// First boundary line at or after pos.
Stop scan(const Ctx& c, size_t pos) {
  if (c.stack.empty()) return {c.msg.size(), -1};
  while (pos < c.msg.size()) {
    size_t e = lineEnd(c.msg, pos);
    if (c.msg[pos] == '-') {
      int level = matchBoundary(c, c.msg.substr(pos, e - pos));
      if (level >= 0) return {pos, level};
    }
    pos = e;
  }
  return {c.msg.size(), -1};
}

// The line end before a boundary line belongs to the boundary (RFC 2046 5.1.1).
size_t bodyEndBefore(const Ctx& c, const Stop& st, size_t bodyStart) {
  if (st.level < 0) return c.msg.size();
  size_t l = st.line;
  if (l >= bodyStart + 2 && c.msg.substr(l - 2, 2) == "\r\n") return l - 2;
  if (l >= bodyStart + 1 && c.msg[l - 1] == '\n') return l - 1;
  return l;
}

void countBody(std::string_view body, Part& p) {
  uint64_t lf = 0, crlf = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n') {
      ++lf;
      if (i > 0 && body[i - 1] == '\r') ++crlf;
    }
  }
  p.bodyLines = lf;
  p.bodyOctets = body.size() + (lf - crlf);
}

void parseContentFields(std::string_view header, Part& p) {
  bool haveType = false, haveDisp = false, haveLang = false;
  forEachField(header, [&](const HeaderField& f) {
    std::string_view n = f.name;
    if (n.size() < 8 || !iequals(n.substr(0, 8), "Content-")) return true;
    n.remove_prefix(8);
    auto text = [&](std::optional<std::string>& slot) {
      if (!slot) slot = unfold(f.rawValue, kMaxValue);
    };
    if (iequals(n, "Type")) {
      if (!haveType) haveType = parseContentType(unfold(f.rawValue), p.type, p.subtype, p.params);
    } else if (iequals(n, "Transfer-Encoding")) {
      if (!p.encoding) p.encoding = parseToken(unfold(f.rawValue, kMaxValue));
    } else if (iequals(n, "ID")) {
      text(p.id);
    } else if (iequals(n, "Description")) {
      text(p.description);
    } else if (iequals(n, "MD5")) {
      text(p.md5);
    } else if (iequals(n, "Location")) {
      text(p.location);
    } else if (iequals(n, "Disposition")) {
      if (!haveDisp) {
        std::string token;
        haveDisp = parseDisposition(unfold(f.rawValue), token, p.dispositionParams);
        if (haveDisp) p.disposition = std::move(token);
      }
    } else if (iequals(n, "Language")) {
      if (!haveLang) {
        haveLang = true;
        p.language = parseLanguage(unfold(f.rawValue, kMaxValue));
      }
    }
    return true;
  });
}

void makeOpaque(Part& p, std::string type, std::string subtype) {
  p.type = std::move(type);
  p.subtype = std::move(subtype);
  p.params.clear();
}

Part parseEntity(Ctx& c, size_t start, int depth, bool inDigest, bool isMessage, Stop& stop) {
  Part p;
  ++c.parts;
  std::string_view msg = c.msg;

  // Header: up to and including the first empty line. A boundary line
  // before it ends the entity (a part with a header and no body).
  size_t pos = start;
  size_t headerEnd = msg.size();
  bool endedByBoundary = false;
  while (pos < msg.size()) {
    size_t e = lineEnd(msg, pos);
    std::string_view line = msg.substr(pos, e - pos);
    if (line == "\r\n" || line == "\n") {
      headerEnd = e;
      break;
    }
    if (line[0] == '-' && !c.stack.empty()) {
      int level = matchBoundary(c, line);
      if (level >= 0) {
        // The line end before the boundary belongs to the boundary, as for
        // a body (so the part stays inside its parent's body).
        stop = {pos, level};
        headerEnd = bodyEndBefore(c, stop, start);
        endedByBoundary = true;
        break;
      }
    }
    pos = e;
  }
  p.header = {start, headerEnd};
  std::string_view header = msg.substr(start, headerEnd - start);
  parseContentFields(header, p);
  if (isMessage) p.envelope = parseEnvelope(header);
  if (p.type.empty() && inDigest) {
    p.type = "message";
    p.subtype = "rfc822";
  }

  size_t bodyStart = headerEnd;
  if (endedByBoundary) {
    p.body = {bodyStart, bodyStart};
    countBody({}, p);
    return p;
  }

  bool deep = depth >= kMaxDepth || c.parts >= kMaxParts;
  std::optional<std::string_view> boundary;
  if (p.isType("multipart")) {
    boundary = findParam(p.params, "boundary");
    if (boundary && boundary->empty()) boundary.reset();
    if (deep) {
      makeOpaque(p, "application", "octet-stream");
    } else if (!boundary) {
      // Without a boundary nothing can be split: show it as text.
      makeOpaque(p, "text", "plain");
    } else {
      p.kind = Part::Kind::kMultipart;
    }
  } else if (p.isType("message", "rfc822")) {
    if (deep) {
      makeOpaque(p, "application", "octet-stream");
    } else {
      p.kind = Part::Kind::kMessage;
    }
  }

  if (p.kind == Part::Kind::kMessage) {
    p.children.push_back(parseEntity(c, bodyStart, depth + 1, false, true, stop));
  } else if (p.kind == Part::Kind::kMultipart) {
    // The boundary string lives in p.params, which moves when p does; the
    // stack needs a view of stable storage, so keep a copy for this frame.
    std::string own(*boundary);
    c.stack.push_back(own);
    const int mine = static_cast<int>(c.stack.size()) - 1;
    bool inDigestChildren = p.isType("multipart", "digest");
    Stop st = scan(c, bodyStart);  // skips the preamble
    while (st.level == mine) {
      size_t next = lineEnd(msg, st.line);
      if (isClose(c, msg.substr(st.line, next - st.line), mine)) {
        c.stack.pop_back();  // the epilogue ends only at an outer boundary
        st = scan(c, next);
        break;
      }
      if (c.parts >= kMaxParts) {
        st = scan(c, next);
        continue;
      }
      Stop childStop;
      p.children.push_back(parseEntity(c, next, depth + 1, inDigestChildren, false, childStop));
      st = childStop;
    }
    if (static_cast<int>(c.stack.size()) > mine) c.stack.pop_back();
    stop = st;
  } else {
    stop = scan(c, bodyStart);
  }
  size_t end = std::max(bodyStart, bodyEndBefore(c, stop, bodyStart));
  // A last child that is empty and starts right at the stopping boundary
  // (a delimiter line directly followed by an outer boundary) ends after
  // the line end bodyEndBefore() gave to the boundary: the body still
  // encloses it.
  if (!p.children.empty()) end = std::max<size_t>(end, p.children.back().body.end);
  p.body = {bodyStart, end};
  countBody(msg.substr(p.body.start, p.body.size()), p);
  return p;
}

}  // namespace

bool Part::isType(std::string_view t, std::string_view sub) const {
  std::string_view et = type.empty() ? std::string_view("text") : std::string_view(type);
  std::string_view es = type.empty() ? std::string_view("plain") : std::string_view(subtype);
  return iequals(et, t) && (sub.empty() || iequals(es, sub));
}

Structure parse(std::string_view message) {
  Structure s;
  try {
    Ctx c{message, {}, 0};
    Stop st;
    s.root = parseEntity(c, 0, 0, false, true, st);
  } catch (const std::exception&) {
    // Out of memory on an absurd message: serve it as one text/plain part.
    Part p;
    size_t h = message.find("\r\n\r\n");
    size_t end = h == std::string_view::npos ? message.size() : h + 4;
    p.header = {0, end};
    p.body = {end, message.size()};
    p.bodyOctets = p.body.size();
    p.envelope = Envelope{};
    s.root = std::move(p);
  }
  return s;
}

}  // namespace postern::mime
