#include "async_calls.h"

#include <pthread.h>

namespace postern::stored {

AsyncCalls::~AsyncCalls() { stop(); }

void AsyncCalls::addTo(grpc::ServerBuilder& builder, int threads) {
  cq_ = builder.AddCompletionQueue();
  nthreads_ = std::max(1, threads);
}

void AsyncCalls::start() {
  if (!cq_) return;
  for (auto& m : methods_) m->listen(cq_.get());
  for (int i = 0; i < nthreads_; i++) threads_.emplace_back([this] { run(cq_.get()); });
}

void AsyncCalls::run(grpc::ServerCompletionQueue* cq) {
  pthread_setname_np(pthread_self(), "store-async");
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) static_cast<Tag*>(tag)->proceed(ok);
}

void AsyncCalls::offload(std::function<void()> work) {
  std::lock_guard lk(mu_);
  slow_queue_.push_back(std::move(work));
  if (slow_threads_.empty()) {
    for (int i = 0; i < kSlowThreads; i++) {
      slow_threads_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "store-slow");
        std::unique_lock lk(mu_);
        for (;;) {
          slow_cv_.wait(lk, [&] { return slow_stop_ || !slow_queue_.empty(); });
          if (slow_queue_.empty()) return;  // stopping, nothing left
          auto w = std::move(slow_queue_.front());
          slow_queue_.pop_front();
          lk.unlock();
          w();
          lk.lock();
        }
      });
    }
  }
  slow_cv_.notify_one();
}

void AsyncCalls::began() {
  std::lock_guard lk(mu_);
  in_engine_++;
}

void AsyncCalls::replied() {
  std::lock_guard lk(mu_);
  if (--in_engine_ == 0) cv_.notify_all();
}

void AsyncCalls::stop() {
  {
    std::unique_lock lk(mu_);
    if (stopped_) return;
    stopped_ = true;
    // Every call handed to the engine is answered (the engine is still
    // open): only then may the queues shut down, as no tag may be queued
    // on a queue after its Shutdown.
    cv_.wait(lk, [&] { return in_engine_ == 0; });
    slow_stop_ = true;  // its queue is empty: every offloaded call has replied
  }
  slow_cv_.notify_all();
  for (auto& t : slow_threads_) t.join();
  slow_threads_.clear();
  if (cq_) cq_->Shutdown();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace postern::stored
