#include "admin_service.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <ctime>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>

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
      e->set_password_scheme(u.password_scheme());
      for (const auto& m : u.scram()) e->add_scram(m);
    }
    return grpc::Status::OK;
  }

  grpc::Status ImportPasswd(grpc::ServerContext*, const apb::ImportPasswdRequest* req,
                            apb::ImportPasswdResponse* res) override {
    spb::ImportPasswdRequest q;
    for (const auto& l : req->lines()) q.add_lines(l);
    q.set_first_line(req->first_line());
    q.set_replace(req->replace());
    spb::ImportPasswdResponse r;
    // {PLAIN} lines are hashed in stored (tens of ms each): a long deadline.
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
    auto st = store_->ImportPasswd(c.get(), q, &r);
    uint32_t imported = 0;
    for (const auto& l : r.results()) {
      auto* o = res->add_results();
      o->set_line(l.line());
      o->set_user(l.user());
      o->set_imported(l.imported());
      o->set_detail(l.detail());
      imported += l.imported() ? 1 : 0;
    }
    fill(res->mutable_result(), st, r.error(),
         std::to_string(imported) + " of " + std::to_string(r.results_size()) + " user(s) imported");
    log::info("admin: user import-passwd", {{"lines", std::to_string(req->lines_size())}, {"result", res->result().message()}});
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

  // user set NAME KEY=VALUE...: each assignment is its own store call; the
  // first refusal stops (and says which key).
  grpc::Status UserSet(grpc::ServerContext*, const apb::UserSetRequest* req, apb::Result* res) override {
    std::string done;
    for (const auto& a : req->assignments()) {
      size_t eq = a.find('=');
      spb::SetUserSettingRequest q;
      q.set_user(req->name());
      q.set_key(a.substr(0, eq));
      std::string value = eq == std::string::npos ? "" : a.substr(eq + 1);
      q.set_value(value == "default" ? "" : value);
      spb::SimpleResponse r;
      auto st = eq == std::string::npos ? grpc::Status::OK : store_->SetUserSetting(ctx().get(), q, &r);
      if (eq == std::string::npos) {
        r.mutable_error()->set_code(spb::BAD_ARGS);
        r.mutable_error()->set_message("expected KEY=VALUE, got '" + a + "'");
      }
      fill(res, st, r.error(), "");
      log::info("admin: user set", {{"user", req->name()}, {"setting", a}, {"result", res->message()}});
      if (!res->ok()) return grpc::Status::OK;
      done += (done.empty() ? "" : ", ") + a;
    }
    res->set_ok(!done.empty());
    res->set_message(done.empty() ? "no KEY=VALUE given" : "set for " + req->name() + ": " + done);
    return grpc::Status::OK;
  }

  grpc::Status UserSettings(grpc::ServerContext*, const apb::UserRequest* req, apb::UserSettingsResponse* res) override {
    spb::UserSettingsRequest q;
    q.set_user(req->name());
    spb::UserSettingsResponse r;
    auto st = store_->UserSettings(ctx().get(), q, &r);
    fill(res->mutable_result(), st, r.error(), "");
    if (!res->result().ok()) return grpc::Status::OK;
    res->set_name(req->name());
    for (const auto& [k, v] : r.settings()) (*res->mutable_settings())[k] = v;
    master_.runOnLoop([&] {
      const Config& c = master_.config();
      auto& server = *res->mutable_server();
      for (const auto& k : r.keys()) server[k] = "";
      if (server.count("pop3.expire"))
        server["pop3.expire"] = c.pop3_expire_days < 0 ? "never" : std::to_string(c.pop3_expire_days);
      if (server.count("pop3.login_delay")) server["pop3.login_delay"] = std::to_string(c.pop3_login_delay_s);
      if (server.count("pop3.mark_seen")) server["pop3.mark_seen"] = c.pop3_mark_seen ? "true" : "false";
    });
    return grpc::Status::OK;
  }

  grpc::Status ClockOffset(grpc::ServerContext*, const apb::ClockOffsetRequest* req, apb::Result* res) override {
    spb::SetClockOffsetRequest q;
    q.set_offset_seconds(req->offset_seconds());
    spb::SimpleResponse r;
    auto st = store_->SetClockOffset(ctx().get(), q, &r);
    fill(res, st, r.error(), "retention clock offset " + std::to_string(req->offset_seconds()) + " s");
    log::warn("admin: debug clock-offset", {{"offset_s", std::to_string(req->offset_seconds())}, {"result", res->message()}});
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

  grpc::Status PenaltyList(grpc::ServerContext*, const apb::PenaltyListRequest* req,
                           apb::PenaltyListResponse* res) override {
    std::optional<Cidr> net;
    std::string key;
    const std::string& a = req->address();
    if (a.find('/') != std::string::npos) {
      auto c = Cidr::parse(a);
      if (!c.ok()) return penaltyError(res->mutable_result(), c.error().message);
      net = c.value();
    } else if (!a.empty()) {
      if (auto ip = IpAddress::parse(a); !ip.ok()) return penaltyError(res->mutable_result(), ip.error().message);
      key = PenaltyTable::keyOf(a);
    }
    bool ok = master_.runOnLoop([&] {
      for (const auto& e : master_.penalty().list()) {
        if (!key.empty() && e.address != key) continue;
        if (net) {
          auto ip = IpAddress::parse(e.address.substr(0, e.address.find('/')));
          if (!ip.ok() || !net->contains(ip.value())) continue;
        }
        auto* x = res->add_entries();
        x->set_address(e.address);
        x->set_failures(e.failures);
        x->set_last_failure_seconds(e.last_failure_ago_s);
        x->set_blocked_seconds(e.blocked_for_s);
        x->set_total_failures(e.total_failures);
        x->set_blocks(e.blocks);
      }
    });
    res->mutable_result()->set_ok(ok);
    if (!ok) res->mutable_result()->set_message("master did not answer");
    return grpc::Status::OK;
  }

  grpc::Status PenaltyClear(grpc::ServerContext*, const apb::PenaltyClearRequest* req,
                            apb::PenaltyClearResponse* res) override {
    Result<size_t> n = Error{ErrorCode::kUnavailable, "master did not answer"};
    master_.runOnLoop([&] { n = master_.penalty().clear(req->address()); });
    if (!n.ok()) return penaltyError(res->mutable_result(), n.error().message);
    res->set_cleared(static_cast<uint32_t>(n.value()));
    res->mutable_result()->set_ok(true);
    res->mutable_result()->set_message(std::to_string(n.value()) + " penalty entr" + (n.value() == 1 ? "y" : "ies") +
                                       " cleared");
    log::info("admin: penalty cleared", {{"address", req->address().empty() ? "all" : req->address()},
                                         {"entries", std::to_string(n.value())}});
    return grpc::Status::OK;
  }

  static grpc::Status penaltyError(apb::Result* r, const std::string& why) {
    r->set_ok(false);
    r->set_message(why);
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
      put("limits.max_preauth_per_ip", std::to_string(c.max_preauth_per_ip));
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

// Answers every call of a caller the admin socket does not admit.
class DenyService final : public grpc::CallbackGenericService {
 public:
  explicit DenyService(std::string reason) : reason_(std::move(reason)) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      explicit Reactor(const std::string& reason) { Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, reason)); }
      void OnDone() override { delete this; }
    };
    return new Reactor(reason_);
  }

 private:
  std::string reason_;
};

