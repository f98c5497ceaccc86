// posternctl penalty list [ADDRESS|CIDR] | clear [ADDRESS|CIDR|all]: the
// master's brute-force penalty table (master/penalty.h).
#include <cstdio>

#include "ctl.h"

namespace postern::ctl {

int cmdPenalty(const Opts& o, apb::Admin::Stub& stub) {
  const auto& a = o.args;
  if (a.size() >= 2 && a.size() <= 3 && a[1] == "list") {
    apb::PenaltyListRequest q;
    if (a.size() == 3) q.set_address(a[2]);
    apb::PenaltyListResponse res;
    auto st = stub.PenaltyList(callContext().get(), q, &res);
    if (st.ok() && res.result().ok() && !o.json) {
      printf("%-28s %8s %12s %10s %8s %6s\n", "ADDRESS", "FAILURES", "LAST", "BLOCKED", "TOTAL", "BLOCKS");
      for (const auto& e : res.entries())
        printf("%-28s %8u %12s %10s %8llu %6u\n", e.address().c_str(), e.failures(),
               (fmtDuration(e.last_failure_seconds()) + " ago").c_str(),
               e.blocked_seconds() > 0 ? fmtDuration(e.blocked_seconds()).c_str() : "-",
               static_cast<unsigned long long>(e.total_failures()), e.blocks());
      printf("%d address(es)\n", res.entries_size());
    }
    return finish(o, st, res.result(), &res);
  }
  if (a.size() >= 2 && a.size() <= 3 && a[1] == "clear") {
    apb::PenaltyClearRequest q;
    if (a.size() == 3) q.set_address(a[2]);
    apb::PenaltyClearResponse res;
    auto st = stub.PenaltyClear(callContext().get(), q, &res);
    return finish(o, st, res.result(), &res);
  }
  fprintf(stderr, "usage: posternctl penalty list [ADDRESS|CIDR] | penalty clear [ADDRESS|CIDR|all]\n");
  return 2;
}

}  // namespace postern::ctl
