// common/log: the log file (log.target = file): appends, size rotation by the
// rotating process, and other processes following a rotation or logrotate.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "log.h"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/postern-log-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    postern::log::init("test", false, postern::log::Level::kError);
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("log file: lines are appended to the file, not stderr") {
  TempDir d;
  auto file = d.path / "postern.log";
  postern::log::init("unit", false, postern::log::Level::kInfo);
  REQUIRE(postern::log::useFile(file.string(), 0, 3));
  postern::log::info("first line", {{"user", "alice"}});
  postern::log::debug("not logged at info");
  std::string text = slurp(file);
  CHECK(text.find(" unit[") != std::string::npos);
  CHECK(text.find("info user=alice first line\n") != std::string::npos);
  CHECK(text.find("not logged") == std::string::npos);
  struct stat st{};
  REQUIRE(stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("log file: an unopenable path is refused and logging stays where it was") {
  TempDir d;
  CHECK_FALSE(postern::log::useFile((d.path / "no/such/dir/x.log").string(), 0, 3));
}

TEST_CASE("log file: rotation by size keeps log.file_keep files") {
  TempDir d;
  auto file = d.path / "postern.log";
  postern::log::init("unit", false, postern::log::Level::kInfo);
  REQUIRE(postern::log::useFile(file.string(), 1000, 2));
  for (int i = 0; i < 100; ++i) postern::log::info("line " + std::to_string(i) + " padding padding padding");
  CHECK(fs::exists(file));
  CHECK(fs::exists(d.path / "postern.log.1"));
  CHECK(fs::exists(d.path / "postern.log.2"));
  CHECK_FALSE(fs::exists(d.path / "postern.log.3"));
  CHECK(fs::file_size(file) < 1000);
  CHECK(fs::file_size(d.path / "postern.log.1") >= 1000);
  // The newest line is in the live file, and nothing was written twice.
  CHECK(slurp(file).find("line 99 ") != std::string::npos);
  CHECK(slurp(d.path / "postern.log.1").find("line 99 ") == std::string::npos);
}

TEST_CASE("log file: a process follows a rename (logrotate) within a second") {
  TempDir d;
  auto file = d.path / "postern.log";
  postern::log::init("unit", false, postern::log::Level::kInfo);
  REQUIRE(postern::log::useFile(file.string(), 0, 3));
  postern::log::info("before rotation");
  fs::rename(file, d.path / "postern.log.1");  // what logrotate does (no copytruncate)
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  postern::log::info("after rotation");
  CHECK(slurp(d.path / "postern.log.1").find("before rotation") != std::string::npos);
  CHECK(slurp(file).find("after rotation") != std::string::npos);
  CHECK(slurp(d.path / "postern.log.1").find("after rotation") == std::string::npos);
}

TEST_CASE("log file: two processes append whole lines to one file") {
  TempDir d;
  auto file = d.path / "postern.log";
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    postern::log::init("child", false, postern::log::Level::kInfo);
    if (!postern::log::useFile(file.string(), 0, 3)) _exit(1);
    for (int i = 0; i < 500; ++i) postern::log::info("child line " + std::to_string(i));
    _exit(0);
  }
  postern::log::init("parent", false, postern::log::Level::kInfo);
  REQUIRE(postern::log::useFile(file.string(), 0, 3));
  for (int i = 0; i < 500; ++i) postern::log::info("parent line " + std::to_string(i));
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::istringstream in(slurp(file));
  std::string line;
  int child = 0, parent = 0, other = 0;
  while (std::getline(in, line)) {
    if (line.find(" child[") != std::string::npos && line.find("child line ") != std::string::npos)
      ++child;
    else if (line.find(" parent[") != std::string::npos && line.find("parent line ") != std::string::npos)
      ++parent;
    else
      ++other;
  }
  CHECK(child == 500);
  CHECK(parent == 500);
  CHECK(other == 0);
}
