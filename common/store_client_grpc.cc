#include "store_client_grpc.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>

#include "fetch_packed.h"
#include "log.h"
#include "store.grpc.pb.h"

namespace postern {
namespace {

namespace pb = postern::store::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kCallDeadline = seconds(60);

Error fromPb(const pb::Error& e) {
  return Error{static_cast<ErrorCode>(e.code()), e.message()};
}

Error fromStatus(const grpc::Status& st) {
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
    return Error{ErrorCode::kTemp, "store call timed out"};
  if (st.error_code() == grpc::StatusCode::CANCELLED) return Error{ErrorCode::kTemp, "cancelled"};
  return Error{ErrorCode::kUnavailable, "store unavailable: " + st.error_message()};
}

MailboxInfo fromPb(const pb::Mailbox& m) {
  MailboxInfo i;
  i.id = m.id();
  i.name = m.name();
  i.uidvalidity = m.uidvalidity();
  i.uidnext = m.uidnext();
  i.highestmodseq = m.highestmodseq();
  i.messages = m.messages();
  i.unseen = m.unseen();
  i.recent = m.recent();
  i.keywords.assign(m.keywords().begin(), m.keywords().end());
  i.size = m.size();
  return i;
}

std::vector<MessageMeta> fromPb(const pb::MessageList& l) {
  std::vector<MessageMeta> out(static_cast<size_t>(l.uid_size()));
  for (int i = 0; i < l.uid_size(); ++i) {
    auto& m = out[static_cast<size_t>(i)];
    m.uid = l.uid(i);
    if (i < l.flags_size()) m.flags = l.flags(i);
    if (i < l.modseq_size()) m.modseq = l.modseq(i);
    if (i < l.size_size()) m.size = l.size(i);
    if (i < l.internaldate_size()) m.internaldate = l.internaldate(i);
    if (i < l.tzoffset_size()) m.tzoffset = l.tzoffset(i);
  }
  return out;
}

class GrpcStoreClient;

// FetchBodies: about this many bytes of small messages per stream message.
constexpr uint32_t kBatchBytes = 256 * 1024;

// A FetchBodies stream. Reads are started only from the loop thread after
// the previous chunk was consumed, so a slow client pauses the stream
// instead of buffering the mailbox in memory.
class BodyReader : public grpc::ClientReadReactor<pb::BodyChunk>, public BodyStream {
 public:
  BodyReader(EventLoop& loop, StoreClient::OnMessage on_message, StoreClient::Done done)
      : loop_(loop), on_body_(std::move(on_message)), done_(std::move(done)) {}

