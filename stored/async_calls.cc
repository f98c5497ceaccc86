#include "async_calls.h"

#include <pthread.h>

#include "log.h"

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
          try {
            w();
          } catch (const std::exception& e) {  // the work replies itself (see the service)
            log::error("offloaded store call failed", {{"error", e.what()}});
          }
          lk.lock();
        }
      });
    }
  }
  slow_cv_.notify_one();
}

bool AsyncCalls::enter() {
  std::lock_guard lk(mu_);
  if (stopping_) return false;
  busy_++;
  return true;
}

void AsyncCalls::leave() {
  std::lock_guard lk(mu_);
  if (--busy_ == 0) cv_.notify_all();
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
    stopping_ = true;  // tags taken from here on only delete their calls
    // No thread starting an operation and every call handed to the engine
    // answered (the engine is still open): only then may the queue shut
    // down, as no operation may be started on a queue after its Shutdown.
    cv_.wait(lk, [&] { return busy_ == 0 && in_engine_ == 0; });
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
