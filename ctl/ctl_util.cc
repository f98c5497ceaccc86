#include <google/protobuf/util/json_util.h>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "ctl.h"

namespace postern::ctl {

std::string toJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

int finish(const Opts& o, const grpc::Status& st, const apb::Result& r, const google::protobuf::Message* full) {
  if (!st.ok()) {
    // The master checks who calls (SO_PEERCRED) and says why it refused.
    if (st.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      fprintf(stderr, "posternctl: %s\n", st.error_message().c_str());
      return 1;
    }
    // The socket file is 0600 (0660 with admin_group): strangers cannot connect at all.
    if (access(o.socket.c_str(), R_OK | W_OK) != 0 && errno == EACCES) {
      fprintf(stderr,
              "posternctl: permission denied on %s: run as root, as the user postern-master runs as, "
              "or as a member of its admin_group\n",
              o.socket.c_str());
      return 1;
    }
    fprintf(stderr, "posternctl: cannot reach postern-master at %s: %s\n", o.socket.c_str(),
            st.error_message().c_str());
    return 1;
  }
  if (o.json) {
    std::cout << toJson(full ? *full : static_cast<const google::protobuf::Message&>(r));
  } else if (r.ok() && !r.message().empty()) {
    std::cout << r.message() << "\n";
  }
  if (!r.ok()) {
    fprintf(stderr, "posternctl: %s\n", r.message().c_str());
    return 1;
  }
  return 0;
}

std::string fmtDuration(int64_t s) {
  char buf[64];
  if (s >= 86400) snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400), static_cast<long long>(s % 86400 / 3600));
  else if (s >= 3600) snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
  else snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  return buf;
}

std::unique_ptr<grpc::ClientContext> callContext() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return c;
}

}  // namespace postern::ctl
