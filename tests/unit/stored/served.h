#pragma once
// The store's gRPC service served in-process on a unix socket in a temp dir,
// with a stub for the tests that speak to it.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "store_service.h"
#include "test_util.h"

namespace postern::stored::test {

namespace v1 = postern::store::v1;

struct Served {
  TempDir dir;
  std::unique_ptr<StoreEngine> engine = openEngine(dir.path);
  StoreService service{engine.get()};
  AsyncCalls calls;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::Store::Stub> stub;
  std::string target;

  Served() {
    target = "unix:" + dir.path + "/stored.sock";
    grpc::ServerBuilder b;
    b.AddListeningPort(target, grpc::InsecureServerCredentials());
    b.RegisterService(&service);
    service.addAsync(calls);
    calls.addTo(b, 2);
    server = b.BuildAndStart();
    REQUIRE(server != nullptr);
    calls.start();
    stub = v1::Store::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }
  ~Served() { stop(); }
  void stop() {
    if (!server) return;
    service.shutdown();
    engine->changes().close();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    calls.stop();
    server->Wait();
    server.reset();
  }
};

}  // namespace postern::stored::test