  void start(pb::Store::Stub* stub, const pb::FetchBodiesRequest& req, std::shared_ptr<BodyReader> self) {
    self_ = std::move(self);
    req_ = req;
    expected_ = static_cast<size_t>(req.uids_size());
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
    stub->async()->FetchBodies(&ctx_, &req_, this);
    AddHold();
    StartRead(&chunk_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    loop_.post([this, ok] {
      if (!ok) {
        RemoveHold();
        return;
      }
      next_ = 0;
      if (!consume()) {
        paused_ = true;
        return;
      }
      StartRead(&chunk_);
    });
  }

  void OnDone(const grpc::Status& st) override {
    loop_.post([this, st] {
      Error err;
      if (malformed_) err = Error{ErrorCode::kCorrupt, "store sent a malformed batch"};
      else if (cancelled_) err = Error{ErrorCode::kTemp, "cancelled"};
      else if (!st.ok()) err = fromStatus(st);
      else if (!partial_.empty()) err = Error{ErrorCode::kTemp, "stream ended mid-message"};
      auto done = std::move(done_);
      on_body_ = nullptr;
      auto keep = std::move(self_);  // may free this at end of scope
      if (done) done(err);
    });
  }

  void resume() override {
    if (!paused_) return;
    paused_ = false;
    // Finish the batch already received before asking for more.
    if (!consume()) {
      paused_ = true;
      return;
    }
    StartRead(&chunk_);
  }

  void cancel() override {
    cancelled_ = true;
    ctx_.TryCancel();
    if (paused_) {
      paused_ = false;
      RemoveHold();
    }
  }

 private:
  // Consumes the received message's pieces from next_ on: the chunk itself,
  // then those batched in `more`. Returns false when the consumer asked to
  // pause; next_ then points at the first piece not yet consumed, so at most
  // one stream message is ever held while paused.
  bool consume() {
    if (!chunk_.packed().empty()) return consumePacked();
    const int n = 1 + chunk_.more_size();
    while (next_ < n) {
      pb::BodyChunk& c = next_ == 0 ? chunk_ : *chunk_.mutable_more(next_ - 1);
      next_++;
      if (!consumeOne(c)) return false;
    }
    return true;
  }

  // A packed stream message (FetchBodiesRequest.packed): its entries from
  // packed_at_ on. One that is not an entry ends the stream with an error.
  bool consumePacked() {
    const std::string& p = chunk_.packed();
    if (next_ == 0) packed_at_ = 0;
    next_ = 1;
    while (packed_at_ < p.size()) {
      if (cancelled_ || !on_body_) return true;
      auto e = packed::next(p, &packed_at_);
      if (!e) {
        malformed_ = true;
        packed_at_ = p.size();
        ctx_.TryCancel();
        return true;
      }
      bool go_on;
      if (e->kind == packed::Kind::kError) {
        go_on = hand(e->uid, Error{static_cast<ErrorCode>(e->code), std::string(e->message)});
      } else {
        StoreClient::Fetched f;
        (e->kind == packed::Kind::kRendered ? f.imap : f.structure).assign(e->data);
        go_on = hand(e->uid, std::move(f));
      }
      if (!go_on) return false;
    }
    return true;
  }

  bool consumeOne(pb::BodyChunk& c) {
    if (cancelled_ || !on_body_) return true;
    if (c.has_error() && c.error().code() != pb::OK) {
      partial_.clear();
      structure_.clear();
      imap_.clear();
      return hand(c.uid(), Error{fromPb(c.error())});
    }
    if (!c.structure().empty()) structure_.swap(*c.mutable_structure());
    if (!c.imap().empty()) imap_.swap(*c.mutable_imap());
    StoreClient::Fetched f;
    if (partial_.empty() && c.last()) {
      f.body.swap(*c.mutable_data());  // the whole message in one piece: no copy
    } else {
      if (partial_.empty() && c.total_size() > 0) partial_.reserve(c.total_size());
      partial_ += c.data();
      if (!c.last()) return true;
      f.body.swap(partial_);
    }
    f.structure.swap(structure_);
    f.imap.swap(imap_);
    return hand(c.uid(), std::move(f));
  }

  // Hands one message (or its error) to the consumer; false when it paused.
  // Once every uid asked for is answered the consumer's `done` is told at
  // once, not after the stream's status (a FETCH of one message: one hop
  // and one send to its client fewer); the stream is still read to its end,
  // which frees this.
  bool hand(uint32_t uid, Result<StoreClient::Fetched> m) {
    const bool go_on = on_body_(uid, std::move(m));
    if (++answered_ < expected_ || !done_) return go_on;
    auto done = std::move(done_);
    done_ = nullptr;
    on_body_ = nullptr;
    done(Error{});
    return true;
  }

  EventLoop& loop_;
  StoreClient::OnMessage on_body_;
  StoreClient::Done done_;
  grpc::ClientContext ctx_;
  pb::FetchBodiesRequest req_;
  pb::BodyChunk chunk_;
  int next_ = 0;  // next piece of chunk_ to consume (0 = chunk_ itself, i = more(i-1))
  size_t expected_ = 0;  // uids asked for
  size_t answered_ = 0;  // of them handed to on_body_
  size_t packed_at_ = 0;  // packed chunk_: offset of the next entry (next_ is 1 once begun)
  bool malformed_ = false;
  std::string partial_;
  std::string structure_;
  std::string imap_;
  bool paused_ = false;
  bool cancelled_ = false;
  std::shared_ptr<BodyReader> self_;
};

// The Watch feed; reconnects on its own and reports each re-establishment.
class WatchReader : public grpc::ClientReadReactor<pb::ChangeBatch> {
 public:
  WatchReader(EventLoop& loop, std::function<void(const pb::ChangeBatch&)> on_batch,
              std::function<void(bool broken)> on_end)
      : loop_(loop), on_batch_(std::move(on_batch)), on_end_(std::move(on_end)) {}

