#pragma once
// FetchBodies' packed form (FetchBodiesRequest.packed, structure-only reads):
// what many messages' FETCH of BODYSTRUCTURE / BODY / ENVELOPE needs, in one
// byte string (BodyChunk.packed) instead of a protobuf message per message,
// so 100,000 of them cost no allocation, message or copy each on either side.
// One entry per message, in the order asked:
//   uid (4 bytes, big-endian)  kind (1 byte)  length (4 bytes, big-endian)  data
// kinds: 'R' the IMAP renderings kept at delivery (imap::renderAll() /
// selectRendered() form), 'S' the serialised MIME structure (mime::serialise,
// for bodies stored before renderings were kept), 'E' the message cannot be
// read: data = code (4 bytes, big-endian, a postern.store.v1.ErrorCode value)
// then the error's message.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::packed {

enum class Kind : char { kRendered = 'R', kStructure = 'S', kError = 'E' };

constexpr size_t kHeaderSize = 9;

// The header of an entry whose `length` bytes of data the caller appends next.
void appendHeader(std::string& out, uint32_t uid, Kind kind, uint32_t length);
void append(std::string& out, uint32_t uid, Kind kind, std::string_view data);
void appendError(std::string& out, uint32_t uid, uint32_t code, std::string_view message);

struct Entry {
  uint32_t uid = 0;
  Kind kind = Kind::kRendered;
  std::string_view data;     // kRendered, kStructure
  uint32_t code = 0;         // kError
  std::string_view message;  // kError
};
// The entry at *offset of `packed`, advancing *offset past it; nullopt when
// it is not one (truncated, unknown kind).
std::optional<Entry> next(std::string_view packed, size_t* offset);

}  // namespace postern::packed
