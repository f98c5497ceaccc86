#include "bodystructure.h"

#include "writer.h"

namespace postern::imap {

namespace {

using mime::Part;

void appendOpt(std::string& out, const std::optional<std::string>& s) {
  appendNString(out, s ? std::optional<std::string_view>(*s) : std::nullopt);
}

void appendAddresses(std::string& out, const std::vector<mime::Address>& list) {
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const mime::Address& a : list) {
    out += '(';
    appendOpt(out, a.name);
    out += ' ';
    appendOpt(out, a.route);
    out += ' ';
    appendOpt(out, a.mailbox);
    out += ' ';
    appendOpt(out, a.host);
    out += ')';
  }
  out += ')';
}

// body-fld-param; `defaultCharset` adds ("charset" "us-ascii") when the
// part has no charset parameter.
void appendParams(std::string& out, const std::vector<mime::Param>& params, bool defaultCharset) {
  bool hasCharset = false;
  for (const mime::Param& p : params) hasCharset = hasCharset || iequals(p.name, "charset");
  bool addCharset = defaultCharset && !hasCharset;
  if (params.empty() && !addCharset) {
    out += "NIL";
    return;
  }
  out += '(';
  bool first = true;
  for (const mime::Param& p : params) {
    if (!first) out += ' ';
    first = false;
    appendString(out, p.name);
    out += ' ';
    appendString(out, p.value);
  }
  if (addCharset) {
    if (!first) out += ' ';
    out += "\"charset\" \"us-ascii\"";
  }
  out += ')';
}

// body-fld-dsp SP body-fld-lang SP body-fld-loc
void appendExtensionTail(std::string& out, const Part& p) {
  out += ' ';
  if (!p.disposition) {
    out += "NIL";
  } else {
    out += '(';
    appendString(out, *p.disposition);
    out += ' ';
    appendParams(out, p.dispositionParams, false);
    out += ')';
  }
  out += ' ';
  if (p.language.empty()) {
    out += "NIL";
  } else {
    out += '(';
    for (size_t i = 0; i < p.language.size(); ++i) {
      if (i) out += ' ';
      appendString(out, p.language[i]);
    }
    out += ')';
  }
  out += ' ';
  appendOpt(out, p.location);
}

void appendMultipart(std::string& out, const Part& p, bool extended) {
  out += '(';
  if (p.children.empty()) {
    out += "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0";
    out += extended ? " NIL NIL NIL NIL)" : ")";
  }
  for (const Part& c : p.children) appendBody(out, c, extended);
  out += ' ';
  appendString(out, p.subtype.empty() ? std::string_view("x-unknown") : std::string_view(p.subtype));
  if (extended) {
    out += ' ';
    appendParams(out, p.params, false);
    appendExtensionTail(out, p);
  }
  out += ')';
}

}  // namespace

void appendEnvelope(std::string& out, const mime::Envelope& e) {
  out += '(';
  appendOpt(out, e.date);
  out += ' ';
  appendOpt(out, e.subject);
  for (const std::vector<mime::Address>* list : {&e.from, &e.sender, &e.replyTo, &e.to, &e.cc, &e.bcc}) {
    out += ' ';
    appendAddresses(out, *list);
  }
  out += ' ';
  appendOpt(out, e.inReplyTo);
  out += ' ';
  appendOpt(out, e.messageId);
  out += ')';
}

std::string envelope(const mime::Structure& s) {
  std::string out;
  appendEnvelope(out, s.root.envelope ? *s.root.envelope : mime::Envelope{});
  return out;
}

