#pragma once
// The workloads of bench/loadgen. Each runs against one server described by Options,
// checks every response, and prints one RESULT line (stats.h). Any failed check throws.

#include <cstdint>
#include <string>

#include "protocols.h"

namespace postern::bench {

struct Options {
  Target target;
  std::string user = "bench";  // a name, or a pattern with %d (user_base + k)
  int users = 1;               // how many names the pattern covers
  int user_base = 1;
  std::string rcpt_domain;  // LMTP recipients: user@rcpt_domain (empty: user)
  std::string mailbox = "INBOX";
  uint64_t seed = 1;
  uint64_t first = 0;        // first message index of the generated set
  uint64_t messages = 1000;  // messages to send, or how many the mailbox holds
  int sessions = 1;          // concurrent connections
  int repeat = 3;            // repetitions of a timed step
  int count = 1000;          // stream: messages per FETCH
  double duration = 10;      // seconds, for timed loops (mixed, connect)
  double max_seconds = 600;  // hard bound of every loop
  bool tls = false;          // connect: implicit TLS port
  bool first_time = false;   // sync: also time the first FETCH of ENVELOPE / BODYSTRUCTURE
  bool wait_stdin = false;   // idle: print READY and wait for a line on stdin
  int connect_threads = 8;   // idle: connections opened at a time
  int rcpt_batch = 50;       // idle: recipients per LMTP transaction
  int deliver_sessions = 4;  // idle: LMTP sessions delivering at once
  size_t pregen_mb = 512;    // deliver/append: generate up front up to this size
  std::string maildir;       // generate: write maildir files (LF) into this directory

  std::string userName(long k) const { return formatName(user, user_base + (k % users)); }
  std::string rcpt(long k) const {
    return rcpt_domain.empty() ? userName(k) : userName(k) + "@" + rcpt_domain;
  }
};

void runDeliver(const Options& o);  // LMTP, `sessions` sessions, messages [first, first+messages)
void runAppend(const Options& o);   // IMAP APPEND, same messages
void runSync(const Options& o);     // LOGIN+SELECT, UID FETCH FLAGS, ENVELOPE, BODYSTRUCTURE
void runSearch(const Options& o);   // UID SEARCH SUBJECT / BODY / TEXT with checked hit counts
void runStream(const Options& o);   // FETCH 1:count BODY.PEEK[]
void runIdle(const Options& o);     // `sessions` IDLE sessions over `users`, then one delivery each
void runMixed(const Options& o);    // `sessions` clients, own mailbox each, a mix of commands
void runConnect(const Options& o);  // connect + LOGIN + LOGOUT loop (plain or TLS)
void runPop3(const Options& o);     // USER/PASS, STAT, UIDL, LIST, RETR all
// Writes the messages to stdout as an mbox (inspection), or with --maildir DIR as maildir
// files in DIR, as an LMTP delivery to --user would leave them (Return-Path, Delivered-To).
void runGenerate(const Options& o);

}  // namespace postern::bench
