#pragma once
// Every LMDB key and value layout of postern-stored, in one place.
//
// The environment (<data_dir>/store/) holds one named database per kind of
// key. Integers inside keys are big-endian so that LMDB's default memcmp
// order is numeric order and a prefix scan walks one user's mailboxes or one
// mailbox's messages in ascending id/uid order.
//
//   db "meta"       key: ASCII counter name (kMeta*)      value: be64 (kMetaScramSecret: 32 bytes)
//   db "users"      key: canonical user name (lower-case) value: records.User (protobuf)
//   db "mailboxes"  key: be32 user id + mailbox name      value: records.Mailbox (protobuf)
//   db "mbox_ids"   key: be32 mailbox id                  value: be32 user id + mailbox name
//                   (index so that operations addressed by mailbox id find the record)
//   db "messages"   key: be32 mailbox id + be32 uid       value: records.Message (protobuf)
//   db "bodies"     key: be64 body id                     value: a version byte, then
//                   version 1: be32 zlib crc32 of the data, then the message bytes;
//                   version 2 (written since): be32 crc32 of the data, be32 length
//                   of the header block (mime::headerBlockSize()), be32 crc32 of the header
//                   block, then the message bytes: a header-only read (SEARCH
//                   FROM / SUBJECT ...) checks the header block without reading
//                   the whole body. Both versions are read.
//   db "body_refs"  key: be64 body id                     value: be32 reference count
//   db "imap"       key: be64 body id                     value: imap::renderAll() of the
//                   structure (IMAP BODYSTRUCTURE, BODY, ENVELOPE as sent), written with
//                   the body at delivery; absent for bodies stored before it existed
//                   (FETCH then renders from "structures")
//   db "text"       key: be64 body id                     value: a version byte (1), be32
//                   crc32c of the filter block, be32 crc32c of the texts, then
//                   mime::buildSearchText() (a trigram filter and the decoded,
//                   case-folded texts SEARCH BODY / TEXT match), written with the body
//                   at delivery; absent for bodies stored before it existed (SEARCH
//                   then scans those bodies)
//   db "structures" key: be64 body id                     value: mime::serialise() of the
//                   message's MIME structure (offsets, envelope), written with the body at
//                   delivery so FETCH never re-parses; absent for bodies stored before it
//                   existed (readers parse those on demand)
//
// A body is shared by every message that copies it (COPY, MOVE, multi-user
// delivery); it is removed when its reference count drops to 0.
// Protobuf records live in stored/records.proto; only .cc files include the
// generated header.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace postern::stored::keys {

inline constexpr const char* kDbMeta = "meta";
inline constexpr const char* kDbUsers = "users";
inline constexpr const char* kDbMailboxes = "mailboxes";
inline constexpr const char* kDbMailboxIds = "mbox_ids";
inline constexpr const char* kDbMessages = "messages";
inline constexpr const char* kDbBodies = "bodies";
inline constexpr const char* kDbBodyRefs = "body_refs";
inline constexpr const char* kDbStructures = "structures";
inline constexpr const char* kDbImap = "imap";
inline constexpr const char* kDbText = "text";
inline constexpr unsigned kMaxDbs = 10;

// Counters in db "meta" (be64 values).
inline constexpr std::string_view kMetaFormat = "format";            // layout version
inline constexpr std::string_view kMetaNextUserId = "next_user_id";
inline constexpr std::string_view kMetaNextMailboxId = "next_mailbox_id";
inline constexpr std::string_view kMetaNextBodyId = "next_body_id";
inline constexpr std::string_view kMetaLastUidValidity = "last_uidvalidity";
// Not a counter: 32 random bytes, made once, from which stored derives the
// SCRAM keys it shows for unknown users (stored/password.h, fakeScramRecord).
inline constexpr std::string_view kMetaScramSecret = "scram_fake_secret";
// 2: subscriptions are a list in the user record (format 1: a mailbox flag).
// 3: bodies may be body format 3 (CRC-32C): nothing is converted, but a
//    stored of format 2 would take those bodies for damaged, so it must
//    refuse the store (an unknown format refuses to open).
inline constexpr uint64_t kFormatVersion = 3;

inline constexpr uint8_t kBodyVersion1 = 1;
inline constexpr size_t kBodyHeader1 = 5;  // version byte + be32 crc32
// Version 2: zlib crc32 (read, no longer written); version 3: the same
// layout with CRC-32C (crc32c.h: the SSE 4.2 instruction, ~3x zlib's speed;
// every FETCH of a body checks it).
inline constexpr uint8_t kBodyVersion2 = 2;
inline constexpr uint8_t kBodyVersion = 3;
inline constexpr size_t kBodyHeader = 13;  // version byte + be32 crc + be32 header length + be32 header crc
inline constexpr uint8_t kTextVersion = 1;
inline constexpr size_t kTextHeader = 9;  // version byte + be32 crc32 of the filter block + be32 crc32 of the texts

inline void putBe32(std::string* out, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out->append(b, 4);
}
inline void putBe64(std::string* out, uint64_t v) {
  putBe32(out, uint32_t(v >> 32));
  putBe32(out, uint32_t(v));
}
inline uint32_t getBe32(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}
inline uint64_t getBe64(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  return uint64_t(getBe32(b)) << 32 | getBe32(b + 4);
}

inline std::string be32(uint32_t v) {
  std::string s;
  putBe32(&s, v);
  return s;
}
inline std::string be64(uint64_t v) {
  std::string s;
  putBe64(&s, v);
  return s;
}

// db "mailboxes": all of one user's mailboxes share the 4-byte prefix.
inline std::string mailboxKey(uint32_t user_id, std::string_view name) {
  std::string k = be32(user_id);
  k.append(name);
  return k;
}
inline std::string userPrefix(uint32_t user_id) { return be32(user_id); }

// db "messages": all of one mailbox's messages share the 4-byte prefix.
inline std::string messageKey(uint32_t mailbox_id, uint32_t uid) {
  std::string k = be32(mailbox_id);
  putBe32(&k, uid);
  return k;
}
inline std::string mailboxPrefix(uint32_t mailbox_id) { return be32(mailbox_id); }

inline std::string bodyKey(uint64_t body_id) { return be64(body_id); }

}  // namespace postern::stored::keys