  void start(pb::Store::Stub* stub) {
    req_.set_filtered(true);
    stub->async()->Watch(&ctx_, &req_, this);
    StartRead(&batch_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    // Copy: the loop handles it later while we read on.
    auto copy = std::make_shared<pb::ChangeBatch>(batch_);
    loop_.post([this, copy] { on_batch_(*copy); });
    StartRead(&batch_);
  }

  void OnDone(const grpc::Status& st) override {
    loop_.post([this, st] {
      log::warn("store change feed ended; reconnecting", {{"error", st.error_message()}});
      auto end = std::move(on_end_);
      delete this;
      end(true);
    });
  }

  void cancel() { ctx_.TryCancel(); }

 private:
  EventLoop& loop_;
  std::function<void(const pb::ChangeBatch&)> on_batch_;
  std::function<void(bool)> on_end_;
  grpc::ClientContext ctx_;
  pb::WatchRequest req_;
  pb::ChangeBatch batch_;
};

class GrpcStoreClient final : public StoreClient {
 public:
  GrpcStoreClient(EventLoop& loop, const std::string& target, size_t max_message) : loop_(loop) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(max_message));
    args.SetMaxSendMessageSize(static_cast<int>(max_message));
    // stored restarts must be noticed within a second, not gRPC's default 120 s backoff.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channel_ = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    stub_ = pb::Store::NewStub(channel_);
  }

