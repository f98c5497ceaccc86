// Fuzz target: BODY[section] extraction (imapd/section.h) on arbitrary
// messages. The input's first line is a fetch-att ("BODY[1.MIME]<0.10>",
// parsed with fetch.h); the rest is the stored message. Every input is also
// cut with a fixed set of sections.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fetch.h"
#include "fuzz_util.h"
#include "section.h"
#include "types.h"

namespace {

using namespace postern;
using Text = imap::BodySection::Text;

// Where the header ends, read independently of section.cc: at the first
// empty line (a message starting with CRLF has an empty header), or the
// whole message when there is none.
size_t expectedHeaderSize(std::string_view msg) {
  if (msg.substr(0, 2) == "\r\n") return 2;
  const size_t p = msg.find("\r\n\r\n");
  return p == std::string_view::npos ? msg.size() : p + 4;
}

std::string fieldName(std::string_view line) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return "";
  std::string name = imap::toUpper(line.substr(0, colon));
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
  return name;
}

void checkHeaderFields(std::string_view header, const std::vector<std::string>& fields, bool exclude) {
  const std::string out = imapd::headerFields(header, fields, exclude);
  FUZZ_CHECK(out.size() >= 2 && out.substr(out.size() - 2) == "\r\n");
  FUZZ_CHECK(out.size() <= header.size() + 2);
  // The result is whole lines of the header, in order, each field line
  // selected by its name, each continuation line following a selected one.
  std::string_view rest(out);
  rest.remove_suffix(2);
  size_t hpos = 0;
  bool keep = false;
  while (!rest.empty()) {
    const size_t eol = rest.find("\r\n");
    const size_t n = eol == std::string_view::npos ? rest.size() : eol + 2;
    const std::string_view line = rest.substr(0, n);
    rest.remove_prefix(n);
    const size_t at = header.find(line, hpos);
    FUZZ_CHECK(at != std::string_view::npos);
    hpos = at + line.size();
    if (line[0] == ' ' || line[0] == '\t') {
      FUZZ_CHECK(keep);
      continue;
    }
    const std::string name = fieldName(line);
    FUZZ_CHECK(line.find(':') != std::string_view::npos);
    const bool listed = std::find(fields.begin(), fields.end(), name) != fields.end();
    FUZZ_CHECK(listed != exclude);
    keep = true;
  }
}

void checkSection(std::string_view msg, const imap::BodySection& sec) {
  // Sections come from the MIME engine now: check invariants, not a model.
  const auto got = imapd::extractSection(msg, sec);
  if (!sec.part.empty()) {
    if (got && sec.text != Text::kHeaderFields && sec.text != Text::kHeaderFieldsNot)
      FUZZ_CHECK(msg.find(*got) != std::string_view::npos);  // a slice of the message
    return;
  }
  imap::BodySection h = sec, t = sec;
  h.text = Text::kHeader;
  t.text = Text::kText;
  const auto header = imapd::extractSection(msg, h);
  const auto text = imapd::extractSection(msg, t);
  FUZZ_CHECK(header && text);
  FUZZ_CHECK(*header + *text == msg);  // header and text split the message
  switch (sec.text) {
    case Text::kNone:
      FUZZ_CHECK(got && *got == msg);
      break;
    case Text::kHeader:
    case Text::kText:
      FUZZ_CHECK(got);
      break;
    case Text::kHeaderFields:
    case Text::kHeaderFieldsNot:
      FUZZ_CHECK(got);
      checkHeaderFields(*header, sec.fields, sec.text == Text::kHeaderFieldsNot);
      break;
    case Text::kMime:
      FUZZ_CHECK(!got);
      break;
  }
}

imap::BodySection section(std::vector<uint32_t> part, Text text, std::vector<std::string> fields = {}) {
  imap::BodySection s;
  s.part = std::move(part);
  s.text = text;
  s.fields = std::move(fields);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t lf = input.find('\n');
  const std::string_view spec = lf == std::string_view::npos ? input : input.substr(0, lf);
  const std::string_view msg = lf == std::string_view::npos ? std::string_view{} : input.substr(lf + 1);

  const std::string_view header = imapd::headerOf(msg);
  const std::string_view text = imapd::textOf(msg);
  FUZZ_CHECK(header.data() == msg.data());
  FUZZ_CHECK(header.size() + text.size() == msg.size());
  FUZZ_CHECK(header.size() == expectedHeaderSize(msg));

  static const std::vector<imap::BodySection> kFixed = {
      section({}, Text::kNone),
      section({}, Text::kHeader),
      section({}, Text::kText),
      section({}, Text::kHeaderFields, {"FROM", "SUBJECT"}),
      section({}, Text::kHeaderFieldsNot, {"RECEIVED", "X-SPAM"}),
      section({}, Text::kHeaderFields, {"CONTENT-TYPE"}),
      section({1}, Text::kNone),
      section({1}, Text::kMime),
      section({1}, Text::kHeader),
      section({2}, Text::kNone),
      section({1, 1}, Text::kText),
  };
  for (const auto& sec : kFixed) checkSection(msg, sec);

  auto att = imap::parseFetchAtt(spec);
  if (att && att->kind == imap::FetchItem::Kind::kBodySection) checkSection(msg, att->section);
  return 0;
}
