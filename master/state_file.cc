#include "state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace postern::master {

Result<std::optional<std::string>> readStateFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Error{ErrorCode::kUnavailable, path + ": " + strerror(errno)};
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return Error{ErrorCode::kUnavailable, path + ": " + strerror(errno)};
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (4u << 20)) {
      close(fd);
      return Error{ErrorCode::kTooBig, path + ": larger than 4 MiB"};
    }
  }
  close(fd);
  return std::optional<std::string>(std::move(out));
}

Error writeStateFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Error{ErrorCode::kUnavailable, tmp + ": " + strerror(errno)};
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      unlink(tmp.c_str());
      return Error{ErrorCode::kUnavailable, tmp + ": " + strerror(errno)};
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp.c_str());
    return Error{ErrorCode::kUnavailable, tmp + ": " + strerror(errno)};
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return Error{ErrorCode::kUnavailable, path + ": " + strerror(errno)};
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Error::none();
}

}  // namespace postern::master
