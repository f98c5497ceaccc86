// Pipelining (RFC 3501 section 5.5): commands that cannot be ambiguous start
// while earlier ones wait for the store; responses still come in the
// client's order; commands that write, change state or renumber wait.
// The FakeStore holds body streams (hold_fetch_after = 0) so a FETCH of a
// body stays "in progress" until releaseFetches().
#include "imap_harness.h"

namespace postern::imapd::testing {
namespace {

std::unique_ptr<Client> selected(World& w) {
  auto c = w.connect();
  login(*c);
  selectInbox(*c);
  return c;
}

void holdBodies(World& w) {
  w.onLoop([&] { return w.store->hold_fetch_after = 0; });
}

void release(World& w) {
  w.onLoop([&] {
    w.store->hold_fetch_after = -1;
    w.store->releaseFetches();
    return 0;
  });
}

int fetchCalls(World& w) {
  return w.onLoop([&] { return w.store->fetch_calls; });
}

uint64_t flagsOf(World& w, uint32_t uid) {
  return w.onLoop([&]() -> uint64_t {
    for (const auto& m : w.store->inbox("alice"))
      if (m.meta.uid == uid) return m.meta.flags;
    return ~0ull;
  });
}

}  // namespace

TEST_CASE("imap pipelining: independent FETCHes run together, answers stay in order") {
  World w;
  auto c = selected(w);
  holdBodies(w);
  c->write("a FETCH 1 BODY.PEEK[]\r\nb UID FETCH 2 BODY.PEEK[]\r\nc NOOP\r\n");
  // b's body stream was opened while a's is still held: it ran ahead.
  for (int i = 0; i < 100 && fetchCalls(w) < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(fetchCalls(w) == 2);
  // Nothing may be sent before a's responses, though c has finished.
  CHECK(quiet(*c) == "");
  release(w);
  CHECK(readTagged(*c, "c") ==
        "* 1 FETCH (BODY[] " + lit(kMsg1) + ")\r\n"
        "a OK FETCH completed\r\n"
        "* 2 FETCH (UID 2 BODY[] " + lit(kMsg2) + ")\r\n"
        "b OK UID FETCH completed\r\n"
        "c OK NOOP completed\r\n");
}

TEST_CASE("imap pipelining: a STORE waits for the FETCH before it") {
  World w;
  auto c = selected(w);
  holdBodies(w);
  c->write("a FETCH 1 BODY.PEEK[]\r\nb STORE 1 +FLAGS (\\Flagged)\r\n");
  CHECK(quiet(*c, 200) == "");
  CHECK(flagsOf(w, 1) == 0);  // b has not run: it would change what a reports
  release(w);
  CHECK(readTagged(*c, "b") ==
        "* 1 FETCH (BODY[] " + lit(kMsg1) + ")\r\n"
        "a OK FETCH completed\r\n"
        "* 1 FETCH (FLAGS (\\Flagged))\r\n"
        "b OK STORE completed\r\n");
  CHECK(flagsOf(w, 1) == flag::kFlagged);
}

TEST_CASE("imap pipelining: a FETCH that sets \\Seen is a write and waits") {
  World w;
  auto c = selected(w);
  holdBodies(w);
  c->write("a FETCH 2 BODY.PEEK[]\r\nb FETCH 1 BODY[]\r\n");
  CHECK(quiet(*c, 200) == "");
  CHECK(fetchCalls(w) == 1);
  CHECK(flagsOf(w, 1) == 0);
  release(w);
  CHECK(readTagged(*c, "b") ==
        "* 2 FETCH (BODY[] " + lit(kMsg2) + ")\r\n"
        "a OK FETCH completed\r\n"
        "* 1 FETCH (BODY[] " + lit(kMsg1) + " FLAGS (\\Seen))\r\n"
        "b OK FETCH completed\r\n");
}

TEST_CASE("imap pipelining: errors and state changes keep their place") {
  World w;
  auto c = selected(w);
  holdBodies(w);
  // CLOSE is exclusive; the FETCH after it must see the authenticated state.
  c->write("a FETCH 1 BODY.PEEK[]\r\nb BOGUS\r\nc CLOSE\r\nd FETCH 1 FLAGS\r\n");
  CHECK(quiet(*c, 200) == "");
  release(w);
  CHECK(readTagged(*c, "d") ==
        "* 1 FETCH (BODY[] " + lit(kMsg1) + ")\r\n"
        "a OK FETCH completed\r\n"
        "b BAD Unknown command BOGUS\r\n"
        "c OK CLOSE completed\r\n"
        "d BAD No mailbox selected\r\n");
}

TEST_CASE("imap pipelining: EXPUNGE is not sent while a later command is running") {
  World w;
  auto a = selected(w);
  auto b = selected(w);
  holdBodies(w);
  // x (held) runs; y (NOOP) runs ahead and finishes first.
  a->write("x UID FETCH 1 BODY.PEEK[]\r\ny NOOP\r\n");
  CHECK(quiet(*a, 100) == "");
  w.onLoop([&] { return w.store->hold_fetch_after = -1; });
  CHECK(run(*b, "b1", "STORE 3 +FLAGS.SILENT (\\Deleted)") == "b1 OK STORE completed\r\n");
  CHECK(run(*b, "b2", "EXPUNGE") == "* 3 EXPUNGE\r\nb2 OK EXPUNGE completed\r\n");
  release(w);
  // x finishes while y is still queued behind it: the EXPUNGE waits for y,
  // the last command, which may carry it.
  CHECK(readTagged(*a, "y") ==
        "* 1 FETCH (UID 1 BODY[] " + lit(kMsg1) + ")\r\n"
        "* 3 FETCH (UID 3 FLAGS (\\Deleted))\r\n"
        "x OK UID FETCH completed\r\n"
        "* 3 EXPUNGE\r\n"
        "y OK NOOP completed\r\n");
}

TEST_CASE("imap pipelining: many STATUS commands run together and answer in order") {
  World w;
  auto c = w.connect();
  login(*c);
  std::string in, want;
  for (int i = 0; i < 40; ++i) {
    in += "s" + std::to_string(i) + " STATUS INBOX (MESSAGES)\r\n";
    want += "* STATUS INBOX (MESSAGES 3)\r\ns" + std::to_string(i) + " OK STATUS completed\r\n";
  }
  c->write(in);
  CHECK(readTagged(*c, "s39") == want);
}

TEST_CASE("imap pipelining: at most 16 commands run at once; the rest wait, parsed or unread") {
  World w;
  auto c = selected(w);
  holdBodies(w);
  std::string in;
  for (int i = 0; i < 40; ++i) in += "f" + std::to_string(i) + " UID FETCH 1 BODY.PEEK[]\r\n";
  c->write(in);
  for (int i = 0; i < 100 && fetchCalls(w) < 16; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(fetchCalls(w) == static_cast<int>(Session::kMaxRunning));
  release(w);
  std::string out = readTagged(*c, "f39");
  size_t pos = 0;
  for (int i = 0; i < 40; ++i) {  // every answer, in order
    size_t at = out.find("f" + std::to_string(i) + " OK UID FETCH completed\r\n", pos);
    CHECK(at != std::string::npos);
    pos = at;
  }
  CHECK(fetchCalls(w) == 40);
}

}  // namespace postern::imapd::testing
