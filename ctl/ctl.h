#pragma once
// posternctl's shared pieces: options, output, and the command groups.
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admin.grpc.pb.h"

namespace postern::ctl {

namespace apb = postern::admin::v1;

struct Opts {
  std::map<std::string, std::string> kv;  // --user, --ip, --protocol, --session, --licensee, ...
  std::string socket;
  bool json = false;
  std::string password;
  bool have_password = false;
  std::string mailbox = "INBOX";
  std::vector<std::string> args;
};

// JSON of a reply (proto field names, every field printed).
std::string toJson(const google::protobuf::Message& m);
// Prints the result (JSON or text) and returns the exit code: 1 when the
// master was unreachable or refused, with the reason on stderr.
int finish(const Opts& o, const grpc::Status& st, const apb::Result& r,
           const google::protobuf::Message* full = nullptr);
std::string fmtDuration(int64_t seconds);
std::unique_ptr<grpc::ClientContext> callContext();

// Command groups (governance.cc, licence_cmd.cc); each returns the exit code.
int cmdLimits(const Opts& o, apb::Admin::Stub& stub);
int cmdLicence(const Opts& o, apb::Admin::Stub& stub);
int cmdAccess(const Opts& o, apb::Admin::Stub& stub);
int cmdWho(const Opts& o, apb::Admin::Stub& stub);
int cmdKick(const Opts& o, apb::Admin::Stub& stub);
// user_cmd.cc: "user show NAME", "user import-passwd FILE [--replace]".
int cmdUserShow(const Opts& o, apb::Admin::Stub& stub);
int cmdImportPasswd(const Opts& o, apb::Admin::Stub& stub);
int cmdPenalty(const Opts& o, apb::Admin::Stub& stub);  // penalty_cmd.cc
// user_settings_cmd.cc: per-user settings ("user set NAME KEY=VALUE...",
// the settings lines and JSON fields of "user show NAME") and
// "debug clock-offset SECONDS".
int cmdUserSet(const Opts& o, apb::Admin::Stub& stub, const std::string& name,
               const std::vector<std::string>& assignments);
int showUserSettings(const Opts& o, apb::Admin::Stub& stub, const std::string& name);
int showUserJson(const Opts& o, apb::Admin::Stub& stub, const google::protobuf::Message& user,
                 const std::string& name);
int cmdDebug(const Opts& o, apb::Admin::Stub& stub);

}  // namespace postern::ctl
