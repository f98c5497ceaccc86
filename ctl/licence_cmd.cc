// posternctl licence: show and install talk to the master; keygen and
// issue are the vendor's side and run locally (they never touch a server).
#include <cstdio>
#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ctl.h"
#include "licence.h"

namespace postern::ctl {

namespace {

int printLicence(const Opts& o, const grpc::Status& st, const apb::LicenceResponse& res) {
  if (st.ok() && !o.json) {
    printf("status:       %s%s\n", res.status().c_str(), res.reason().empty() ? "" : (" (" + res.reason() + ")").c_str());
    printf("licensee:     %s\n", res.licensee().c_str());
    printf("mode:         %s\n", res.mode().c_str());
    printf("seats:        %u\n", res.seats());
    printf("expires:      %s\n", res.expires().c_str());
    if (!res.id().empty()) printf("id:           %s\n", res.id().c_str());
    printf("file:         %s\n", res.file().c_str());
    printf("seats in use: %llu\n", static_cast<unsigned long long>(res.seats_in_use()));
    printf("peak today:   %llu\n", static_cast<unsigned long long>(res.peak_today()));
    if (res.peaks_size() > 0) {
      printf("daily peaks (last %d days):\n", res.peaks_size());
      for (const auto& p : res.peaks()) printf("  %s  %llu\n", p.day().c_str(), static_cast<unsigned long long>(p.peak()));
    }
  }
  return finish(o, st, res.result(), &res);
}

std::string arg(const Opts& o, const char* k) {
  auto it = o.kv.find(k);
  return it == o.kv.end() ? "" : it->second;
}

bool readFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

int keygen(const Opts& o) {
  std::string prefix = arg(o, "out");
  if (prefix.empty()) {
    fprintf(stderr, "usage: posternctl licence keygen --out PREFIX   (writes PREFIX.key and PREFIX.pub)\n");
    return 2;
  }
  auto kp = master::generateKeyPair();
  if (!kp.ok()) {
    fprintf(stderr, "posternctl: %s\n", kp.error().message.c_str());
    return 1;
  }
  {
    std::ofstream k(prefix + ".key", std::ios::trunc);
    k << kp->private_pem;
    if (!k) {
      fprintf(stderr, "posternctl: cannot write %s.key\n", prefix.c_str());
      return 1;
    }
  }
  chmod((prefix + ".key").c_str(), 0600);
  std::ofstream p(prefix + ".pub", std::ios::trunc);
  p << kp->public_pem;
  printf("private key: %s.key (keep it offline)\npublic key:  %s.pub (put its path in licence.public_keys)\n",
         prefix.c_str(), prefix.c_str());
  return 0;
}

int issue(const Opts& o) {
  std::string keyfile = arg(o, "private-key"), licensee = arg(o, "licensee"), seats = arg(o, "seats"),
              mode = arg(o, "mode"), expires = arg(o, "expires");
  if (keyfile.empty() || licensee.empty() || seats.empty() || mode.empty() || expires.empty()) {
    fprintf(stderr,
            "usage: posternctl licence issue --private-key K --licensee N --seats S --mode per-seat|per-server "
            "--expires YYYY-MM-DD|never > FILE\n");
    return 2;
  }
  std::string pem;
  if (!readFile(keyfile, &pem)) {
    fprintf(stderr, "posternctl: cannot read %s\n", keyfile.c_str());
    return 1;
  }
  master::LicenceFields f;
  f.licensee = licensee;
  char* end = nullptr;
  unsigned long n = strtoul(seats.c_str(), &end, 10);
  if (!end || *end || n == 0 || n > master::kMaxSeats) {
    fprintf(stderr, "posternctl: --seats must be 1-%u\n", master::kMaxSeats);
    return 2;
  }
  f.seats = static_cast<uint32_t>(n);
  auto m = master::parseLicenceMode(mode);
  if (!m.ok()) {
    fprintf(stderr, "posternctl: %s\n", m.error().message.c_str());
    return 2;
  }
  f.mode = m.value();
  if (expires != "never") {
    auto d = master::parseDay(expires);
    if (!d.ok()) {
      fprintf(stderr, "posternctl: --expires: %s\n", d.error().message.c_str());
      return 2;
    }
    f.expires = d.value();
  }
  f.issued = master::dayOf(time(nullptr));
  auto text = master::issueLicence(f, pem);
  if (!text.ok()) {
    fprintf(stderr, "posternctl: %s\n", text.error().message.c_str());
    return 1;
  }
  std::cout << text.value();
  return 0;
}

}  // namespace

int cmdLicence(const Opts& o, apb::Admin::Stub& stub) {
  const auto& a = o.args;
  apb::LicenceResponse res;
  if (a.size() == 2 && a[1] == "show") return printLicence(o, stub.LicenceShow(callContext().get(), apb::Empty(), &res), res);
  if (a.size() == 3 && a[1] == "install") {
    apb::LicenceInstallRequest q;
    std::string text;
    if (!readFile(a[2], &text)) {
      fprintf(stderr, "posternctl: cannot read %s\n", a[2].c_str());
      return 1;
    }
    q.set_text(text);
    return printLicence(o, stub.LicenceInstall(callContext().get(), q, &res), res);
  }
  if (a.size() == 2 && a[1] == "keygen") return keygen(o);
  if (a.size() == 2 && a[1] == "issue") return issue(o);
  fprintf(stderr, "usage: posternctl licence show | install FILE | keygen --out PREFIX | issue ...\n");
  return 2;
}

}  // namespace postern::ctl
