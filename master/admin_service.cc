#include "admin_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <ctime>
#include <grpcpp/grpcpp.h>

#include "admin.grpc.pb.h"
#include "log.h"
#include "master.h"
#include "message.h"
#include "store.grpc.pb.h"

namespace postern::master {

namespace apb = postern::admin::v1;
namespace spb = postern::store::v1;

class AdminServiceImpl final : public apb::Admin::Service {
 public:
  AdminServiceImpl(Master& m, const std::string& store_target, size_t max_msg) : master_(m) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(max_msg));
    args.SetMaxSendMessageSize(static_cast<int>(max_msg));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    store_ = spb::Store::NewStub(grpc::CreateCustomChannel(store_target, grpc::InsecureChannelCredentials(), args));
  }

  grpc::Status AddUser(grpc::ServerContext*, const apb::UserRequest* req, apb::Result* res) override {
    spb::AddUserRequest q;
    q.set_user(req->name());
    q.set_password(req->password());
    spb::SimpleResponse r;
    auto st = store_->AddUser(ctx().get(), q, &r);
    fill(res, st, r.error(), "user " + req->name() + " added");
    log::info("admin: user add", {{"user", req->name()}, {"result", res->message()}});
    return grpc::Status::OK;
  }

  grpc::Status DeleteUser(grpc::ServerContext*, const apb::UserRequest* req, apb::Result* res) override {
    spb::DeleteUserRequest q;
    q.set_user(req->name());
    spb::SimpleResponse r;
    auto st = store_->DeleteUser(ctx().get(), q, &r);
    fill(res, st, r.error(), "user " + req->name() + " deleted");
    log::info("admin: user del", {{"user", req->name()}, {"result", res->message()}});
    return grpc::Status::OK;
  }

  grpc::Status SetPassword(grpc::ServerContext*, const apb::UserRequest* req, apb::Result* res) override {
    spb::SetPasswordRequest q;
    q.set_user(req->name());
    q.set_password(req->password());
    spb::SimpleResponse r;
    auto st = store_->SetPassword(ctx().get(), q, &r);
    fill(res, st, r.error(), "password of " + req->name() + " changed");
    log::info("admin: user passwd", {{"user", req->name()}, {"result", res->message()}});
    return grpc::Status::OK;
  }

  grpc::Status SetUserAccess(grpc::ServerContext*, const apb::UserAccessRequest* req, apb::Result* res) override {
    spb::SetUserAccessRequest q;
    q.set_user(req->name());
    q.set_protocol(req->protocol());
    q.set_allowed(req->allowed());
    spb::SimpleResponse r;
    auto st = store_->SetUserAccess(ctx().get(), q, &r);
    fill(res, st, r.error(), req->protocol() + " " + (req->allowed() ? "enabled" : "disabled") + " for " + req->name());
    log::info("admin: user set", {{"user", req->name()}, {"proto", req->protocol()}, {"result", res->message()}});
    return grpc::Status::OK;
  }

  grpc::Status ListUsers(grpc::ServerContext*, const apb::Empty*, apb::UserListResponse* res) override {
    spb::ListUsersResponse r;
    auto st = store_->ListUsers(ctx().get(), spb::ListUsersRequest(), &r);
    fill(res->mutable_result(), st, r.error(), "");
    if (!res->result().ok()) return grpc::Status::OK;
    std::map<std::string, uint32_t> sessions;
    master_.runOnLoop([&] {
      for (const auto& c : master_.connections().all())
        if (!c.user.empty()) ++sessions[c.user];
    });
    for (const auto& u : r.users()) {
      auto* e = res->add_users();
      e->set_name(u.name());
      e->set_messages(u.messages());
      e->set_bytes(u.bytes());
      e->set_sessions(sessions[u.name()]);
      for (const auto& p : u.denied_protocols()) e->add_denied_protocols(p);
    }
    return grpc::Status::OK;
  }

  grpc::Status Deliver(grpc::ServerContext*, const apb::DeliverRequest* req, apb::Result* res) override {
    spb::DeliverRequest q;
    q.add_users(req->user());
    q.set_mailbox(req->mailbox());
    q.set_body(normalizeCrlf(req->body()));
    spb::DeliverResponse r;
    auto st = store_->Deliver(ctx().get(), q, &r);
    spb::Error e;
    if (r.results_size() == 1) e = r.results(0);
    fill(res, st, e, "delivered to " + req->user());
    return grpc::Status::OK;
  }

  grpc::Status Verify(grpc::ServerContext*, const apb::VerifyRequest* req, apb::VerifyResponse* res) override {
    spb::VerifyRequest q;
    q.set_user(req->user());
    spb::VerifyResponse r;
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::hours(2));  // reads every body
    auto st = store_->Verify(c.get(), q, &r);
    fill(res->mutable_result(), st, r.error(), "");
    res->set_checked(r.checked());
    for (const auto& d : r.damaged()) {
      auto* o = res->add_damaged();
      o->set_user(d.user());
      o->set_mailbox(d.mailbox());
      o->set_uid(d.uid());
      o->set_reason(d.reason());
    }
    if (res->result().ok() && r.damaged_size() > 0) {
      res->mutable_result()->set_ok(false);
      res->mutable_result()->set_message(std::to_string(r.damaged_size()) + " damaged message(s)");
    }
    return grpc::Status::OK;
  }

  grpc::Status Reload(grpc::ServerContext*, const apb::Empty*, apb::Result* res) override {
    std::string err = "master is shutting down";
    master_.runOnLoop([&] { err = master_.reload(); });
    res->set_ok(err.empty());
    res->set_message(err.empty() ? "configuration reloaded" : err);
    return grpc::Status::OK;
  }

  grpc::Status LimitsShow(grpc::ServerContext*, const apb::Empty*, apb::LimitsResponse* res) override {
    fillLimits(res, "");
    return grpc::Status::OK;
  }

  grpc::Status LimitsSet(grpc::ServerContext*, const apb::LimitsSetRequest* req, apb::LimitsResponse* res) override {
    std::vector<std::pair<std::string, std::string>> kv;
    for (const auto& a : req->assignments()) {
      size_t eq = a.find('=');
      if (eq == std::string::npos || eq == 0) {
        res->mutable_result()->set_message("expected KEY=VALUE, got '" + a + "'");
        return grpc::Status::OK;
      }
      kv.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    }
    if (kv.empty()) {
      res->mutable_result()->set_message("nothing to set");
      return grpc::Status::OK;
    }
    std::string err = "master is shutting down";
    master_.runOnLoop([&] { err = master_.setLimits(kv); });
    fillLimits(res, err);
    return grpc::Status::OK;
  }

  grpc::Status LimitsReset(grpc::ServerContext*, const apb::LimitsResetRequest* req, apb::LimitsResponse* res) override {
    std::vector<std::string> keys(req->keys().begin(), req->keys().end());
    std::string err = "master is shutting down";
    master_.runOnLoop([&] { err = master_.resetLimits(keys); });
    fillLimits(res, err);
    return grpc::Status::OK;
  }

  grpc::Status LicenceShow(grpc::ServerContext*, const apb::Empty*, apb::LicenceResponse* res) override {
    fillLicence(res, "");
    return grpc::Status::OK;
  }

  grpc::Status LicenceInstall(grpc::ServerContext*, const apb::LicenceInstallRequest* req,
                              apb::LicenceResponse* res) override {
    std::string err = "master is shutting down";
    master_.runOnLoop([&] { err = master_.installLicence(req->text()); });
    fillLicence(res, err);
    return grpc::Status::OK;
  }

  grpc::Status AccessList(grpc::ServerContext*, const apb::Empty*, apb::AccessListResponse* res) override {
    fillAccess(res, "");
    return grpc::Status::OK;
  }

  grpc::Status AccessAdd(grpc::ServerContext*, const apb::AccessChangeRequest* req, apb::AccessListResponse* res) override {
    std::string err = "master is shutting down";
    master_.runOnLoop([&] { err = master_.changeAccess(true, req->rule()); });
    fillAccess(res, err);
    return grpc::Status::OK;
  }

  grpc::Status AccessRemove(grpc::ServerContext*, const apb::AccessChangeRequest* req,
                            apb::AccessListResponse* res) override {
    std::string err = "master is shutting down";
    master_.runOnLoop([&] { err = master_.changeAccess(false, req->rule()); });
    fillAccess(res, err);
    return grpc::Status::OK;
  }

  grpc::Status Who(grpc::ServerContext*, const apb::WhoRequest* req, apb::WhoResponse* res) override {
    std::optional<Cidr> net;
    if (!req->ip().empty()) {
      auto c = Cidr::parse(req->ip());
      if (!c.ok()) {
        res->mutable_result()->set_message(c.error().message);
        return grpc::Status::OK;
      }
      net = c.value();
    }
    auto answered = std::make_shared<std::promise<void>>();
    auto fut = answered->get_future();
    uint32_t id = 0;
    if (!master_.runOnLoop([&] { id = master_.startWho([answered] { answered->set_value(); }); })) {
      res->mutable_result()->set_message("master did not answer");
      return grpc::Status::OK;
    }
    fut.wait_for(std::chrono::seconds(3));  // a hung worker leaves its sessions without details
    master_.runOnLoop([&] {
      auto details = master_.takeWho(id);
      int64_t now = time(nullptr);
      for (const auto& c : master_.connections().all()) {
        if (!req->user().empty() && c.user != req->user()) continue;
        if (!req->protocol().empty() && c.protocol != req->protocol()) continue;
        if (net) {
          auto ip = IpAddress::parse(c.peer);
          if (!ip.ok() || !net->contains(ip.value())) continue;
        }
        auto* s = res->add_sessions();
        s->set_id(c.id);
        s->set_user(c.user.empty() ? "-" : c.user);
        s->set_protocol(c.protocol);
        s->set_address(c.peer);
        s->set_listener(c.listener);
        const auto& ch = master_.supervisor().children();
        if (c.worker >= 0 && static_cast<size_t>(c.worker) < ch.size()) s->set_worker_pid(ch[static_cast<size_t>(c.worker)].pid);
        s->set_since(c.since);
        s->set_state(c.user.empty() ? "not-authenticated" : "authenticated");
        s->set_idle_seconds(now - c.since);
        auto d = details.find(c.id);
        if (d != details.end()) {
          // "state\tidle_s\tbytes_in\tbytes_out"
          std::vector<std::string> f;
          size_t start = 0;
          for (size_t i = 0; i <= d->second.size(); ++i)
            if (i == d->second.size() || d->second[i] == '\t') {
              f.push_back(d->second.substr(start, i - start));
              start = i + 1;
            }
          if (f.size() >= 4) {
            s->set_state(f[0]);
            s->set_idle_seconds(std::strtoll(f[1].c_str(), nullptr, 10));
            s->set_bytes_in(std::strtoull(f[2].c_str(), nullptr, 10));
            s->set_bytes_out(std::strtoull(f[3].c_str(), nullptr, 10));
          }
        }
      }
    });
    std::sort(res->mutable_sessions()->begin(), res->mutable_sessions()->end(),
              [](const apb::SessionInfo& a, const apb::SessionInfo& b) { return a.id() < b.id(); });
    res->mutable_result()->set_ok(true);
    return grpc::Status::OK;
  }

  grpc::Status Kick(grpc::ServerContext*, const apb::KickRequest* req, apb::KickResponse* res) override {
    if (req->user().empty() && req->session() == 0 && req->ip().empty()) {
      res->mutable_result()->set_message("name a --user, --session or --ip");
      return grpc::Status::OK;
    }
    std::string err;
    size_t n = 0;
    if (!master_.runOnLoop([&] { n = master_.kick(req->user(), req->session(), req->ip(), &err); }))
      err = "master did not answer";
    res->set_kicked(static_cast<uint32_t>(n));
    res->mutable_result()->set_ok(err.empty());
    res->mutable_result()->set_message(err.empty() ? std::to_string(n) + " session(s) disconnected" : err);
    return grpc::Status::OK;
  }

  grpc::Status Status(grpc::ServerContext*, const apb::Empty*, apb::StatusResponse* res) override {
    bool ok = master_.runOnLoop([&] {
      int64_t now = time(nullptr);
      res->set_version("0.1.0");
      res->set_uptime_seconds(now - master_.startedUnix());
      res->set_connections(static_cast<uint32_t>(master_.connections().total()));
      res->set_authenticated(static_cast<uint32_t>(master_.connections().authenticated()));
      auto* mp = res->add_processes();
      mp->set_name("master");
      mp->set_kind("master");
      mp->set_pid(getpid());
      mp->set_uptime_seconds(now - master_.startedUnix());
      mp->set_state("running");
      mp->set_connections(static_cast<uint32_t>(master_.connections().total()));
      const auto& ch = master_.supervisor().children();
      for (size_t i = 0; i < ch.size(); ++i) {
        const auto& c = ch[i];
        auto* p = res->add_processes();
        p->set_name(c.name);
        p->set_kind(c.kind);
        p->set_pid(c.pid);
        p->set_uptime_seconds(c.pid > 0 ? now - c.started_unix : 0);
        p->set_restarts(c.restarts);
        p->set_connections(static_cast<uint32_t>(master_.connections().byWorker(static_cast<int>(i))));
        p->set_state(c.pid > 0 ? (c.ready ? "running" : "starting") : (c.stopping ? "stopped" : "backoff"));
        p->set_last_exit(c.last_exit);
      }
      for (const auto& l : master_.listeners()) {
        auto* ls = res->add_listeners();
        ls->set_protocol(l.protocol);
        ls->set_address(l.addr.str());
        ls->set_connections(static_cast<uint32_t>(master_.connections().byProtocol(l.protocol)));
      }
      for (const auto& [k, v] : master_.counters()) (*res->mutable_counters())[k] = v;
    });
    res->mutable_result()->set_ok(ok);
    if (!ok) res->mutable_result()->set_message("master did not answer");
    return grpc::Status::OK;
  }

  void fillLimits(apb::LimitsResponse* res, const std::string& err) {
    master_.runOnLoop([&] {
      const Config& c = master_.admission().effective();
      const auto& ov = master_.admission().overrides();
      auto put = [&](const std::string& k, const std::string& v) {
        auto* l = res->add_limits();
        l->set_key(k);
        l->set_value(v);
        l->set_source(ov.count(k) ? "live" : "config");
      };
      put("limits.max_connections", std::to_string(c.limits.max_connections));
      put("limits.max_connections_per_ip", std::to_string(c.limits.max_connections_per_ip));
      put("limits.max_connections_per_user", std::to_string(c.limits.max_connections_per_user));
      for (const auto& [p, l] : {std::pair<std::string, Config::Limits>{"imap", c.imap_limits},
                                 {"pop3", c.pop3_limits}, {"lmtp", c.lmtp_limits}}) {
        put(p + ".max_connections", std::to_string(l.max_connections));
        put(p + ".max_connections_per_ip", std::to_string(l.max_connections_per_ip));
        put(p + ".max_connections_per_user", std::to_string(l.max_connections_per_user));
      }
      std::string nets;
      for (const auto& n : c.trusted_networks) nets += (nets.empty() ? "" : " ") + n;
      put("trusted_networks", nets);
    });
    res->mutable_result()->set_ok(err.empty());
    res->mutable_result()->set_message(err);
  }

  void fillLicence(apb::LicenceResponse* res, const std::string& err) {
    master_.runOnLoop([&] {
      const Licence& l = master_.licence();
      const LicenceCheck& chk = master_.licenceCheck();
      res->set_file(master_.licencePath());
      if (l.evaluation) {
        res->set_status(chk.status == LicenceStatus::kOk ? "evaluation" : std::string(licenceStatusName(chk.status)));
        res->set_reason(chk.reason);
      } else {
        res->set_status("ok");
      }
      res->set_licensee(l.fields.licensee);
      res->set_mode(std::string(licenceModeName(l.fields.mode)));
      res->set_seats(l.fields.seats);
      res->set_expires(l.fields.expires ? formatDay(*l.fields.expires) : "never");
      res->set_id(l.fields.id);
      res->set_seats_in_use(master_.seats().inUse());
      res->set_peak_today(master_.seats().peakToday());
      for (const auto& p : master_.seats().peaks()) {
        auto* d = res->add_peaks();
        d->set_day(formatDay(p.day));
        d->set_peak(p.peak);
      }
    });
    res->mutable_result()->set_ok(err.empty());
    res->mutable_result()->set_message(err);
  }

  void fillAccess(apb::AccessListResponse* res, const std::string& err) {
    master_.runOnLoop([&] {
      for (const auto& r : master_.admission().configAccess().rules()) {
        auto* x = res->add_rules();
        x->set_rule(r.toString());
        x->set_source("config");
      }
      for (const auto& r : master_.admission().liveAccess().rules()) {
        auto* x = res->add_rules();
        x->set_rule(r.toString());
        x->set_source("live");
      }
    });
    res->mutable_result()->set_ok(err.empty());
    res->mutable_result()->set_message(err);
  }

 private:
  static std::unique_ptr<grpc::ClientContext> ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return c;
  }

  static void fill(apb::Result* res, const grpc::Status& st, const spb::Error& e, const std::string& ok_msg) {
    if (!st.ok()) {
      res->set_ok(false);
      res->set_message("store unavailable: " + st.error_message());
      return;
    }
    if (e.code() != spb::OK) {
      res->set_ok(false);
      res->set_message(e.message().empty() ? "failed" : e.message());
      return;
    }
    res->set_ok(true);
    res->set_message(ok_msg);
  }

  Master& master_;
  std::unique_ptr<spb::Store::Stub> store_;
};

AdminServer::AdminServer(Master& master) : master_(master) {}
AdminServer::~AdminServer() { stop(); }

bool AdminServer::start(const std::string& socket_path, const std::string& store_target, std::string* err) {
  socket_path_ = socket_path;
  unlink(socket_path.c_str());
  service_ = std::make_unique<AdminServiceImpl>(
      master_, store_target, static_cast<size_t>(master_.config().message_size_limit) + (4u << 20));
  grpc::ServerBuilder b;
  b.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  b.SetMaxReceiveMessageSize(static_cast<int>(master_.config().message_size_limit + (4u << 20)));
  b.RegisterService(service_.get());
  server_ = b.BuildAndStart();
  if (!server_) {
    *err = "cannot listen on unix:" + socket_path;
    return false;
  }
  chmod(socket_path.c_str(), 0600);
  return true;
}

void AdminServer::stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
    unlink(socket_path_.c_str());
  }
}

}  // namespace postern::master
