// posternctl verify: read every message and report the damaged ones.
// Built only from the engine's public reads, so it checks exactly what a
// FETCH would see.
#include "store_engine.h"

namespace postern::stored {

Result<StoreEngine::VerifyReport> StoreEngine::verify(const std::string& user) {
  std::vector<std::string> users;
  if (!user.empty()) {
    users.push_back(user);
  } else {
    auto all = listUsers();
    if (!all.ok()) return all.error();
    for (const auto& u : *all) users.push_back(u.name);
  }
  VerifyReport report;
  for (const auto& u : users) {
    auto boxes = listMailboxes(u);
    if (!boxes.ok()) return boxes.error();
    for (const auto& box : *boxes) {
      auto sel = selectMailbox(u, box.name);
      if (!sel.ok()) {
        if (sel.error().code == ErrorCode::kNotFound) continue;  // deleted meanwhile
        return sel.error();
      }
      std::vector<uint32_t> uids;
      uids.reserve(sel->messages.size());
      for (const auto& m : sel->messages) uids.push_back(m.uid);
      Error e = fetchBodies(u, box.id, uids, [&](uint32_t uid, Result<std::string> body) {
        if (body.ok()) {
          ++report.checked;
        } else if (body.error().code == ErrorCode::kCorrupt) {
          ++report.checked;
          report.damaged.push_back(Damaged{u, box.name, uid, body.error().message});
        }
        return true;
      });
      if (!e.ok() && e.code != ErrorCode::kNotFound) return e;
    }
  }
  return report;
}

}  // namespace postern::stored
