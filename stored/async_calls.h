#pragma once
// The store's hot writes (Append, Deliver, StoreFlags, Expunge) served on
// gRPC's asynchronous API: a few threads, one completion queue each, take
// each call, hand it to the engine's ...Async form and go on; the writer
// thread hands the response back to gRPC once the group commit landed. No
// thread waits for a commit, so none is woken for it (the sync server parked
// one pool thread per write in flight and woke it after the commit: two
// context switches per call, and a pool of a hundred threads polling one
// queue). The other methods stay on the sync server's pool.
//
// Life cycle: addTo(builder) before BuildAndStart, start() after it; stop()
// after Server::Shutdown (it waits for the calls still in the engine, then
// drains and joins the threads).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace postern::stored {

class AsyncCalls {
 public:
  // One registration per method: asks gRPC for the next call of it on `cq`
  // (the generated Request<Method>), and serves one call: `reply` must be
  // called exactly once, from any thread, when the response is filled.
  template <class Req, class Resp>
  struct Unary {
    using Request = std::function<void(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                                       grpc::ServerCompletionQueue*, void* tag)>;
    using Reply = std::function<void()>;
    using Handle = std::function<void(Req* req, Resp* resp, Reply reply)>;
    Request request;
    Handle handle;
  };

  AsyncCalls() = default;
  ~AsyncCalls();  // stop()
  AsyncCalls(const AsyncCalls&) = delete;
  AsyncCalls& operator=(const AsyncCalls&) = delete;

  // Before BuildAndStart: `threads` completion queues (at least 1).
  void addTo(grpc::ServerBuilder& builder, int threads);
  template <class Req, class Resp>
  void add(Unary<Req, Resp> method) {
    methods_.push_back(std::make_unique<Method<Req, Resp>>(this, std::move(method)));
  }
  // After BuildAndStart: asks for the first call of each method on each
  // queue and starts the threads.
  void start();
  // After Server::Shutdown. Idempotent.
  void stop();

 private:
  struct Tag {
    virtual ~Tag() = default;
    virtual void proceed(bool ok) = 0;
  };
  struct MethodBase {
    virtual ~MethodBase() = default;
    virtual void listen(grpc::ServerCompletionQueue* cq) = 0;
  };
  template <class Req, class Resp>
  struct Method;
  template <class Req, class Resp>
  class Call;

  void began();
  void replied();
  void run(grpc::ServerCompletionQueue* cq);

  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<std::unique_ptr<MethodBase>> methods_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_engine_ = 0;  // calls handed over and not replied yet
  bool stopped_ = false;
};

// One call of a unary method: waiting for gRPC to bring it, then handled,
// then finishing (the tag comes back once the response went out).
template <class Req, class Resp>
class AsyncCalls::Call final : public Tag {
 public:
  Call(Method<Req, Resp>* m, grpc::ServerCompletionQueue* cq) : m_(m), cq_(cq), responder_(&ctx_) {
    m_->def.request(&ctx_, &req_, &responder_, cq_, this);
  }
  void proceed(bool ok) override {
    if (handled_ || !ok) {  // finished, or the server is shutting down
      delete this;
      return;
    }
    handled_ = true;
    Method<Req, Resp>* m = m_;
    grpc::ServerCompletionQueue* cq = cq_;
    AsyncCalls* owner = m->owner;
    owner->began();
    // The finish tag comes back on this queue, whose only thread is this
    // one: `this` lives on at least until proceed() returns.
    m->def.handle(&req_, &resp_, [this, owner] {
      responder_.Finish(resp_, grpc::Status::OK, this);
      owner->replied();
    });
    // Asked for only now: while this thread is busy with a large message,
    // the next call of the method goes to another queue.
    m->listen(cq);
  }

 private:
  Method<Req, Resp>* m_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext ctx_;
  Req req_;
  Resp resp_;
  grpc::ServerAsyncResponseWriter<Resp> responder_;
  bool handled_ = false;
};

template <class Req, class Resp>
struct AsyncCalls::Method final : MethodBase {
  Method(AsyncCalls* o, Unary<Req, Resp> d) : owner(o), def(std::move(d)) {}
  void listen(grpc::ServerCompletionQueue* cq) override { new Call<Req, Resp>(this, cq); }
  AsyncCalls* owner;
  Unary<Req, Resp> def;
};

}  // namespace postern::stored
