#pragma once
// CRC-32C (Castagnoli), the checksum of search texts (keys.h, db "text"):
// read for every message a SEARCH BODY / TEXT looks at, so it uses the
// SSE 4.2 crc32 instruction when the CPU has it (about 8 bytes a cycle),
// a table otherwise; both give the same value.
#include <cstdint>
#include <string_view>

namespace postern::stored {

uint32_t crc32c(std::string_view data);
// The same by the table alone (tests compare the two).
uint32_t crc32cTable(std::string_view data);

}  // namespace postern::stored
