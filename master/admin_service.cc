#include "admin_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
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

  grpc::Status Reload(grpc::ServerContext*, const apb::Empty*, apb::Result* res) override {
    std::string err = "master is shutting down";
    master_.runOnLoop([&] { err = master_.reload(); });
    res->set_ok(err.empty());
    res->set_message(err.empty() ? "configuration reloaded" : err);
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
