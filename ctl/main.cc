// posternctl: the administrator's tool; talks gRPC to postern-master's
// admin socket. Every command takes --json; failures exit non-zero with a
// message on stderr.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "admin.grpc.pb.h"
#include "ctl.h"
#include "config.h"

namespace apb = postern::admin::v1;
using namespace postern::ctl;

namespace {

int usage() {
  fputs(
      "usage: posternctl [--socket PATH | --config FILE] [--json] COMMAND\n"
      "  user add NAME [--password P]     (else the password is read from stdin)\n"
      "  user del NAME\n"
      "  user list\n"
      "  user show NAME                   (password scheme and SCRAM keys; never the hash)\n"
      "  user import-passwd FILE|- [--replace]   (Dovecot passwd-file lines; exit 1 if one is skipped)\n"
      "  user passwd NAME [--password P]\n"
      "  user set NAME [--imap on|off] [--pop3 on|off] [KEY=VALUE...]   (pop3.expire, pop3.login_delay, pop3.mark_seen)\n"
      "  status\n"
      "  deliver USER [--mailbox M] < message\n"
      "  reload\n"
      "  verify [USER]                    (read every message; list damaged ones, exit 1 if any)\n"
      "  limits show | limits set KEY=VALUE... | limits reset KEY...|all\n"
      "  licence show | licence install FILE\n"
      "  licence keygen --out PREFIX                 (vendor side)\n"
      "  licence issue --private-key K --licensee N --seats S --mode per-seat|per-server\n"
      "                --expires YYYY-MM-DD|never > FILE       (vendor side)\n"
      "  access list | access allow|deny CIDR [protocol=P] [listener=L] | access remove RULE\n"
      "  who [--user U] [--ip CIDR] [--protocol P]\n"
      "  kick --user U | --session ID | --ip CIDR\n"
      "  penalty list [ADDRESS|CIDR] | penalty clear [ADDRESS|CIDR|all]\n"
      "  debug clock-offset SECONDS       (tests: move the POP3 EXPIRE clock forward)\n",
      stderr);
  return 2;
}

std::string readPassword() {
  bool tty = isatty(0);
  termios old{};
  if (tty) {
    fprintf(stderr, "Password: ");
    tcgetattr(0, &old);
    termios t = old;
    t.c_lflag &= static_cast<tcflag_t>(~ECHO);
    tcsetattr(0, TCSANOW, &t);
  }
  std::string pw;
  std::getline(std::cin, pw);
  if (tty) {
    tcsetattr(0, TCSANOW, &old);
    fprintf(stderr, "\n");
  }
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  return pw;
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  // The admin socket: --socket, else the one of --config, else the built-in
  // default (./var/run/admin.sock, what tools/run uses) when it exists, else
  // the installed config's (/etc/postern/postern.conf).
  std::string config_path;
  bool socket_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc) {
      o.socket = argv[++i];
      socket_given = true;
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--json") o.json = true;
    else if (a == "--password" && i + 1 < argc) {
      o.password = argv[++i];
      o.have_password = true;
    } else if (a == "--mailbox" && i + 1 < argc) o.mailbox = argv[++i];
    else if ((a == "--user" || a == "--ip" || a == "--protocol" || a == "--session" || a == "--licensee" ||
              a == "--seats" || a == "--mode" || a == "--expires" || a == "--private-key" || a == "--out" ||
              a == "--imap" || a == "--pop3") &&
             i + 1 < argc)
      o.kv[a.substr(2)] = argv[++i];
    else if (a == "--replace") o.kv["replace"] = "1";
    else if (a == "-h" || a == "--help") return usage();
    else if (a.size() > 1 && a[0] == '-') {
      fprintf(stderr, "posternctl: unknown option %s\n", a.c_str());
      return usage();
    } else o.args.push_back(a);
  }
  if (o.args.empty()) return usage();
  if (!socket_given) {
    if (config_path.empty()) {
      std::string builtin = postern::loadConfig("")->adminSocket();
      if (access(builtin.c_str(), F_OK) != 0 && access("/etc/postern/postern.conf", R_OK) == 0)
        config_path = "/etc/postern/postern.conf";
    }
    auto cfg = postern::loadConfig(config_path);
    if (!cfg.ok()) {
      fprintf(stderr, "posternctl: %s\n", cfg.error().message.c_str());
      return 1;
    }
    o.socket = cfg->adminSocket();
  }

