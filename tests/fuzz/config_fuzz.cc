// Fuzz target: the config loader (common/config.h parseConfig), which reads
// postern.conf and conf.d drop-ins an administrator (or a configuration
// tool) wrote, and `posternctl limits set` values. Invariants: never crashes
// or throws; an error names the file; the same text always gives the same
// result; each line of an accepted text also applies (or is refused with a
// message) through applyConfigValue, the live `limits set` path.
#include <cstdint>
#include <string>
#include <string_view>

#include "config.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto a = postern::parseConfig(text, "fuzz.conf");
  auto b = postern::parseConfig(text, "fuzz.conf");
  FUZZ_CHECK(a.ok() == b.ok());
  if (!a.ok()) {
    FUZZ_CHECK(a.error().message.rfind("fuzz.conf", 0) == 0);
    FUZZ_CHECK(a.error().message == b.error().message);
    return 0;
  }
  // Every "key = value" line of an accepted text applies on its own too (the
  // live `limits set` / reload path), or is refused with a message.
  size_t start = 0;
  int lines = 0;
  while (start < text.size() && lines < 64) {
    size_t eol = text.find('\n', start);
    std::string_view line(text.data() + start, (eol == std::string::npos ? text.size() : eol) - start);
    start = eol == std::string::npos ? text.size() : eol + 1;
    ++lines;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(line.substr(0, eq)), value(line.substr(eq + 1));
    postern::Config c = a.value();
    postern::Error e = postern::applyConfigValue(c, key, value, "fuzz");
    if (!e.ok()) FUZZ_CHECK(!e.message.empty());
  }
  return 0;
}
