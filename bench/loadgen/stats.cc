#include "stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace postern::bench {

double Samples::percentile(double p) const {
  if (v_.empty()) return 0;
  if (!sorted_) {
    std::sort(v_.begin(), v_.end());
    sorted_ = true;
  }
  double rank = std::ceil(p / 100.0 * static_cast<double>(v_.size()));
  size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return v_[std::min(i, v_.size() - 1)];
}

double Samples::max() const { return v_.empty() ? 0 : *std::max_element(v_.begin(), v_.end()); }

static std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void Report::set(const std::string& key, double value) {
  char buf[64];
  if (!std::isfinite(value)) value = 0;
  std::snprintf(buf, sizeof buf, "%.6g", value);
  fields_.emplace_back(key, buf);
}

void Report::note(const std::string& key, const std::string& value) {
  fields_.emplace_back(key, quote(value));
}

void Report::latency(const std::string& key, const Samples& s) {
  set(key + "_p50_ms", s.percentile(50));
  set(key + "_p99_ms", s.percentile(99));
  set(key + "_max_ms", s.max());
}

std::string Report::json() const {
  std::string out = "{\"workload\": " + quote(workload_);
  for (const auto& [k, v] : fields_) out += ", " + quote(k) + ": " + v;
  return out + "}";
}

void Report::print() const {
  std::printf("RESULT %s\n", json().c_str());
  std::fflush(stdout);
}

}  // namespace postern::bench
