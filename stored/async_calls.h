#pragma once
// The store's hot calls served on gRPC's asynchronous API: one completion
// queue, a thread per core taking calls from it (a thread that reads a call
// from the connections can return it itself; a queue per thread measured no
// better). The writes (Append, Deliver, StoreFlags, Expunge) are handed to
// the engine's ...Async form and the thread goes on;
// the writer thread hands the response back to gRPC once the group commit
// landed. No thread waits for a commit, so none is woken for it (the sync
// server parked one pool thread per write in flight and woke it after the
// commit: two context switches per call, and a pool of a hundred threads
// polling one queue). FetchBodies streams from a source that makes one
// batch each time gRPC has sent the previous one (fetch_stream.h), on the
// queue's thread. The other methods stay on the sync server's pool.
//
// Life cycle: addTo(builder) before BuildAndStart, start() after it; stop()
// after Server::Shutdown: from then on no operation is started on the queue;
// it waits for the queue threads at work and the calls still in the engine
// (whose replies start their last operation), then shuts the queue down,
// drains it and joins the threads. Handlers and sources may throw: the call
// ends with INTERNAL.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
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

  // A server-streaming method: `start` makes the call's source of stream
  // messages, asked for the next one each time gRPC has sent the previous
  // (see FetchStream::next: nullptr when nothing is left; *last set on the
  // final one, which goes out with the status). Sources run on the queue's
  // thread and must not block.
  template <class Req, class Msg>
  struct Streamed {
    using Request = std::function<void(grpc::ServerContext*, Req*, grpc::ServerAsyncWriter<Msg>*,
                                       grpc::ServerCompletionQueue*, void* tag)>;
    using Source = std::function<const Msg*(bool* last)>;
    using Start = std::function<Source(Req* req)>;
    Request request;
    Start start;
  };

  AsyncCalls() = default;
  ~AsyncCalls();  // stop()
  AsyncCalls(const AsyncCalls&) = delete;
  AsyncCalls& operator=(const AsyncCalls&) = delete;

  // Before BuildAndStart: the completion queue, and how many threads will
  // take calls from it (at least 1).
  void addTo(grpc::ServerBuilder& builder, int threads);
  template <class Req, class Resp>
  void add(Unary<Req, Resp> method) {
    methods_.push_back(std::make_unique<Method<Unary<Req, Resp>, Call<Req, Resp>>>(this, std::move(method)));
  }
  template <class Req, class Msg>
  void add(Streamed<Req, Msg> method) {
    methods_.push_back(
        std::make_unique<Method<Streamed<Req, Msg>, StreamCall<Req, Msg>>>(this, std::move(method)));
  }
  // After BuildAndStart: asks for the first call of each method and starts
  // the threads.
  void start();
  // Runs `work` on one of kSlowThreads threads kept for work too long for a
  // queue thread (parsing a message of megabytes would hold up the calls
  // waiting for a queue thread). Only from a handler, before its reply.
  void offload(std::function<void()> work);
  static constexpr int kSlowThreads = 2;
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
  template <class Def, class CallT>
  struct Method;
  template <class Req, class Resp>
  class Call;
  template <class Req, class Msg>
  class StreamCall;

  // A queue thread working on a call (starting operations on the queue):
  // false once stop() has begun. leave() when done.
  bool enter();
  void leave();
  void began();
  void replied();
  void run(grpc::ServerCompletionQueue* cq);

  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  int nthreads_ = 1;
  std::vector<std::unique_ptr<MethodBase>> methods_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_engine_ = 0;  // calls handed over and not replied yet
  size_t busy_ = 0;       // queue threads between enter() and leave()
  bool stopping_ = false;  // stop() has begun: no operation is started any more
  bool stopped_ = false;
  // offload(): started on first use, ended by stop().
  std::vector<std::thread> slow_threads_;
  std::deque<std::function<void()>> slow_queue_;
  std::condition_variable slow_cv_;
  bool slow_stop_ = false;
};

