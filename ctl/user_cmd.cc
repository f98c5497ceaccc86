// posternctl user show NAME, user import-passwd FILE [--replace].
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "ctl.h"

namespace postern::ctl {
namespace {

// Lines per call: stored hashes {PLAIN} lines (tens of ms each) inside it.
constexpr size_t kBatch = 1000;

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return s;
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& r) {
  std::string out;
  for (const auto& s : r) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

}  // namespace

int cmdUserShow(const Opts& o, apb::Admin::Stub& stub) {
  if (o.args.size() != 3) return 2;
  apb::UserListResponse res;
  auto st = stub.ListUsers(callContext().get(), apb::Empty(), &res);
  if (!st.ok() || !res.result().ok()) return finish(o, st, res.result());
  std::string want = lower(o.args[2]);
  for (const auto& u : res.users()) {
    if (u.name() != want) continue;
    if (o.json) return showUserJson(o, stub, u, u.name());
    printf(
        "user      %s\nmessages  %llu\nbytes     %llu\nsessions  %u\ndisabled  %s\npassword  %s\nscram     "
        "%s\n",
        u.name().c_str(), static_cast<unsigned long long>(u.messages()),
        static_cast<unsigned long long>(u.bytes()), u.sessions(), joined(u.denied_protocols()).c_str(),
        u.password_scheme().c_str(), joined(u.scram()).c_str());
    return showUserSettings(o, stub, u.name());
  }
  fprintf(stderr, "posternctl: no such user: %s\n", o.args[2].c_str());
  return 1;
}

int cmdImportPasswd(const Opts& o, apb::Admin::Stub& stub) {
  if (o.args.size() != 3) return 2;
  const std::string& path = o.args[2];
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) {
      fprintf(stderr, "posternctl: cannot read %s\n", path.c_str());
      return 1;
    }
    in = &file;
  }
  std::vector<std::string> lines;
  for (std::string l; std::getline(*in, l);) lines.push_back(std::move(l));

  apb::ImportPasswdResponse all;
  uint32_t imported = 0, skipped = 0;
  for (size_t start = 0; start < lines.size(); start += kBatch) {
    apb::ImportPasswdRequest q;
    for (size_t i = start; i < lines.size() && i < start + kBatch; ++i) q.add_lines(lines[i]);
    q.set_first_line(uint32_t(start + 1));
    q.set_replace(o.kv.count("replace") > 0);
    apb::ImportPasswdResponse res;
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
    auto st = stub.ImportPasswd(c.get(), q, &res);
    if (!st.ok() || !res.result().ok()) return finish(o, st, res.result());
    for (const auto& r : res.results()) {
      *all.add_results() = r;
      (r.imported() ? imported : skipped)++;
      if (o.json) continue;
      // Never a hash: stored's details name the scheme or the reason only.
      printf("line %u: %s: %s (%s)\n", r.line(), r.user().empty() ? "-" : r.user().c_str(),
             r.imported() ? "imported" : "skipped", r.detail().c_str());
    }
  }
  all.mutable_result()->set_ok(skipped == 0);
  all.mutable_result()->set_message(std::to_string(imported) + " imported, " + std::to_string(skipped) +
                                    " skipped");
  if (o.json)
    std::cout << toJson(all);
  else
    printf("%s\n", all.result().message().c_str());
  return skipped == 0 ? 0 : 1;
}

}  // namespace postern::ctl
