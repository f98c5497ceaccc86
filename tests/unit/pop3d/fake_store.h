#pragma once
// An in-memory StoreClient for session tests. Every callback is delivered
// through loop.post(), as the gRPC client does, never synchronously. All
// members are used on the loop thread only.
#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "event_loop.h"
#include "store_client.h"

namespace postern::testing {

class FakeStore : public StoreClient {
 public:
  struct Stored {
    MessageMeta meta;
    std::string body;
  };
  struct User {
    std::string password;
    std::vector<Stored> inbox;
  };

  explicit FakeStore(EventLoop& loop) : loop_(loop) {}

  // Test knobs.
  std::map<std::string, User> users;
  std::set<uint32_t> corrupt_uids;        // fetchBodies answers kCorrupt for these
  ErrorCode fail_all = ErrorCode::kOk;    // every call fails with this (stored down)
  std::map<std::string, ErrorCode> deliver_errors;  // per user
  uint32_t uidvalidity = 42;
  uint32_t next_uid = 1;
  int expunge_calls = 0;
  int deliver_calls = 0;
  int fetch_pauses = 0;  // on_body returned false

  void addMessage(const std::string& user, const std::string& body) {
    Stored s;
    s.meta.uid = next_uid++;
    s.meta.size = static_cast<uint32_t>(body.size());
    s.body = body;
    users[user].inbox.push_back(std::move(s));
  }

  void authenticate(const std::string& user, const std::string& password, Callback<std::string> cb) override {
    if (failed(cb)) return;
    std::string u = lower(user);
    auto it = users.find(u);
    if (it == users.end() || it->second.password != password) {
      post(cb, Result<std::string>(ErrorCode::kAuthFailed, "bad password"));
    } else {
      post(cb, Result<std::string>(u));
    }
  }
  void userExists(const std::vector<std::string>& names, Callback<std::vector<bool>> cb) override {
    if (failed(cb)) return;
    std::vector<bool> out;
    for (const auto& n : names) out.push_back(users.count(n) > 0);
    post(cb, Result<std::vector<bool>>(out));
  }
  void listMailboxes(const std::string&, Callback<std::vector<MailboxInfo>> cb) override { unsupported(cb); }
  void getMailbox(const std::string&, const std::string&, Callback<MailboxInfo> cb) override { unsupported(cb); }
  void createMailbox(const std::string&, const std::string&, Done cb) override { unsupportedDone(cb); }
  void deleteMailbox(const std::string&, const std::string&, Done cb) override { unsupportedDone(cb); }
  void renameMailbox(const std::string&, const std::string&, const std::string&, Done cb) override {
    unsupportedDone(cb);
  }
  void subscribe(const std::string&, const std::string&, bool, Done cb) override { unsupportedDone(cb); }
  void selectMailbox(const std::string& user, const std::string& name, Callback<SelectedMailbox> cb) override {
    if (failed(cb)) return;
    auto it = users.find(user);
    if (it == users.end() || name != "INBOX") {
      post(cb, Result<SelectedMailbox>(ErrorCode::kNotFound, "no mailbox"));
      return;
    }
    SelectedMailbox sel;
    sel.mailbox.id = 1;
    sel.mailbox.name = "INBOX";
    sel.mailbox.uidvalidity = uidvalidity;
    sel.mailbox.uidnext = next_uid;
    for (const auto& m : it->second.inbox) sel.messages.push_back(m.meta);
    sel.mailbox.messages = static_cast<uint32_t>(sel.messages.size());
    post(cb, Result<SelectedMailbox>(sel));
  }
  void append(AppendArgs, Callback<AppendResult> cb) override { unsupported(cb); }
  void deliver(const std::vector<std::string>& names, const std::string& mailbox, std::string body,
               Callback<std::vector<Error>> cb) override {
    ++deliver_calls;
    if (failed(cb)) return;
    std::vector<Error> out;
    for (const auto& n : names) {
      auto e = deliver_errors.find(n);
      if (e != deliver_errors.end()) {
        out.push_back(Error{e->second, "injected"});
      } else if (!users.count(n) || mailbox != "INBOX") {
        out.push_back(Error{ErrorCode::kNotFound, "no user"});
      } else {
        addMessage(n, body);
        out.push_back(Error::none());
      }
    }
    post(cb, Result<std::vector<Error>>(out));
  }

