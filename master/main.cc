// postern-master: the parent of every Postern process.
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <string>

#include "config.h"
#include "grpc_process.h"
#include "log.h"
#include "master.h"

int main(int argc, char** argv) {
  postern::grpcProcessInit();
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--config" || a == "-c") && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--config-reference") {
      fputs(postern::configReference().c_str(), stdout);
      return 0;
    } else if (a == "--check-config") {
      auto c = postern::loadConfig(i + 1 < argc ? argv[i + 1] : "");
      if (!c.ok()) {
        fprintf(stderr, "%s\n", c.error().message.c_str());
        return 1;
      }
      printf("%s: OK\n", c->source.c_str());
      return 0;
    } else {
      fprintf(stderr,
              "usage: postern-master [--config PATH]\n"
              "       postern-master --check-config PATH\n"
              "       postern-master --config-reference\n");
      return 2;
    }
  }
  if (!config_path.empty() && config_path[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) config_path = std::string(cwd) + "/" + config_path;
  }
  auto cfg = postern::loadConfig(config_path);
  if (!cfg.ok()) {
    fprintf(stderr, "postern-master: %s\n", cfg.error().message.c_str());
    return 2;
  }
  postern::initLogging(cfg.value(), "master");
  postern::master::Master m(config_path, cfg.value());
  return m.run();
}
