// postern-stored: owns the LMDB environment and serves store.proto over gRPC.
//   postern-stored [--config PATH] [--name NAME]
// Exits 0 after SIGTERM/SIGINT, kShutdown or EOF on the master's IPC fd.
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "config.h"
#include "grpc_process.h"
#include "ipc.h"
#include "log.h"
#include "store_engine.h"
#include "store_service.h"

using namespace postern;

namespace {

bool mkdirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) log::error("cannot create directory", {{"path", path}, {"error", ec.message()}});
  return !ec;
}

int ipcFd() {
  const char* v = getenv(ipc::kIpcFdEnv);
  if (!v || !*v) return -1;
  char* end = nullptr;
  long fd = strtol(v, &end, 10);
  return (*end == '\0' && fd >= 0 && fd < 65536) ? int(fd) : -1;
}

// Blocks until a stop signal, kShutdown, or EOF/error on the IPC fd.
std::string waitForStop(int sigfd, int ipc_fd) {
  for (;;) {
    pollfd fds[2] = {{sigfd, POLLIN, 0}, {ipc_fd, POLLIN, 0}};
    int n = poll(fds, ipc_fd >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::string("poll: ") + strerror(errno);
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (read(sigfd, &si, sizeof si) == ssize_t(sizeof si)) return std::string("signal ") + strsignal(int(si.ssi_signo));
    }
    if (ipc_fd >= 0 && fds[1].revents) {
      ipc::IpcMsg msg{};
      int fd = -1;
      int r = ipc::recv(ipc_fd, &msg, &fd);
      if (fd >= 0) close(fd);
      if (r == 0) return "master gone (ipc EOF)";
      if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return std::string("ipc error: ") + strerror(errno);
      if (r == 1 && msg.type == ipc::MsgType::kShutdown) return "shutdown requested";
      if (r < 0 && (fds[1].revents & (POLLHUP | POLLERR))) return "master gone (ipc hangup)";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  postern::grpcProcessInit();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // scrypt needs 16 MiB per password check. A fixed mmap threshold makes
  // such buffers go back to the kernel on free instead of raising glibc's
  // dynamic threshold and piling up in per-thread arenas (hundreds of MB
  // after a login storm); few arenas keep the rest compact too. 8 MiB (not
  // less): SELECT of a 100,000-message mailbox builds ~4 MB responses, which
  // below the threshold reuse heap pages instead of faulting in fresh ones
  // every time; the trim threshold keeps that much free heap for the next.
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_ARENA_MAX, 4);
  std::string config_path, name = "stored";
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (a == "--name" && i + 1 < argc) name = argv[++i];
    else {
      std::cerr << "usage: postern-stored [--config PATH] [--name NAME]\n";
      return 2;
    }
  }
  // Block the stop signals before any thread exists; they are read from a signalfd.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sigfd = signalfd(-1, &stop, SFD_CLOEXEC);

  auto cfg = loadConfig(config_path);
  if (!cfg.ok()) {
    std::cerr << "postern-stored: " << cfg.error().message << "\n";
    return 2;
  }
  initLogging(cfg.value(), name);
  log::info("starting", {{"config", cfg->source}, {"data_dir", cfg->data_dir}});
  if (sigfd < 0) {
    log::error("signalfd failed", {{"error", strerror(errno)}});
    return 1;
  }

  std::string store_dir = cfg->data_dir + "/store";
  if (!mkdirs(store_dir)) return 1;
  stored::EngineOptions opts;
  opts.path = store_dir;
  opts.map_size_mb = cfg->store_map_size_mb;
  opts.batch_max = cfg->store_batch_max;
  opts.max_message_size = cfg->message_size_limit;
  opts.auth_cache_ttl_s = cfg->auth_cache_ttl_s;
  opts.list_cache_bytes = size_t(cfg->store_list_cache_mb) << 20;
  opts.write_ahead_mb = cfg->store_write_ahead_mb;
  auto engine = stored::StoreEngine::open(opts);
  if (!engine.ok()) {
    log::error("cannot open store", {{"path", store_dir}, {"error", engine.error().message}});
    return 1;
  }
  log::info("store opened", {{"path", store_dir}, {"map_size_mb", std::to_string(opts.map_size_mb)}});

  if (cfg->demo_user) {
    auto has = (*engine)->hasUsers();
    if (has.ok() && !*has) {
      Error e = (*engine)->addUser("demo", "demo");
      if (e.ok()) log::warn("created demo user (password demo); disable with demo_user = false", {{"user", "demo"}});
      else log::error("cannot create demo user", {{"error", e.message}});
    }
  }

  std::string target = cfg->storeTarget();
  std::string socket_path;
  if (target.rfind("unix:", 0) == 0) {
    socket_path = target.substr(5);
    std::string parent = std::filesystem::path(socket_path).parent_path().string();
    if (!parent.empty() && !mkdirs(parent)) return 1;
    unlink(socket_path.c_str());  // a stale socket from an earlier run
  }
  stored::StoreService service(engine->get());
  grpc::ServerBuilder builder;
  int limit = int(std::min<uint64_t>(cfg->message_size_limit + (1u << 20), INT32_MAX));
  builder.SetMaxReceiveMessageSize(limit);
  builder.SetMaxSendMessageSize(limit);
  // The sync server (every call but the hot ones of async_calls.h) keeps
  // gRPC's default pool: one idle poller, two at most. Its idle pollers
  // take turns with the async threads at reading the shared connections and
  // hand what they read for an async call over to an async thread: with 32
  // kept idle (as when writes parked pool threads), the mixed load ran
  // ~10 % slower.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
  builder.AddListeningPort(target, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  // The hot calls on the async API (async_calls.h): one queue, a thread per core.
  stored::AsyncCalls calls;
  service.addAsync(calls);
  calls.addTo(builder, int(std::max(2u, std::thread::hardware_concurrency())));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    log::error("cannot listen", {{"target", target}});
    (*engine)->close();
    return 1;
  }
  calls.start();
  log::info("serving", {{"target", target}, {"batch_max", std::to_string(opts.batch_max)}});

  int ipc_fd = ipcFd();
  if (ipc_fd >= 0 && !ipc::send(ipc_fd, ipc::makeMsg(ipc::MsgType::kReady)))
    log::warn("cannot send ready to master", {{"error", strerror(errno)}});

  std::string why = waitForStop(sigfd, ipc_fd);
  log::info("shutting down", {{"reason", why}});
  service.shutdown();
  (*engine)->changes().close();  // Watch streams return now
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  calls.stop();  // after Shutdown: no call comes any more
  server->Wait();
  (*engine)->close();  // drains queued writes, then closes LMDB
  if (!socket_path.empty()) unlink(socket_path.c_str());
  log::info("stopped", {{"commits", std::to_string((*engine)->commitCount())},
                        {"writes", std::to_string((*engine)->writeCount())}});
  return 0;
}