  class Stream : public BodyStream {
   public:
    void resume() override {
      if (paused_ && !finished_) {
        paused_ = false;
        schedule();
      }
    }
    void cancel() override {
      if (finished_) return;
      finished_ = true;
      Done d = std::move(done_);
      if (d) d(Error{ErrorCode::kTemp, "cancelled"});
    }
    void schedule() {
      std::weak_ptr<Stream> weak = self_;
      store_->loop_.post([weak] {
        if (auto s = weak.lock()) s->step();
      });
    }
    void step() {
      if (finished_ || paused_) return;
      if (next_ >= uids_.size()) {
        finished_ = true;
        Done d = std::move(done_);
        if (d) d(Error::none());
        return;
      }
      uint32_t uid = uids_[next_++];
      Result<std::string> body(ErrorCode::kNotFound, "gone");
      if (store_->corrupt_uids.count(uid)) {
        body = Result<std::string>(ErrorCode::kCorrupt, "bad checksum");
      } else {
        for (const auto& m : store_->users[user_].inbox) {
          if (m.meta.uid == uid) body = Result<std::string>(m.body);
        }
      }
      if (!on_body_(uid, std::move(body))) {
        ++store_->fetch_pauses;
        paused_ = true;
        return;
      }
      schedule();
    }

    FakeStore* store_ = nullptr;
    std::weak_ptr<Stream> self_;
    std::string user_;
    std::vector<uint32_t> uids_;
    size_t next_ = 0;
    OnBody on_body_;
    Done done_;
    bool paused_ = false;
    bool finished_ = false;
  };

  std::shared_ptr<BodyStream> fetchBodies(const std::string& user, uint32_t, std::vector<uint32_t> uids,
                                          OnBody on_body, Done done) override {
    auto s = std::make_shared<Stream>();
    s->store_ = this;
    s->self_ = s;
    s->user_ = user;
    s->uids_ = std::move(uids);
    s->on_body_ = std::move(on_body);
    s->done_ = std::move(done);
    if (fail_all != ErrorCode::kOk) {
      s->finished_ = true;
      Done d = std::move(s->done_);
      ErrorCode code = fail_all;
      loop_.post([d, code] { d(Error{code, "injected"}); });
      return s;
    }
    s->schedule();
    return s;
  }
  void storeFlags(StoreFlagsArgs, Callback<StoreFlagsResult> cb) override { unsupported(cb); }
  void expunge(const std::string& user, uint32_t, std::vector<uint32_t> uids, bool,
               Callback<std::vector<uint32_t>> cb) override {
    ++expunge_calls;
    if (failed(cb)) return;
    auto& inbox = users[user].inbox;
    std::vector<uint32_t> gone;
    std::erase_if(inbox, [&](const Stored& m) {
      bool hit = uids.empty() || std::find(uids.begin(), uids.end(), m.meta.uid) != uids.end();
      if (hit) gone.push_back(m.meta.uid);
      return hit;
    });
    post(cb, Result<std::vector<uint32_t>>(gone));
  }
  void copy(const std::string&, uint32_t, std::vector<uint32_t>, const std::string&, bool,
            Callback<CopyResult> cb) override {
    unsupported(cb);
  }
  void watch(OnChanges, std::function<void()>) override {}

 private:
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  template <typename T>
  void post(Callback<T> cb, Result<T> r) {
    loop_.post([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
  }
  template <typename T>
  bool failed(Callback<T>& cb) {
    if (fail_all == ErrorCode::kOk) return false;
    post(cb, Result<T>(fail_all, "injected"));
    return true;
  }
  template <typename T>
  void unsupported(Callback<T> cb) {
    post(cb, Result<T>(ErrorCode::kInternal, "not in fake"));
  }
  void unsupportedDone(Done cb) {
    loop_.post([cb] { cb(Error{ErrorCode::kInternal, "not in fake"}); });
  }

  EventLoop& loop_;
};

}  // namespace postern::testing
