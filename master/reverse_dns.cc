#include "reverse_dns.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

namespace postern::master {

namespace {
constexpr auto kCacheTtl = std::chrono::minutes(5);
constexpr size_t kCacheMax = 10000;
}  // namespace

ReverseDns::ReverseDns(EventLoop& loop, size_t threads, size_t max_queue) : loop_(loop), max_queue_(max_queue) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { worker(); });
}

ReverseDns::~ReverseDns() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

std::string ReverseDns::confirmedName(const std::string& ip) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    len = sizeof *v6;
  } else {
    return "";
  }
  char host[NI_MAXHOST] = {0};
  if (getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, nullptr, 0, NI_NAMEREQD) != 0)
    return "";
  addrinfo hints{};
  hints.ai_family = ss.ss_family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host, nullptr, &hints, &res) != 0) return "";
  bool confirmed = false;
  for (addrinfo* a = res; a && !confirmed; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (a->ai_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf, sizeof buf);
    else if (a->ai_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf, sizeof buf);
    confirmed = ip == buf;
  }
  freeaddrinfo(res);
  return confirmed ? host : "";
}

void ReverseDns::lookup(const std::string& ip, Done done) {
  auto it = cache_.find(ip);
  if (it != cache_.end() && it->second.second > EventLoop::now()) {
    std::string name = it->second.first;
    loop_.post([done, name] { done(name); });
    return;
  }
  {
    std::lock_guard lk(mu_);
    if (queue_.size() >= max_queue_) {
      loop_.post([done] { done(""); });
      return;
    }
    queue_.emplace_back(ip, [this, ip, done](const std::string& name) {
      if (cache_.size() >= kCacheMax) cache_.clear();
      cache_[ip] = {name, EventLoop::now() + kCacheTtl};
      done(name);
    });
  }
  cv_.notify_one();
}

void ReverseDns::worker() {
  for (;;) {
    std::pair<std::string, Done> job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    std::string name = confirmedName(job.first);
    auto done = std::move(job.second);
    loop_.post([done, name] { done(name); });
  }
}

}  // namespace postern::master
