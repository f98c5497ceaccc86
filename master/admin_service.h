#pragma once
// The admin gRPC API (proto/admin.proto) on a Unix socket. Handlers run on
// gRPC's threads: store operations are forwarded to stored with a blocking
// stub (fine here: admin calls are rare and never on the master's loop);
// master state is read through Master::runOnLoop().
//
// Access (SO_PEERCRED): the server accepts on the socket itself, on its own
// thread, and hands each connection to gRPC (AddInsecureChannelFromFd):
// callers Master::adminAccess() admits to the real service, everyone else
// to a service that answers every call PERMISSION_DENIED with the reason.
// The socket file is 0600, or 0660 with group admin_group, so most
// strangers cannot even connect (posternctl then says so itself).
#include <memory>
#include <string>
#include <thread>

namespace grpc {
class Server;
}

namespace postern::master {

class Master;
class AdminServiceImpl;
class DenyService;

class AdminServer {
 public:
  explicit AdminServer(Master& master);
  ~AdminServer();
  // Listens on `socket_path` (a stale socket file is replaced).
  bool start(const std::string& socket_path, const std::string& store_target, std::string* err);
  void stop();

 private:
  void acceptLoop();

  Master& master_;
  std::unique_ptr<AdminServiceImpl> service_;
  std::unique_ptr<DenyService> deny_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> deny_server_;
  std::string socket_path_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread acceptor_;
};

}  // namespace postern::master
