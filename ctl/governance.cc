// posternctl limits / access / who / kick: the appliance's governance.
#include <cstdio>
#include <ctime>
#include <iostream>

#include "ctl.h"

namespace postern::ctl {

namespace {

int printLimits(const Opts& o, const grpc::Status& st, const apb::LimitsResponse& res) {
  if (st.ok() && res.result().ok() && !o.json) {
    printf("%-34s %-28s %s\n", "KEY", "VALUE", "SOURCE");
    for (const auto& l : res.limits()) {
      std::string v = l.value() == "0" && l.key().find("limits.") != 0 && l.key() != "trusted_networks"
                          ? "0 (server-wide)" : l.value();
      printf("%-34s %-28s %s\n", l.key().c_str(), v.c_str(), l.source().c_str());
    }
  }
  return finish(o, st, res.result(), &res);
}

int printAccess(const Opts& o, const grpc::Status& st, const apb::AccessListResponse& res) {
  if (st.ok() && res.result().ok() && !o.json) {
    if (res.rules().empty()) printf("no access rules: every address may connect\n");
    for (const auto& r : res.rules()) printf("%-60s %s\n", r.rule().c_str(), r.source().c_str());
  }
  return finish(o, st, res.result(), &res);
}

}  // namespace

int cmdLimits(const Opts& o, apb::Admin::Stub& stub) {
  const auto& a = o.args;
  apb::LimitsResponse res;
  if (a.size() == 2 && a[1] == "show") return printLimits(o, stub.LimitsShow(callContext().get(), apb::Empty(), &res), res);
  if (a.size() >= 3 && a[1] == "set") {
    apb::LimitsSetRequest q;
    for (size_t i = 2; i < a.size(); ++i) q.add_assignments(a[i]);
    return printLimits(o, stub.LimitsSet(callContext().get(), q, &res), res);
  }
  if (a.size() >= 3 && a[1] == "reset") {
    apb::LimitsResetRequest q;
    for (size_t i = 2; i < a.size(); ++i) q.add_keys(a[i]);
    return printLimits(o, stub.LimitsReset(callContext().get(), q, &res), res);
  }
  fprintf(stderr, "usage: posternctl limits show | set KEY=VALUE... | reset KEY...|all\n");
  return 2;
}

int cmdAccess(const Opts& o, apb::Admin::Stub& stub) {
  const auto& a = o.args;
  apb::AccessListResponse res;
  if (a.size() == 2 && a[1] == "list") return printAccess(o, stub.AccessList(callContext().get(), apb::Empty(), &res), res);
  if (a.size() >= 3 && (a[1] == "allow" || a[1] == "deny" || a[1] == "remove")) {
    std::string rule;
    size_t from = a[1] == "remove" ? 2 : 1;
    for (size_t i = from; i < a.size(); ++i) rule += (rule.empty() ? "" : " ") + a[i];
    apb::AccessChangeRequest q;
    q.set_rule(rule);
    auto st = a[1] == "remove" ? stub.AccessRemove(callContext().get(), q, &res)
                               : stub.AccessAdd(callContext().get(), q, &res);
    return printAccess(o, st, res);
  }
  fprintf(stderr, "usage: posternctl access list | allow|deny CIDR [protocol=P] [listener=L] | remove RULE\n");
  return 2;
}

int cmdWho(const Opts& o, apb::Admin::Stub& stub) {
  apb::WhoRequest q;
  if (auto it = o.kv.find("user"); it != o.kv.end()) q.set_user(it->second);
  if (auto it = o.kv.find("ip"); it != o.kv.end()) q.set_ip(it->second);
  if (auto it = o.kv.find("protocol"); it != o.kv.end()) q.set_protocol(it->second);
  apb::WhoResponse res;
  auto st = stub.Who(callContext().get(), q, &res);
  if (st.ok() && res.result().ok() && !o.json) {
    printf("%-8s %-20s %-5s %-22s %-7s %7s %-20s %8s %8s %10s %10s\n", "ID", "USER", "PROTO", "ADDRESS", "LISTEN",
           "PID", "SINCE", "CONNECTED", "IDLE", "IN", "OUT");
    int64_t now = time(nullptr);
    for (const auto& s : res.sessions()) {
      char since[32];
      time_t t = static_cast<time_t>(s.since());
      tm tmv{};
      gmtime_r(&t, &tmv);
      strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tmv);
      printf("%-8llu %-20s %-5s %-22s %-7s %7lld %-20s %8s %8s %10llu %10llu  %s\n",
             static_cast<unsigned long long>(s.id()), s.user().c_str(), s.protocol().c_str(), s.address().c_str(),
             s.listener().c_str(), static_cast<long long>(s.worker_pid()), since,
             fmtDuration(now - s.since()).c_str(), fmtDuration(s.idle_seconds()).c_str(),
             static_cast<unsigned long long>(s.bytes_in()), static_cast<unsigned long long>(s.bytes_out()),
             s.state().c_str());
    }
    printf("%d session(s)\n", res.sessions_size());
  }
  return finish(o, st, res.result(), &res);
}

int cmdKick(const Opts& o, apb::Admin::Stub& stub) {
  apb::KickRequest q;
  if (auto it = o.kv.find("user"); it != o.kv.end()) q.set_user(it->second);
  if (auto it = o.kv.find("ip"); it != o.kv.end()) q.set_ip(it->second);
  if (auto it = o.kv.find("session"); it != o.kv.end()) {
    char* end = nullptr;
    unsigned long long id = strtoull(it->second.c_str(), &end, 10);
    if (!end || *end || id == 0) {
      fprintf(stderr, "posternctl: --session needs a session id (see posternctl who)\n");
      return 2;
    }
    q.set_session(id);
  }
  apb::KickResponse res;
  auto st = stub.Kick(callContext().get(), q, &res);
  return finish(o, st, res.result(), &res);
}

}  // namespace postern::ctl
