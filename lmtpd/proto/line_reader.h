#pragma once
// The shared line framing (common/line_reader.h), under this protocol's namespace.
#include "common/line_reader.h"

namespace postern::lmtpd {
using postern::LineReader;
}  // namespace postern::lmtpd
