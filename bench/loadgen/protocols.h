#pragma once
// Minimal blocking IMAP, LMTP and POP3 clients over Conn. They check protocol framing and
// status replies; workloads check the content.

#include <memory>
#include <string>
#include <vector>

#include "net.h"

namespace postern::bench {

// Where the servers are and how the tool logs in.
struct Target {
  std::string host = "127.0.0.1";
  int imap = 0, imaps = 0, pop3 = 0, lmtp = 0;
  std::string password = "bench";
  double timeout = 60;  // seconds, every socket read and write
};

// One untagged IMAP response: its text with each literal replaced by "{n}" as sent, and
// the literals themselves in order.
struct Untagged {
  std::string text;
  std::vector<std::string> literals;
};

struct ImapReply {
  std::vector<Untagged> untagged;
  std::string tagged;  // the whole tagged line
  bool ok() const;
};

class ImapClient {
 public:
  // Connects (TLS to t.imaps when tls) and reads the greeting; throws unless "* OK".
  ImapClient(const Target& t, bool tls = false);
  // Sends "<tag> <command>" and reads every response up to the tagged one.
  ImapReply command(const std::string& command);
  // The same; throws unless the tagged status is OK.
  ImapReply ok(const std::string& command);
  void login(const std::string& user, const std::string& password);
  // SELECT; returns EXISTS.
  uint32_t select(const std::string& mailbox);
  // APPEND with a LITERAL+ literal when the server offers it, else a synchronising one.
  ImapReply append(const std::string& mailbox, const std::string& message, const std::string& flags = "");
  // LOGOUT (expects BYE + tagged OK) and close.
  void logout();
  // Sends IDLE and waits for the continuation request.
  void idle();
  Conn& conn() { return *conn_; }
  const std::string& greeting() const { return greeting_; }

 private:
  std::string nextTag();
  void readResponse(std::string first, Untagged& out);
  ImapReply readUntil(const std::string& tag);
  void learnCapabilities(const std::string& text);

  std::unique_ptr<Conn> conn_;
  std::string greeting_;
  unsigned tag_ = 0;
  bool literal_plus_ = false;
  bool caps_known_ = false;
};

// Helpers over IMAP responses.
// "* 12 FETCH (...)" -> 12; 0 when not a FETCH.
uint32_t fetchSeq(const Untagged& u);
// The number after "NAME " in text (e.g. "RFC822.SIZE 1234"); -1 when absent.
long long numberAfter(const std::string& text, const std::string& name);
// The numbers of "* SEARCH ..." responses, in order.
std::vector<uint64_t> searchHits(const ImapReply& r);
// "* N EXISTS" / "* N EXPUNGE" -> N when the response is of that kind, else 0.
uint32_t untaggedNumber(const std::string& text, const char* kind);

class LmtpClient {
 public:
  explicit LmtpClient(const Target& t);
  // One transaction: MAIL, RCPT for each recipient, DATA (pipelined when offered);
  // throws unless every reply is 2xx/354 and every recipient got a final 250.
  void deliver(const std::string& from, const std::vector<std::string>& rcpts, const std::string& message);
  // As deliver, but calls sent() right after the final "." went out (before the replies).
  template <typename F>
  void deliverTimed(const std::string& from, const std::vector<std::string>& rcpts,
                    const std::string& message, F sent);
  void quit();

 private:
  int reply(std::string* text = nullptr);
  void sendData(const std::string& message);
  void transaction(const std::string& from, const std::vector<std::string>& rcpts, const std::string& message,
                   void (*cb)(void*), void* arg);
  std::unique_ptr<Conn> conn_;
  bool pipelining_ = false;
};

template <typename F>
void LmtpClient::deliverTimed(const std::string& from, const std::vector<std::string>& rcpts,
                              const std::string& message, F sent) {
  transaction(
      from, rcpts, message, [](void* a) { (*static_cast<F*>(a))(); }, &sent);
}

class Pop3Client {
 public:
  explicit Pop3Client(const Target& t);
  // Sends a command; returns the status line; throws unless it starts with +OK.
  std::string ok(const std::string& command);
  // Reads a multi-line body after a +OK (dot-unstuffed, CRLF kept); returns the lines
  // count and appends the content to out when out is not null.
  size_t multiline(std::string* out);
  void login(const std::string& user, const std::string& password);
  void quit();

 private:
  std::unique_ptr<Conn> conn_;
};

}  // namespace postern::bench