  auto channel = grpc::CreateChannel("unix:" + o.socket, grpc::InsecureChannelCredentials());
  auto stub = apb::Admin::NewStub(channel);
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return c;
  };
  const auto& a = o.args;
  apb::Result r;

  if (a[0] == "user" && a.size() >= 2) {
    if (a[1] == "add" || a[1] == "passwd") {
      if (a.size() != 3) return usage();
      apb::UserRequest q;
      q.set_name(a[2]);
      q.set_password(o.have_password ? o.password : readPassword());
      if (q.password().empty()) {
        fprintf(stderr, "posternctl: empty password refused\n");
        return 1;
      }
      auto st = a[1] == "add" ? stub->AddUser(ctx().get(), q, &r) : stub->SetPassword(ctx().get(), q, &r);
      return finish(o, st, r);
    }
    if (a[1] == "show") return a.size() == 3 ? cmdUserShow(o, *stub) : usage();
    if (a[1] == "import-passwd") return a.size() == 3 ? cmdImportPasswd(o, *stub) : usage();
    if (a[1] == "del") {
      if (a.size() != 3) return usage();
      apb::UserRequest q;
      q.set_name(a[2]);
      return finish(o, stub->DeleteUser(ctx().get(), q, &r), r);
    }
    if (a[1] == "set") {
      // user set NAME [--imap on|off] [--pop3 on|off] [KEY=VALUE...]
      if (a.size() < 3) return usage();
      int rc = 0, done = 0;
      for (const char* proto : {"imap", "pop3"}) {
        auto it = o.kv.find(proto);
        if (it == o.kv.end()) continue;
        if (it->second != "on" && it->second != "off") {
          fprintf(stderr, "posternctl: --%s takes on or off\n", proto);
          return 2;
        }
        apb::UserAccessRequest q;
        q.set_name(a[2]);
        q.set_protocol(proto);
        q.set_allowed(it->second == "on");
        rc |= finish(o, stub->SetUserAccess(ctx().get(), q, &r), r);
        ++done;
      }
      if (a.size() > 3) {
        rc |= cmdUserSet(o, *stub, a[2], std::vector<std::string>(a.begin() + 3, a.end()));
        ++done;
      }
      if (done == 0) return usage();
      return rc;
    }
    if (a[1] == "list") {
      if (a.size() != 2) return usage();
      apb::UserListResponse res;
      auto st = stub->ListUsers(ctx().get(), apb::Empty(), &res);
      if (st.ok() && res.result().ok() && !o.json) {
        printf("%-32s %10s %14s %8s  %s\n", "USER", "MESSAGES", "BYTES", "SESSIONS", "DISABLED");
        for (const auto& u : res.users()) {
          std::string denied;
          for (const auto& p : u.denied_protocols()) denied += (denied.empty() ? "" : ",") + p;
          printf("%-32s %10llu %14llu %8u  %s\n", u.name().c_str(), static_cast<unsigned long long>(u.messages()),
                 static_cast<unsigned long long>(u.bytes()), u.sessions(), denied.empty() ? "-" : denied.c_str());
        }
      }
      return finish(o, st, res.result(), &res);
    }
    return usage();
  }
  if (a[0] == "status" && a.size() == 1) {
    apb::StatusResponse res;
    auto st = stub->Status(ctx().get(), apb::Empty(), &res);
    if (st.ok() && res.result().ok() && !o.json) {
      printf("postern %s, up %s, %u connections (%u logged in)\n", res.version().c_str(),
             fmtDuration(res.uptime_seconds()).c_str(), res.connections(), res.authenticated());
      printf("%-12s %-8s %8s %9s %9s %6s  %s\n", "PROCESS", "STATE", "PID", "UPTIME", "RESTARTS", "CONNS", "LAST EXIT");
      for (const auto& p : res.processes())
        printf("%-12s %-8s %8lld %9s %9u %6u  %s\n", p.name().c_str(), p.state().c_str(),
               static_cast<long long>(p.pid()), fmtDuration(p.uptime_seconds()).c_str(), p.restarts(),
               p.connections(), p.last_exit().c_str());
      for (const auto& l : res.listeners())
        printf("listener %-5s %-24s %u connections\n", l.protocol().c_str(), l.address().c_str(), l.connections());
      for (const auto& [k, v] : res.counters()) printf("counter %s = %llu\n", k.c_str(), static_cast<unsigned long long>(v));
    }
    return finish(o, st, res.result(), &res);
  }
  if (a[0] == "deliver" && a.size() == 2) {
    apb::DeliverRequest q;
    q.set_user(a[1]);
    q.set_mailbox(o.mailbox);
    std::string body((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (body.empty()) {
      fprintf(stderr, "posternctl: empty message on stdin\n");
      return 1;
    }
    q.set_body(std::move(body));
    return finish(o, stub->Deliver(ctx().get(), q, &r), r);
  }
  if (a[0] == "verify" && a.size() <= 2) {
    apb::VerifyRequest q;
    if (a.size() == 2) q.set_user(a[1]);
    apb::VerifyResponse res;
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::hours(2));
    auto st = stub->Verify(c.get(), q, &res);
    if (st.ok() && !o.json) {
      for (const auto& d : res.damaged())
        printf("DAMAGED user=%s mailbox=%s uid=%u: %s\n", d.user().c_str(), d.mailbox().c_str(), d.uid(),
               d.reason().c_str());
      printf("%llu message(s) checked, %d damaged\n", static_cast<unsigned long long>(res.checked()),
             res.damaged_size());
    }
    return finish(o, st, res.result(), &res);
  }
  if (a[0] == "reload" && a.size() == 1) return finish(o, stub->Reload(ctx().get(), apb::Empty(), &r), r);
  if (a[0] == "limits") return cmdLimits(o, *stub);
  if (a[0] == "licence" || a[0] == "license") return cmdLicence(o, *stub);
  if (a[0] == "access") return cmdAccess(o, *stub);
  if (a[0] == "who" && a.size() == 1) return cmdWho(o, *stub);
  if (a[0] == "kick" && a.size() == 1) return cmdKick(o, *stub);
  if (a[0] == "penalty") return cmdPenalty(o, *stub);
  if (a[0] == "debug") {
    int rc = cmdDebug(o, *stub);
    return rc == 2 ? usage() : rc;
  }
  return usage();
}
