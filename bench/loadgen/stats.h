#pragma once
// Latency samples and the one-line JSON result every workload prints.

#include <map>
#include <string>
#include <vector>

namespace postern::bench {

// Latency samples in milliseconds. Not thread-safe: one per thread, merged at the end.
class Samples {
 public:
  void add(double ms) { v_.push_back(ms); }
  void merge(const Samples& o) { v_.insert(v_.end(), o.v_.begin(), o.v_.end()); }
  size_t count() const { return v_.size(); }
  // p in [0, 100]; nearest-rank percentile; 0 when empty.
  double percentile(double p) const;
  double median() const { return percentile(50); }
  double max() const;

 private:
  mutable std::vector<double> v_;
  mutable bool sorted_ = false;
};

// The result of one workload run: named figures, printed as one JSON line on stdout
// prefixed with "RESULT " (bench/run.py reads it). Keys keep insertion order.
class Report {
 public:
  explicit Report(std::string workload) : workload_(std::move(workload)) {}
  void set(const std::string& key, double value);
  void note(const std::string& key, const std::string& value);
  // Adds key_p50_ms, key_p99_ms (and key_max_ms) from samples.
  void latency(const std::string& key, const Samples& s);
  std::string json() const;
  void print() const;

 private:
  std::string workload_;
  std::vector<std::pair<std::string, std::string>> fields_;  // key, JSON value
};

}  // namespace postern::bench