void appendBody(std::string& out, const Part& p, bool extended) {
  if (p.kind == Part::Kind::kMultipart) {
    appendMultipart(out, p, extended);
    return;
  }
  bool text = p.isType("text");
  out += '(';
  if (p.type.empty()) {
    out += "\"text\" \"plain\"";
  } else {
    appendString(out, p.type);
    out += ' ';
    appendString(out, !p.subtype.empty() ? std::string_view(p.subtype)
                                         : (text ? std::string_view("plain") : std::string_view("unknown")));
  }
  out += ' ';
  appendParams(out, p.params, text);
  out += ' ';
  appendOpt(out, p.id);
  out += ' ';
  appendOpt(out, p.description);
  out += ' ';
  appendString(out, p.encoding ? std::string_view(*p.encoding) : std::string_view("7bit"));
  out += ' ';
  out += std::to_string(p.bodyOctets);
  if (p.kind == Part::Kind::kMessage && !p.children.empty()) {
    const Part& inner = p.children[0];
    out += ' ';
    appendEnvelope(out, inner.envelope ? *inner.envelope : mime::Envelope{});
    out += ' ';
    appendBody(out, inner, extended);
    out += ' ';
    out += std::to_string(p.bodyLines);
  } else if (text) {
    out += ' ';
    out += std::to_string(p.bodyLines);
  }
  if (extended) {
    out += ' ';
    appendOpt(out, p.md5);
    appendExtensionTail(out, p);
  }
  out += ')';
}

std::string bodyStructure(const mime::Structure& s, bool extended) {
  std::string out;
  appendBody(out, s.root, extended);
  return out;
}

namespace {

void putLengthed(std::string& out, std::string_view s) {
  const auto n = static_cast<uint32_t>(s.size());
  const char b[4] = {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  out.append(b, 4);
  out += s;
}

std::optional<std::string_view> takeLengthed(std::string_view& v) {
  if (v.size() < 4) return std::nullopt;
  const auto* b = reinterpret_cast<const unsigned char*>(v.data());
  const size_t n = size_t(b[0]) << 24 | size_t(b[1]) << 16 | size_t(b[2]) << 8 | size_t(b[3]);
  if (n > v.size() - 4) return std::nullopt;
  std::string_view s = v.substr(4, n);
  v.remove_prefix(4 + n);
  return s;
}

}  // namespace

std::string renderAll(const mime::Structure& s) {
  std::string out;
  putLengthed(out, bodyStructure(s, true));
  putLengthed(out, bodyStructure(s, false));
  putLengthed(out, envelope(s));
  return out;
}

std::optional<Rendered> parseRendered(std::string_view v) {
  auto bs = takeLengthed(v);
  auto body = bs ? takeLengthed(v) : std::nullopt;
  auto env = body ? takeLengthed(v) : std::nullopt;
  // Each is a parenthesised list or empty; anything else is not ours.
  auto list = [](std::string_view x) { return x.empty() || (x.size() >= 2 && x.front() == '(' && x.back() == ')'); };
  if (!env || !v.empty() || !list(*bs) || !list(*body) || !list(*env)) return std::nullopt;
  return Rendered{*bs, *body, *env};
}

namespace {
Rendered keepOnly(const Rendered& r, uint32_t parts) {
  return Rendered{parts & kRenderedBodyStructure ? r.bodystructure : std::string_view(),
                  parts & kRenderedBody ? r.body : std::string_view(),
                  parts & kRenderedEnvelope ? r.envelope : std::string_view()};
}
}  // namespace

size_t selectedSize(const Rendered& all, uint32_t parts) {
  const Rendered k = keepOnly(all, parts);
  return 12 + k.bodystructure.size() + k.body.size() + k.envelope.size();
}

void appendSelected(std::string& out, const Rendered& all, uint32_t parts) {
  const Rendered k = keepOnly(all, parts);
  putLengthed(out, k.bodystructure);
  putLengthed(out, k.body);
  putLengthed(out, k.envelope);
}

std::optional<std::string> selectRendered(std::string_view all, uint32_t parts) {
  auto r = parseRendered(all);
  if (!r) return std::nullopt;
  std::string out;
  out.reserve(selectedSize(*r, parts));
  appendSelected(out, *r, parts);
  return out;
}

}  // namespace postern::imap
