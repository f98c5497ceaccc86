// posternctl user set NAME KEY=VALUE..., the settings part of user show,
// and debug clock-offset: per-user POP3 settings (pop3.expire,
// pop3.login_delay, pop3.mark_seen) and the retention clock of tests.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "ctl.h"

namespace postern::ctl {

int cmdUserSet(const Opts& o, apb::Admin::Stub& stub, const std::string& name,
               const std::vector<std::string>& assignments) {
  apb::UserSetRequest q;
  q.set_name(name);
  for (const auto& a : assignments) q.add_assignments(a);
  apb::Result r;
  return finish(o, stub.UserSet(callContext().get(), q, &r), r);
}

int showUserSettings(const Opts& o, apb::Admin::Stub& stub, const std::string& name) {
  apb::UserRequest q;
  q.set_name(name);
  apb::UserSettingsResponse res;
  auto st = stub.UserSettings(callContext().get(), q, &res);
  if (!st.ok() || !res.result().ok()) return finish(o, st, res.result());
  for (const auto& [key, server] : res.server()) {
    auto own = res.settings().find(key);
    bool mine = own != res.settings().end();
    printf("%-17s %s (%s)\n", key.c_str(), (mine ? own->second : server).c_str(), mine ? "user" : "server");
  }
  return 0;
}

int showUserJson(const Opts& o, apb::Admin::Stub& stub, const google::protobuf::Message& user,
                 const std::string& name) {
  apb::UserRequest q;
  q.set_name(name);
  apb::UserSettingsResponse res;
  auto st = stub.UserSettings(callContext().get(), q, &res);
  if (!st.ok() || !res.result().ok()) return finish(o, st, res.result());
  // One object: the user's fields, then "settings" (the user's own values)
  // and "server_settings" (postern.conf's).
  google::protobuf::Struct all;
  (void)google::protobuf::util::JsonStringToMessage(toJson(user), &all);
  auto put = [&](const char* field, const google::protobuf::Map<std::string, std::string>& m) {
    auto* s = (*all.mutable_fields())[field].mutable_struct_value();
    for (const auto& [k, v] : m) (*s->mutable_fields())[k].set_string_value(v);
  };
  put("settings", res.settings());
  put("server_settings", res.server());
  std::cout << toJson(all);
  return 0;
}

int cmdDebug(const Opts& o, apb::Admin::Stub& stub) {
  const auto& a = o.args;
  if (a.size() != 3 || a[1] != "clock-offset") return 2;
  int64_t seconds = 0;
  auto [p, ec] = std::from_chars(a[2].data(), a[2].data() + a[2].size(), seconds);
  if (ec != std::errc() || p != a[2].data() + a[2].size()) {
    fprintf(stderr, "posternctl: clock-offset takes whole seconds\n");
    return 2;
  }
  apb::ClockOffsetRequest q;
  q.set_offset_seconds(seconds);
  apb::Result r;
  return finish(o, stub.ClockOffset(callContext().get(), q, &r), r);
}

}  // namespace postern::ctl