// One call of a unary method: waiting for gRPC to bring it, then handled,
// then finishing (the tag comes back once the response went out).
template <class Req, class Resp>
class AsyncCalls::Call final : public Tag {
 public:
  using M = Method<Unary<Req, Resp>, Call>;
  Call(M* m, grpc::ServerCompletionQueue* cq) : m_(m), cq_(cq), responder_(&ctx_) {
    m_->def.request(&ctx_, &req_, &responder_, cq_, this);
  }
  void proceed(bool ok) override {
    // Finished; or the server is shutting down; or stop() has begun: then
    // nothing more is started on the queue.
    if (handled_ || !ok || !m_->owner->enter()) {
      delete this;
      return;
    }
    handled_ = true;
    M* m = m_;
    AsyncCalls* owner = m->owner;
    m->listen(cq_);  // the next call of this method: any queue thread takes it meanwhile
    owner->began();
    // The reply may come (and the finish tag be taken by another thread,
    // deleting this call) before handle() returns: nothing of `this` is
    // touched after it. The reply happens once, whoever calls it first.
    auto replied = std::make_shared<std::atomic<bool>>(false);
    try {
      m->def.handle(&req_, &resp_, [this, owner, replied] {
        if (replied->exchange(true)) return;
        responder_.Finish(resp_, grpc::Status::OK, this);
        owner->replied();
      });
    } catch (const std::exception& e) {  // e.g. bad_alloc before the engine took the call
      if (!replied->exchange(true)) {
        responder_.FinishWithError(grpc::Status(grpc::StatusCode::INTERNAL, e.what()), this);
        owner->replied();
      }
    }
    owner->leave();
  }

 private:
  M* m_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext ctx_;
  Req req_;
  Resp resp_;
  grpc::ServerAsyncResponseWriter<Resp> responder_;
  bool handled_ = false;
};

// One call of a server-streaming method: waiting, then writing one stream
// message at a time, then finishing.
template <class Req, class Msg>
class AsyncCalls::StreamCall final : public Tag {
 public:
  using M = Method<Streamed<Req, Msg>, StreamCall>;
  StreamCall(M* m, grpc::ServerCompletionQueue* cq) : m_(m), cq_(cq), writer_(&ctx_) {
    m_->def.request(&ctx_, &req_, &writer_, cq_, this);
  }
  void proceed(bool ok) override {
    AsyncCalls* owner = m_->owner;
    // Finished; or never started (shutting down); or stop() has begun.
    if (state_ == kFinishing || (state_ == kWaiting && !ok) || !owner->enter()) {
      delete this;
      return;
    }
    if (state_ == kWaiting) {
      m_->listen(cq_);
      try {
        source_ = m_->def.start(&req_);
        step();
      } catch (const std::exception& e) {
        fail(e);
      }
    } else if (ok) {
      try {
        step();
      } catch (const std::exception& e) {
        fail(e);
      }
    } else {  // the client is gone: end the call
      state_ = kFinishing;
      writer_.Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client gone"), this);
    }
    owner->leave();  // `this` may be gone already
  }

 private:
  // Starts the next write or the finish: the last thing done with `this`
  // before its tag comes back (to any of the queue's threads).
  void step() {
    bool last = true;
    const Msg* msg = source_(&last);
    if (!msg) {
      state_ = kFinishing;
      writer_.Finish(grpc::Status::OK, this);
    } else if (last) {  // the last message and the status in one write
      state_ = kFinishing;
      writer_.WriteAndFinish(*msg, grpc::WriteOptions(), grpc::Status::OK, this);
    } else {
      state_ = kWriting;
      writer_.Write(*msg, this);
    }
  }
  // The source threw (before starting an operation): the call ends with INTERNAL.
  void fail(const std::exception& e) {
    state_ = kFinishing;
    writer_.Finish(grpc::Status(grpc::StatusCode::INTERNAL, e.what()), this);
  }

  enum State { kWaiting, kWriting, kFinishing };
  M* m_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext ctx_;
  Req req_;
  grpc::ServerAsyncWriter<Msg> writer_;
  typename Streamed<Req, Msg>::Source source_;
  State state_ = kWaiting;
};

template <class Def, class CallT>
struct AsyncCalls::Method final : MethodBase {
  Method(AsyncCalls* o, Def d) : owner(o), def(std::move(d)) {}
  void listen(grpc::ServerCompletionQueue* cq) override { new CallT(this, cq); }
  AsyncCalls* owner;
  Def def;
};

}  // namespace postern::stored