  void authenticate(const std::string& user, const std::string& password, const std::string& protocol,
                    Callback<std::string> cb) override {
    pb::AuthenticateRequest req;
    req.set_user(user);
    req.set_password(password);
    req.set_protocol(protocol);
    unary<pb::AuthenticateResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->Authenticate(c, q, r, f); },
        [cb](const pb::AuthenticateResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(r.user());
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void userExists(const std::vector<std::string>& users, Callback<std::vector<bool>> cb) override {
    pb::UserExistsRequest req;
    for (const auto& u : users) req.add_users(u);
    unary<pb::UserExistsResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->UserExists(c, q, r, f); },
        [cb](const pb::UserExistsResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(std::vector<bool>(r.exists().begin(), r.exists().end()));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void scramSecrets(const std::string& user, const std::string& mechanism, const std::string& protocol,
                    Callback<ScramSecrets> cb) override {
    pb::ScramSecretsRequest req;
    req.set_user(user);
    req.set_mechanism(mechanism);
    req.set_protocol(protocol);
    unary<pb::ScramSecretsResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->ScramSecrets(c, q, r, f); },
        [cb](const pb::ScramSecretsResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          ScramSecrets s;
          s.user = r.user();
          s.salt = r.salt();
          s.iterations = r.iterations();
          s.stored_key = r.stored_key();
          s.server_key = r.server_key();
          s.denied = r.denied();
          cb(std::move(s));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void listMailboxes(const std::string& user, Callback<std::vector<MailboxInfo>> cb) override {
    pb::ListMailboxesRequest req;
    req.set_user(user);
    unary<pb::ListMailboxesResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->ListMailboxes(c, q, r, f); },
        [cb](const pb::ListMailboxesResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          std::vector<MailboxInfo> out;
          for (const auto& m : r.mailboxes()) out.push_back(fromPb(m));
          cb(std::move(out));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void getMailbox(const std::string& user, const std::string& name, Callback<MailboxInfo> cb) override {
    pb::MailboxRequest req;
    req.set_user(user);
    req.set_name(name);
    unary<pb::GetMailboxResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->GetMailbox(c, q, r, f); },
        [cb](const pb::GetMailboxResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(fromPb(r.mailbox()));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void createMailbox(const std::string& user, const std::string& name, Done cb) override {
    pb::MailboxRequest req;
    req.set_user(user);
    req.set_name(name);
    simple(req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->CreateMailbox(c, q, r, f); }, cb);
  }

  void deleteMailbox(const std::string& user, const std::string& name, Done cb) override {
    pb::MailboxRequest req;
    req.set_user(user);
    req.set_name(name);
    simple(req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->DeleteMailbox(c, q, r, f); }, cb);
  }

  void renameMailbox(const std::string& user, const std::string& from, const std::string& to, Done cb) override {
    pb::RenameMailboxRequest req;
    req.set_user(user);
    req.set_from(from);
    req.set_to(to);
    simple(req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->RenameMailbox(c, q, r, f); }, cb);
  }

  void subscribe(const std::string& user, const std::string& name, bool on, Done cb) override {
    pb::SubscribeRequest req;
    req.set_user(user);
    req.set_name(name);
    req.set_subscribed(on);
    simple(req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->Subscribe(c, q, r, f); }, cb);
  }

  void listSubscriptions(const std::string& user, Callback<std::vector<std::string>> cb) override {
    pb::ListSubscriptionsRequest req;
    req.set_user(user);
    unary<pb::ListSubscriptionsResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->ListSubscriptions(c, q, r, f); },
        [cb](const pb::ListSubscriptionsResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(std::vector<std::string>(r.names().begin(), r.names().end()));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void selectMailbox(const std::string& user, const std::string& name, bool claim_recent,
                     Callback<SelectedMailbox> cb) override {
    pb::MailboxRequest req;
    req.set_user(user);
    req.set_name(name);
    req.set_claim_recent(claim_recent);
    // The feed holds the user's changes from before the mailbox is read. Not
    // up yet: the sessions resync once it is (see openWatch).
    const uint64_t watcher = watcher_;
    req.set_watcher(watcher);
    if (watcher == 0 && on_changes_) missed_ = true;
    unary<pb::SelectMailboxResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->SelectMailbox(c, q, r, f); },
        [this, cb, watcher](const pb::SelectMailboxResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          SelectedMailbox s;
          s.watcher = watcher;
          // The feed that is up now is not the one this select named (it
          // broke and is back, or came up meanwhile): the resync that caused
          // came before this session had its mailbox. While no feed is up,
          // the resync when it is (missed_ / resync_due_) covers it.
          s.feed_stale = watcher_ != 0 && watcher_ != watcher;
          s.mailbox = fromPb(r.mailbox());
          s.messages = fromPb(r.messages());
          s.recent_from = r.recent_from();
          s.recent_to = r.recent_to();
          cb(std::move(s));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void append(AppendArgs a, Callback<AppendResult> cb) override {
    pb::AppendRequest req;
    req.set_user(a.user);
    req.set_mailbox(a.mailbox);
    req.set_flags(a.flags);
    for (auto& k : a.keywords) req.add_keywords(k);
    req.set_internaldate(a.internaldate);
    req.set_tzoffset(a.tzoffset);
    req.set_body(std::move(a.body));
    req.set_claim_recent(a.claim_recent);
    unary<pb::AppendResponse>(
        std::move(req), [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->Append(c, q, r, f); },
        [cb](const pb::AppendResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(AppendResult{r.uidvalidity(), r.uid(), r.modseq(), r.recent_from(), r.recent_to()});
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void deliver(const std::vector<std::string>& users, const std::string& mailbox, std::string body,
               Callback<std::vector<Error>> cb) override {
    pb::DeliverRequest req;
    for (const auto& u : users) req.add_users(u);
    req.set_mailbox(mailbox);
    req.set_body(std::move(body));
    size_t n = users.size();
    unary<pb::DeliverResponse>(
        std::move(req), [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->Deliver(c, q, r, f); },
        [cb, n](const pb::DeliverResponse& r) -> void {
          if (static_cast<size_t>(r.results_size()) != n)
            return cb(Error{ErrorCode::kInternal, "deliver: result count mismatch"});
          std::vector<Error> out;
          for (const auto& e : r.results()) out.push_back(fromPb(e));
          cb(std::move(out));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  std::shared_ptr<BodyStream> fetchBodies(const std::string& user, uint32_t mailbox_id,
                                          std::vector<uint32_t> uids, OnBody on_body, Done done) override {
    pb::FetchBodiesRequest req;
    req.set_user(user);
    req.set_mailbox_id(mailbox_id);
    for (auto u : uids) req.add_uids(u);
    req.set_max_batch_bytes(kBatchBytes);
    auto adapt = [on_body = std::move(on_body)](uint32_t uid, Result<Fetched> m) -> bool {
      if (!m.ok()) return on_body(uid, m.error());
      return on_body(uid, std::move(m->body));
    };
    auto r = std::make_shared<BodyReader>(loop_, std::move(adapt), std::move(done));
    r->start(stub_.get(), req, r);
    return r;
  }

  std::shared_ptr<BodyStream> fetchHeaders(const std::string& user, uint32_t mailbox_id,
                                           std::vector<uint32_t> uids, OnBody on_header, Done done) override {
    pb::FetchBodiesRequest req;
    req.set_user(user);
    req.set_mailbox_id(mailbox_id);
    for (auto u : uids) req.add_uids(u);
    req.set_header_only(true);
    req.set_max_batch_bytes(kBatchBytes);  // headers are small: many per stream message
    auto adapt = [on_header = std::move(on_header)](uint32_t uid, Result<Fetched> m) -> bool {
      if (!m.ok()) return on_header(uid, m.error());
      return on_header(uid, std::move(m->body));
    };
    auto r = std::make_shared<BodyReader>(loop_, std::move(adapt), std::move(done));
    r->start(stub_.get(), req, r);
    return r;
  }

  void claimRecent(const std::string& user, uint32_t mailbox_id,
                   Callback<std::pair<uint32_t, uint32_t>> cb) override {
    pb::ClaimRecentRequest req;
    req.set_user(user);
    req.set_mailbox_id(mailbox_id);
    unary<pb::ClaimRecentResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->ClaimRecent(c, q, r, f); },
        [cb](const pb::ClaimRecentResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(std::make_pair(r.from_uid(), r.to_uid()));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  std::shared_ptr<BodyStream> fetchMessages(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                                            bool with_body, OnMessage on_message, Done done,
                                            uint32_t imap_parts = 0) override {
    pb::FetchBodiesRequest req;
    req.set_imap_parts(imap_parts);
    req.set_user(user);
    req.set_mailbox_id(mailbox_id);
    for (auto u : uids) req.add_uids(u);
    req.set_with_structure(true);
    req.set_structure_only(!with_body);
    req.set_packed(!with_body);
    req.set_max_batch_bytes(kBatchBytes);
    auto r = std::make_shared<BodyReader>(loop_, std::move(on_message), std::move(done));
    r->start(stub_.get(), req, r);
    return r;
  }

  void storeFlags(StoreFlagsArgs a, Callback<StoreFlagsResult> cb) override {
    pb::StoreFlagsRequest req;
    req.set_user(a.user);
    req.set_mailbox_id(a.mailbox_id);
    for (auto u : a.uids) req.add_uids(u);
    req.set_op(a.op == FlagOp::kAdd ? pb::ADD : a.op == FlagOp::kRemove ? pb::REMOVE : pb::REPLACE);
    req.set_flags(a.flags);
    for (auto& k : a.keywords) req.add_keywords(k);
    req.set_unchanged_since(a.unchanged_since);
    unary<pb::StoreFlagsResponse>(
        std::move(req), [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->StoreFlags(c, q, r, f); },
        [cb](const pb::StoreFlagsResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          StoreFlagsResult s;
          s.changed = fromPb(r.changed());
          s.keywords.assign(r.keywords().begin(), r.keywords().end());
          cb(std::move(s));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void expunge(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids, bool only_deleted,
               Callback<std::vector<uint32_t>> cb) override {
    pb::ExpungeRequest req;
    req.set_user(user);
    req.set_mailbox_id(mailbox_id);
    for (auto u : uids) req.add_uids(u);
    req.set_only_deleted(only_deleted);
    unary<pb::ExpungeResponse>(
        std::move(req), [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->Expunge(c, q, r, f); },
        [cb](const pb::ExpungeResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(std::vector<uint32_t>(r.expunged().begin(), r.expunged().end()));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void searchText(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                  std::vector<TextNeedle> needles, Callback<TextSearchResult> cb) override {
    pb::SearchTextRequest req;
    req.set_user(user);
    req.set_mailbox_id(mailbox_id);
    req.mutable_uids()->Add(uids.begin(), uids.end());
    for (auto& n : needles) {
      auto* p = req.add_needles();
      p->set_text(std::move(n.text));
      p->set_scope(uint32_t(n.scope));
      p->set_field(std::move(n.field));
    }
    unary<pb::SearchTextResponse>(
        std::move(req), [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->SearchText(c, q, r, f); },
        [cb](const pb::SearchTextResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          if (r.hit_uids_size() != r.hit_masks_size())
            return cb(Error{ErrorCode::kInternal, "search-text answer: hit uids and masks differ in number"});
          TextSearchResult out;
          out.unindexed.assign(r.unindexed().begin(), r.unindexed().end());
          out.hits.reserve(size_t(r.hit_uids_size()));
          for (int i = 0; i < r.hit_uids_size(); ++i) out.hits.emplace_back(r.hit_uids(i), r.hit_masks(i));
          cb(std::move(out));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void copy(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
            const std::string& destination, bool move, Callback<CopyResult> cb) override {
    pb::CopyRequest req;
    req.set_user(user);
    req.set_mailbox_id(mailbox_id);
    for (auto u : uids) req.add_uids(u);
    req.set_destination(destination);
    req.set_move(move);
    unary<pb::CopyResponse>(
        std::move(req), [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->Copy(c, q, r, f); },
        [cb](const pb::CopyResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          CopyResult c;
          c.uidvalidity = r.uidvalidity();
          c.source_uids.assign(r.source_uids().begin(), r.source_uids().end());
          c.dest_uids.assign(r.dest_uids().begin(), r.dest_uids().end());
          cb(std::move(c));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void acquireLock(const std::string& user, const std::string& name, const std::string& owner,
                   uint32_t lease_ms, Done cb) override {
    pb::AcquireLockRequest req;
    req.set_user(user);
    req.set_name(name);
    req.set_owner(owner);
    req.set_lease_ms(lease_ms);
    simple(req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->AcquireLock(c, q, r, f); }, cb);
  }

  void releaseLock(const std::string& user, const std::string& name, const std::string& owner,
                   Done cb) override {
    pb::ReleaseLockRequest req;
    req.set_user(user);
    req.set_name(name);
    req.set_owner(owner);
    simple(req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->ReleaseLock(c, q, r, f); }, cb);
  }

  void releaseLocks(const std::string& owner_prefix, const std::string& keep_prefix,
                    Callback<uint32_t> cb) override {
    pb::ReleaseLocksRequest req;
    req.set_owner_prefix(owner_prefix);
    req.set_keep_prefix(keep_prefix);
    unary<pb::ReleaseLocksResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->ReleaseLocks(c, q, r, f); },
        [cb](const pb::ReleaseLocksResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(r.released());
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void userSettings(const std::string& user, Callback<UserSettings> cb) override {
    pb::UserSettingsRequest req;
    req.set_user(user);
    unary<pb::UserSettingsResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->UserSettings(c, q, r, f); },
        [cb](const pb::UserSettingsResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(UserSettings(r.settings().begin(), r.settings().end()));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void userSettingsSummary(Callback<SettingsSummary> cb) override {
    unary<pb::UserSettingsSummaryResponse>(
        pb::UserSettingsSummaryRequest(),
        [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->UserSettingsSummary(c, q, r, f); },
        [cb](const pb::UserSettingsSummaryResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          SettingsSummary out;
          for (const auto& [k, v] : r.keys()) out[k].assign(v.values().begin(), v.values().end());
          cb(std::move(out));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void markRetrieved(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids, Done cb) override {
    pb::MarkRetrievedRequest req;
    req.set_user(user);
    req.set_mailbox_id(mailbox_id);
    for (auto u : uids) req.add_uids(u);
    simple(req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->MarkRetrieved(c, q, r, f); }, cb);
  }

  void expireRetrieved(const std::string& user, const std::string& mailbox, int64_t max_age_s,
                       Callback<std::vector<uint32_t>> cb) override {
    pb::ExpireRetrievedRequest req;
    req.set_user(user);
    req.set_mailbox(mailbox);
    req.set_max_age_seconds(max_age_s);
    unary<pb::ExpungeResponse>(
        req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->ExpireRetrieved(c, q, r, f); },
        [cb](const pb::ExpungeResponse& r) -> void {
          if (r.error().code() != pb::OK) return cb(fromPb(r.error()));
          cb(std::vector<uint32_t>(r.expunged().begin(), r.expunged().end()));
        },
        [cb](Error e) { cb(std::move(e)); });
  }

  void watch(OnChanges on_changes, std::function<void()> on_resync) override {
    on_changes_ = std::move(on_changes);
    on_resync_ = std::move(on_resync);
    startWatch(false);
  }

  void unwatch(const std::string& user, uint64_t watcher, uint32_t count) override {
    if (watcher == 0 || count == 0) return;
    pb::UnwatchRequest req;
    req.set_watcher(watcher);
    req.set_user(user);
    req.set_count(count);
    simple(req, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->Unwatch(c, q, r, f); }, [](Error) {});
  }

 private:
  template <typename Resp, typename Req, typename Invoke, typename OnOk, typename OnErr>
  void unary(Req req, Invoke invoke, OnOk on_ok, OnErr on_err) {
    struct Call {
      grpc::ClientContext ctx;
      Req req;
      Resp resp;
    };
    auto c = std::make_shared<Call>();
    c->req = std::move(req);
    c->ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    EventLoop* loop = &loop_;
    invoke(&c->ctx, &c->req, &c->resp,
           std::function<void(grpc::Status)>([loop, c, on_ok, on_err](grpc::Status st) {
             loop->post([c, st, on_ok, on_err] {
               if (!st.ok()) return on_err(fromStatus(st));
               on_ok(c->resp);
             });
           }));
  }

  template <typename Req, typename Invoke>
  void simple(const Req& req, Invoke invoke, Done cb) {
    unary<pb::SimpleResponse>(
        req, invoke, [cb](const pb::SimpleResponse& r) { cb(fromPb(r.error())); },
        [cb](Error e) { cb(std::move(e)); });
  }

  // Starts the feed. After a break, waits until stored answers Ping, then
  // re-subscribes and tells the sessions to resync.
  void startWatch(bool after_break) {
    if (after_break) {
      pb::PingRequest ping;
      unary<pb::PingResponse>(
          ping, [this](auto* c, auto* q, auto* r, auto f) { stub_->async()->Ping(c, q, r, f); },
          [this](const pb::PingResponse&) {
            resync_due_ = true;  // once the new feed's id is known
            openWatch();
          },
          [this](Error) { loop_.after(milliseconds(250), [this] { startWatch(true); }); });
      return;
    }
    openWatch();
  }

  void openWatch() {
    auto* w = new WatchReader(
        loop_,
        [this](const pb::ChangeBatch& b) {
          if (b.watcher() != 0) {  // the first batch: the feed is up
            watcher_ = b.watcher();
            if ((resync_due_ || missed_) && on_resync_) {
              resync_due_ = missed_ = false;
              on_resync_();
            }
          }
          std::vector<Change> changes;
          changes.reserve(static_cast<size_t>(b.changes_size()));
          for (const auto& c : b.changes()) {
            Change ch;
            ch.kind = static_cast<Change::Kind>(c.kind());
            ch.user = c.user();
            ch.mailbox_id = c.mailbox_id();
            ch.meta.uid = c.uid();
            ch.meta.flags = c.flags();
            ch.meta.modseq = c.modseq();
            ch.meta.size = c.size();
            ch.meta.internaldate = c.internaldate();
            ch.meta.tzoffset = c.tzoffset();
            ch.keywords.assign(c.keywords().begin(), c.keywords().end());
            changes.push_back(std::move(ch));
          }
          if (on_changes_) on_changes_(changes);
        },
        [this](bool) {
          watcher_ = 0;  // its holds went with it
          loop_.after(milliseconds(100), [this] { startWatch(true); });
        });
    w->start(stub_.get());
  }

  EventLoop& loop_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Store::Stub> stub_;
  OnChanges on_changes_;
  std::function<void()> on_resync_;
  uint64_t watcher_ = 0;     // the live feed's id (0: not up)
  bool missed_ = false;      // a select went out while the feed was not up
  bool resync_due_ = false;  // the feed broke: resync once it is back
};

}  // namespace

std::unique_ptr<StoreClient> makeGrpcStoreClient(EventLoop& loop, const std::string& target, size_t max_message) {
  return std::make_unique<GrpcStoreClient>(loop, target, max_message);
}

}  // namespace postern
