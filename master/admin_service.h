#pragma once
// The admin gRPC API (proto/admin.proto) on a Unix socket. Handlers run on
// gRPC's threads: store operations are forwarded to stored with a blocking
// stub (fine here: admin calls are rare and never on the master's loop);
// master state is read through Master::runOnLoop().
#include <memory>
#include <string>

namespace grpc {
class Server;
}

namespace postern::master {

class Master;
class AdminServiceImpl;

class AdminServer {
 public:
  explicit AdminServer(Master& master);
  ~AdminServer();
  // Listens on `socket_path` (a stale socket file is replaced).
  bool start(const std::string& socket_path, const std::string& store_target, std::string* err);
  void stop();

 private:
  Master& master_;
  std::unique_ptr<AdminServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
};

}  // namespace postern::master