AdminServer::AdminServer(Master& master) : master_(master) {}
AdminServer::~AdminServer() { stop(); }

bool AdminServer::start(const std::string& socket_path, const std::string& store_target, std::string* err) {
  socket_path_ = socket_path;
  unlink(socket_path.c_str());
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof sa.sun_path) {
    *err = "admin socket path too long: " + socket_path;
    return false;
  }
  memcpy(sa.sun_path, socket_path.data(), socket_path.size());
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      listen(listen_fd_, 64) != 0) {
    *err = "cannot listen on unix:" + socket_path + ": " + strerror(errno);
    return false;
  }
  const AdminAccess& access = master_.adminAccess();
  if (access.hasGroup()) {
    if (chown(socket_path.c_str(), static_cast<uid_t>(-1), access.admin_gid) != 0)
      log::warn("admin socket: cannot give it to admin_group",
                {{"group", access.admin_group}, {"error", strerror(errno)}});
    chmod(socket_path.c_str(), 0660);
  } else {
    chmod(socket_path.c_str(), 0600);
  }
  service_ = std::make_unique<AdminServiceImpl>(
      master_, store_target, static_cast<size_t>(master_.config().message_size_limit) + (4u << 20));
  grpc::ServerBuilder b;
  b.SetMaxReceiveMessageSize(static_cast<int>(master_.config().message_size_limit + (4u << 20)));
  b.RegisterService(service_.get());
  server_ = b.BuildAndStart();
  std::string allowed = (access.own_uid == 0 ? std::string("root") : "root, uid " + std::to_string(access.own_uid)) +
                        (access.hasGroup() ? " and members of admin_group '" + access.admin_group + "'" : "");
  deny_service_ = std::make_unique<DenyService>(
      "permission denied: this user may not use the Postern admin socket (allowed: " + allowed + ")");
  grpc::ServerBuilder db;
  db.RegisterCallbackGenericService(deny_service_.get());
  deny_server_ = db.BuildAndStart();
  if (!server_ || !deny_server_ || pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    *err = "cannot start the admin gRPC server";
    return false;
  }
  acceptor_ = std::thread([this] { acceptLoop(); });
  return true;
}

void AdminServer::acceptLoop() {
  const AdminAccess& access = master_.adminAccess();
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) usleep(100000);
      continue;
    }
    ucred cr{};
    socklen_t len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
      close(fd);
      continue;
    }
    // Supplementary groups as they were at connect (Linux 4.13+); where the
    // kernel cannot tell, only the primary group counts.
    std::vector<gid_t> groups(64);
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0 && errno == ERANGE) {
      groups.resize(glen / sizeof(gid_t) + 1);
      glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
      if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0) glen = 0;
    }
    groups.resize(glen / sizeof(gid_t));
    std::string why = access.check(cr.uid, cr.gid, groups);
    if (why.empty()) {
      grpc::AddInsecureChannelFromFd(server_.get(), fd);
    } else {
      log::warn("admin socket: caller refused", {{"uid", std::to_string(cr.uid)}, {"gid", std::to_string(cr.gid)},
                                                 {"pid", std::to_string(cr.pid)}, {"reason", why}});
      grpc::AddInsecureChannelFromFd(deny_server_.get(), fd);
    }
  }
}

void AdminServer::stop() {
  if (acceptor_.joinable()) {
    char c = 1;
    ssize_t n = write(stop_pipe_[1], &c, 1);
    (void)n;
    acceptor_.join();
  }
  for (int* fd : {&listen_fd_, &stop_pipe_[0], &stop_pipe_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  if (deny_server_) {
    deny_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    deny_server_.reset();
  }
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
    unlink(socket_path_.c_str());
  }
}

}  // namespace postern::master
