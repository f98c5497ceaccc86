// postern-loadgen: load generator for IMAP, POP3 and LMTP servers on the loopback.
//
//   postern-loadgen WORKLOAD [--option value ...]
//
// See usage() or bench/README in docs/performance.md. Exit status 0 only when every
// response was checked and found as expected; the figures are the last stdout line,
// "RESULT {json}".

#include <openssl/ssl.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "net.h"
#include "util.h"
#include "workloads.h"

using namespace postern::bench;

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: postern-loadgen WORKLOAD [options]\n"
               "workloads: deliver append sync search stream idle mixed connect pop3 generate\n"
               "options (defaults in brackets):\n"
               "  --host 127.0.0.1 --imap-port N --imaps-port N --pop3-port N --lmtp-port N\n"
               "  --user NAME|PATTERN%%d [bench] --users N [1] --user-base N [1] --password PW [bench]\n"
               "  --rcpt-domain DOMAIN (LMTP recipient user@DOMAIN)  --mailbox NAME [INBOX]\n"
               "  --seed N [1] --first N [0] --messages N [1000] --sessions N [1] --repeat N [3]\n"
               "  --count N [1000] --duration S [10] --max-seconds S [600] --timeout S [60]\n"
               "  --tls --first-time --wait-stdin --connect-threads N [8] --rcpt-batch N [50] "
               "--deliver-sessions N [4]\n"
               "  --pregen-mb N [512] --maildir DIR (generate) --quick-ack (TCP_QUICKACK: no delayed ACKs, "
               "see net.h)\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  signal(SIGPIPE, SIG_IGN);
  OPENSSL_init_ssl(0, nullptr);
  Options o;
  std::string workload = argv[1];
  std::map<std::string, std::function<void(const char*)>> opts = {
      {"--host", [&](const char* v) { o.target.host = v; }},
      {"--imap-port", [&](const char* v) { o.target.imap = std::atoi(v); }},
      {"--imaps-port", [&](const char* v) { o.target.imaps = std::atoi(v); }},
      {"--pop3-port", [&](const char* v) { o.target.pop3 = std::atoi(v); }},
      {"--lmtp-port", [&](const char* v) { o.target.lmtp = std::atoi(v); }},
      {"--password", [&](const char* v) { o.target.password = v; }},
      {"--timeout", [&](const char* v) { o.target.timeout = std::atof(v); }},
      {"--user", [&](const char* v) { o.user = v; }},
      {"--users", [&](const char* v) { o.users = std::max(1, std::atoi(v)); }},
      {"--user-base", [&](const char* v) { o.user_base = std::atoi(v); }},
      {"--rcpt-domain", [&](const char* v) { o.rcpt_domain = v; }},
      {"--mailbox", [&](const char* v) { o.mailbox = v; }},
      {"--seed", [&](const char* v) { o.seed = std::strtoull(v, nullptr, 10); }},
      {"--first", [&](const char* v) { o.first = std::strtoull(v, nullptr, 10); }},
      {"--messages", [&](const char* v) { o.messages = std::strtoull(v, nullptr, 10); }},
      {"--sessions", [&](const char* v) { o.sessions = std::max(1, std::atoi(v)); }},
      {"--repeat", [&](const char* v) { o.repeat = std::max(1, std::atoi(v)); }},
      {"--count", [&](const char* v) { o.count = std::max(1, std::atoi(v)); }},
      {"--duration", [&](const char* v) { o.duration = std::atof(v); }},
      {"--max-seconds", [&](const char* v) { o.max_seconds = std::atof(v); }},
      {"--connect-threads", [&](const char* v) { o.connect_threads = std::max(1, std::atoi(v)); }},
      {"--rcpt-batch", [&](const char* v) { o.rcpt_batch = std::max(1, std::atoi(v)); }},
      {"--deliver-sessions", [&](const char* v) { o.deliver_sessions = std::max(1, std::atoi(v)); }},
      {"--pregen-mb", [&](const char* v) { o.pregen_mb = std::strtoull(v, nullptr, 10); }},
      {"--maildir", [&](const char* v) { o.maildir = v; }},
  };
  bool quick_ack = false;
  std::map<std::string, bool*> flags = {{"--quick-ack", &quick_ack},
                                        {"--tls", &o.tls},
                                        {"--first-time", &o.first_time},
                                        {"--wait-stdin", &o.wait_stdin}};
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (auto f = flags.find(a); f != flags.end()) {
      *f->second = true;
    } else if (auto p = opts.find(a); p != opts.end() && i + 1 < argc) {
      p->second(argv[++i]);
    } else {
      std::fprintf(stderr, "postern-loadgen: unknown or incomplete option %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  std::map<std::string, void (*)(const Options&)> workloads = {
      {"deliver", runDeliver}, {"append", runAppend},    {"sync", runSync},   {"search", runSearch},
      {"stream", runStream},   {"idle", runIdle},        {"mixed", runMixed}, {"connect", runConnect},
      {"pop3", runPop3},       {"generate", runGenerate}};
  auto w = workloads.find(workload);
  if (w == workloads.end()) {
    std::fprintf(stderr, "postern-loadgen: unknown workload %s\n", workload.c_str());
    usage();
    return 2;
  }
  setQuickAck(quick_ack);
  try {
    requireLoopback(o.target.host);
    w->second(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postern-loadgen %s: FAILED: %s\n", workload.c_str(), e.what());
    return 1;
  }
  return 0;
}
