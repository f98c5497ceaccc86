#pragma once
// The shared line framing (common/line_reader.h), under this protocol's namespace.
#include "common/line_reader.h"

namespace postern::pop3d {
using postern::LineReader;
}  // namespace postern::pop3d
