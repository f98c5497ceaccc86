#include "store_service.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include "fetch_stream.h"
#include "log.h"
#include "service_errors.h"

namespace postern::stored {
namespace {

void toProto(const MailboxInfo& m, pb::Mailbox* out) {
  out->set_id(m.id);
  out->set_name(m.name);
  out->set_uidvalidity(m.uidvalidity);
  out->set_uidnext(m.uidnext);
  out->set_highestmodseq(m.highestmodseq);
  out->set_messages(m.messages);
  out->set_unseen(m.unseen);
  out->set_recent(m.recent);
  for (const auto& k : m.keywords) out->add_keywords(k);
  out->set_size(m.size);
}

void addMeta(const MessageMeta& m, pb::MessageList* out, bool full) {
  out->add_uid(m.uid);
  out->add_flags(m.flags);
  out->add_modseq(m.modseq);
  if (full) {
    out->add_size(m.size);
    out->add_internaldate(m.internaldate);
    out->add_tzoffset(m.tzoffset);
  }
}

// The whole list at once: fixed-width fields are written in place.
void fillList(const std::vector<MessageMeta>& v, pb::MessageList* out) {
  const int n = static_cast<int>(v.size());
  out->mutable_uid()->Resize(n, 0);
  out->mutable_flags()->Resize(n, 0);
  out->mutable_modseq()->Resize(n, 0);
  out->mutable_size()->Resize(n, 0);
  out->mutable_internaldate()->Resize(n, 0);
  out->mutable_tzoffset()->Resize(n, 0);
  uint32_t* uid = out->mutable_uid()->mutable_data();
  uint64_t* flags = out->mutable_flags()->mutable_data();
  uint64_t* modseq = out->mutable_modseq()->mutable_data();
  uint32_t* size = out->mutable_size()->mutable_data();
  int64_t* date = out->mutable_internaldate()->mutable_data();
  int32_t* tz = out->mutable_tzoffset()->mutable_data();
  for (size_t i = 0; i < v.size(); ++i) {
    uid[i] = v[i].uid;
    flags[i] = v[i].flags;
    modseq[i] = v[i].modseq;
    size[i] = v[i].size;
    date[i] = v[i].internaldate;
    tz[i] = v[i].tzoffset;
  }
}

std::vector<std::string> strings(const google::protobuf::RepeatedPtrField<std::string>& r) {
  return {r.begin(), r.end()};
}

pb::ChangeKind kindOf(Change::Kind k) {
  switch (k) {
    case Change::kNew: return pb::NEW_MESSAGE;
    case Change::kFlags: return pb::FLAGS_CHANGED;
    case Change::kExpunged: return pb::EXPUNGED_MESSAGE;
    case Change::kMailbox: return pb::MAILBOX_CHANGED;
  }
  return pb::MAILBOX_CHANGED;
}

}  // namespace

StoreService::StoreService(StoreEngine* engine) : engine_(engine), started_(int64_t(time(nullptr))) {}

template <class Base, class Req, class Resp>
void StoreService::addUnary(AsyncCalls& calls, RequestFn<Base, Req, Resp> request,
                            void (StoreService::*handle)(Req*, Resp*, Reply)) {
  calls.add(AsyncCalls::Unary<Req, Resp>{
      [this, request](grpc::ServerContext* ctx, Req* req, grpc::ServerAsyncResponseWriter<Resp>* w,
                      grpc::ServerCompletionQueue* cq, void* tag) { (this->*request)(ctx, req, w, cq, cq, tag); },
      [this, handle](Req* req, Resp* resp, Reply reply) { (this->*handle)(req, resp, std::move(reply)); }});
}

void StoreService::addAsync(AsyncCalls& calls) {
  calls_ = &calls;
  addUnary(calls, &StoreService::RequestAppend, &StoreService::append);
  addUnary(calls, &StoreService::RequestDeliver, &StoreService::deliver);
  addUnary(calls, &StoreService::RequestStoreFlags, &StoreService::storeFlags);
  addUnary(calls, &StoreService::RequestExpunge, &StoreService::expunge);
  calls.add(AsyncCalls::Streamed<pb::FetchBodiesRequest, pb::BodyChunk>{
      [this](auto* ctx, auto* req, auto* w, auto* cq, void* tag) { RequestFetchBodies(ctx, req, w, cq, cq, tag); },
      [this](pb::FetchBodiesRequest* req) {
        auto stream = std::make_shared<FetchStream>(engine_, *req);
        return [stream](bool* last) { return stream->next(last); };
      }});
}

// The writes: each handed to the engine, answered from its `done` (on the
// writer thread once the commit landed). `req` and `resp` live in the call
// until the reply.
// A message is parsed before it is queued for the writer (bodyExtras): a
// large one on a thread of its own, not on the queue's.
// An exception there (bad_alloc) comes before the engine took the call (the
// ...Async forms call done or throw, never both): the call is answered with
// an internal error. On a queue thread AsyncCalls does that; here, off it.
void StoreService::append(pb::AppendRequest* req, pb::AppendResponse* resp, Reply reply) {
  if (req->body().size() > kInlineParseMax && calls_) {
    return calls_->offload([this, req, resp, reply] {
      try {
        appendNow(req, resp, reply);
      } catch (const std::exception& e) {
        setError(resp->mutable_error(), logged("append", req->user(), Error{ErrorCode::kInternal, e.what()}));
        reply();
      }
    });
  }
  appendNow(req, resp, std::move(reply));
}

void StoreService::deliver(pb::DeliverRequest* req, pb::DeliverResponse* resp, Reply reply) {
  if (req->body().size() > kInlineParseMax && calls_) {
    return calls_->offload([this, req, resp, reply] {
      try {
        deliverNow(req, resp, reply);
      } catch (const std::exception& e) {
        Error err{ErrorCode::kInternal, e.what()};
        resp->clear_results();
        for (const auto& u : req->users()) setError(resp->add_results(), logged("deliver", u, err));
        reply();
      }
    });
  }
  deliverNow(req, resp, std::move(reply));
}

void StoreService::appendNow(pb::AppendRequest* req, pb::AppendResponse* resp, Reply reply) {
  AppendArgs a;
  a.user = req->user();
  a.mailbox = req->mailbox();
  a.flags = req->flags();
  a.keywords = strings(req->keywords());
  a.internaldate = req->internaldate();
  a.tzoffset = req->tzoffset();
  a.body = std::move(*req->mutable_body());
  a.claim_recent = req->claim_recent();
  engine_->appendAsync(std::move(a), [req, resp, reply = std::move(reply)](Result<AppendResult> r) {
    if (r.ok()) {
      resp->set_uidvalidity(r->uidvalidity);
      resp->set_uid(r->uid);
      resp->set_modseq(r->modseq);
      resp->set_recent_from(r->recent_from);
      resp->set_recent_to(r->recent_to);
    }
    setError(resp->mutable_error(), logged("append", req->user(), r.error()));
    reply();
  });
}

void StoreService::deliverNow(pb::DeliverRequest* req, pb::DeliverResponse* resp, Reply reply) {
  engine_->deliverAsync(strings(req->users()), req->mailbox(), std::move(*req->mutable_body()),
                        [req, resp, reply = std::move(reply)](std::vector<Error> results) {
                          for (size_t i = 0; i < results.size(); i++)
                            setError(resp->add_results(), logged("deliver", req->users(int(i)), results[i]));
                          reply();
                        });
}

void StoreService::storeFlags(pb::StoreFlagsRequest* req, pb::StoreFlagsResponse* resp, Reply reply) {
  StoreFlagsArgs a;
  a.user = req->user();
  a.mailbox_id = req->mailbox_id();
  a.uids.assign(req->uids().begin(), req->uids().end());
  a.op = req->op() == pb::ADD ? FlagOp::kAdd : req->op() == pb::REMOVE ? FlagOp::kRemove : FlagOp::kReplace;
  a.flags = req->flags();
  a.keywords = strings(req->keywords());
  a.unchanged_since = req->unchanged_since();
  engine_->storeFlagsAsync(std::move(a), [req, resp, reply = std::move(reply)](Result<StoreFlagsResult> r) {
    if (r.ok()) {
      for (const auto& m : r->changed) addMeta(m, resp->mutable_changed(), false);
      for (const auto& k : r->keywords) resp->add_keywords(k);
    }
    setError(resp->mutable_error(), logged("store-flags", req->user(), r.error()));
    reply();
  });
}

void StoreService::expunge(pb::ExpungeRequest* req, pb::ExpungeResponse* resp, Reply reply) {
  engine_->expungeAsync(req->user(), req->mailbox_id(), {req->uids().begin(), req->uids().end()},
                        req->only_deleted(), [req, resp, reply = std::move(reply)](Result<ExpungeResult> r) {
                          if (r.ok()) {
                            for (uint32_t u : r->expunged) resp->add_expunged(u);
                            resp->set_modseq(r->modseq);
                          }
                          setError(resp->mutable_error(), logged("expunge", req->user(), r.error()));
                          reply();
                        });
}

grpc::Status StoreService::Ping(Ctx*, const pb::PingRequest*, pb::PingResponse* resp) {
  resp->set_pid(uint64_t(getpid()));
  resp->set_started(uint64_t(started_));
  return grpc::Status::OK;
}

grpc::Status StoreService::Authenticate(Ctx*, const pb::AuthenticateRequest* req, pb::AuthenticateResponse* resp) {
  auto r = engine_->authenticate(req->user(), req->password(), req->protocol());
  if (r.ok()) resp->set_user(*r);
  setError(resp->mutable_error(), logged("authenticate", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::AddUser(Ctx*, const pb::AddUserRequest* req, pb::SimpleResponse* resp) {
  Error e = engine_->addUser(req->user(), req->password());
  if (e.ok()) log::info("user added", {{"user", req->user()}});
  setError(resp->mutable_error(), logged("add-user", req->user(), e));
  return grpc::Status::OK;
}

grpc::Status StoreService::DeleteUser(Ctx*, const pb::DeleteUserRequest* req, pb::SimpleResponse* resp) {
  Error e = engine_->deleteUser(req->user());
  if (e.ok()) log::info("user deleted", {{"user", req->user()}});
  setError(resp->mutable_error(), logged("delete-user", req->user(), e));
  return grpc::Status::OK;
}

grpc::Status StoreService::SetPassword(Ctx*, const pb::SetPasswordRequest* req, pb::SimpleResponse* resp) {
  setError(resp->mutable_error(), logged("set-password", req->user(), engine_->setPassword(req->user(), req->password())));
  return grpc::Status::OK;
}

grpc::Status StoreService::SetUserAccess(Ctx*, const pb::SetUserAccessRequest* req, pb::SimpleResponse* resp) {
  Error e = engine_->setProtocolAccess(req->user(), req->protocol(), req->allowed());
  if (e.ok())
    log::info("user protocol access changed",
              {{"user", req->user()}, {"proto", req->protocol()}, {"allowed", req->allowed() ? "yes" : "no"}});
  setError(resp->mutable_error(), logged("set-user-access", req->user(), e));
  return grpc::Status::OK;
}

grpc::Status StoreService::ClaimRecent(Ctx*, const pb::ClaimRecentRequest* req, pb::ClaimRecentResponse* resp) {
  auto r = engine_->claimRecent(req->user(), req->mailbox_id());
  if (r.ok()) {
    resp->set_from_uid(r->first);
    resp->set_to_uid(r->second);
  }
  setError(resp->mutable_error(), logged("claim-recent", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::Verify(Ctx*, const pb::VerifyRequest* req, pb::VerifyResponse* resp) {
  auto r = engine_->verify(req->user());
  if (r.ok()) {
    resp->set_checked(r->checked);
    for (const auto& d : r->damaged) {
      auto* o = resp->add_damaged();
      o->set_user(d.user);
      o->set_mailbox(d.mailbox);
      o->set_uid(d.uid);
      o->set_reason(d.reason);
      log::error("damaged message", {{"user", d.user}, {"mailbox", d.mailbox}, {"uid", std::to_string(d.uid)},
                                     {"reason", d.reason}});
    }
    log::info("verify finished", {{"user", req->user()}, {"checked", std::to_string(r->checked)},
                                  {"damaged", std::to_string(r->damaged.size())}});
  }
  setError(resp->mutable_error(), logged("verify", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::UserExists(Ctx*, const pb::UserExistsRequest* req, pb::UserExistsResponse* resp) {
  auto r = engine_->usersExist(strings(req->users()));
  if (r.ok())
    for (bool b : *r) resp->add_exists(b);
  setError(resp->mutable_error(), logged("user-exists", "", r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::ListUsers(Ctx*, const pb::ListUsersRequest*, pb::ListUsersResponse* resp) {
  auto r = engine_->listUsers();
  if (r.ok())
    for (const auto& u : *r) {
      auto* o = resp->add_users();
      o->set_name(u.name);
      o->set_id(u.id);
      o->set_messages(u.messages);
      o->set_bytes(u.bytes);
      for (const auto& p : u.denied_protocols) o->add_denied_protocols(p);
      o->set_password_scheme(u.password_scheme);
      for (const auto& m : u.scram) o->add_scram(m);
    }
  setError(resp->mutable_error(), logged("list-users", "", r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::ScramSecrets(Ctx*, const pb::ScramSecretsRequest* req, pb::ScramSecretsResponse* resp) {
  auto r = engine_->scramSecrets(req->user(), req->mechanism(), req->protocol());
  if (r.ok()) {
    resp->set_user(r->user);
    resp->set_salt(r->salt);
    resp->set_iterations(r->iterations);
    resp->set_stored_key(r->stored_key);
    resp->set_server_key(r->server_key);
    resp->set_denied(r->denied);
  }
  setError(resp->mutable_error(), logged("scram-secrets", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::ImportPasswd(Ctx*, const pb::ImportPasswdRequest* req, pb::ImportPasswdResponse* resp) {
  if (req->lines_size() > 10000) {
    setError(resp->mutable_error(), Error{ErrorCode::kTooBig, "at most 10000 lines per call"});
    return grpc::Status::OK;
  }
  auto r = engine_->importPasswd({req->lines().begin(), req->lines().end()}, req->first_line(), req->replace());
  if (r.ok()) {
    for (const auto& l : *r) {
      auto* o = resp->add_results();
      o->set_line(l.line);
      o->set_user(l.user);
      o->set_imported(l.imported);
      o->set_detail(l.detail);
      if (l.imported) log::info("user imported", {{"user", l.user}, {"line", std::to_string(l.line)}, {"detail", l.detail}});
      else log::info("import line skipped", {{"user", l.user}, {"line", std::to_string(l.line)}, {"reason", l.detail}});
    }
  }
  setError(resp->mutable_error(), logged("import-passwd", "", r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::ListMailboxes(Ctx*, const pb::ListMailboxesRequest* req, pb::ListMailboxesResponse* resp) {
  auto r = engine_->listMailboxes(req->user());
  if (r.ok())
    for (const auto& m : *r) toProto(m, resp->add_mailboxes());
  setError(resp->mutable_error(), logged("list-mailboxes", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::GetMailbox(Ctx*, const pb::MailboxRequest* req, pb::GetMailboxResponse* resp) {
  auto r = engine_->getMailbox(req->user(), req->name());
  if (r.ok()) toProto(*r, resp->mutable_mailbox());
  setError(resp->mutable_error(), logged("get-mailbox", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::CreateMailbox(Ctx*, const pb::MailboxRequest* req, pb::SimpleResponse* resp) {
  setError(resp->mutable_error(), logged("create-mailbox", req->user(), engine_->createMailbox(req->user(), req->name())));
  return grpc::Status::OK;
}

grpc::Status StoreService::DeleteMailbox(Ctx*, const pb::MailboxRequest* req, pb::SimpleResponse* resp) {
  setError(resp->mutable_error(), logged("delete-mailbox", req->user(), engine_->deleteMailbox(req->user(), req->name())));
  return grpc::Status::OK;
}

grpc::Status StoreService::RenameMailbox(Ctx*, const pb::RenameMailboxRequest* req, pb::SimpleResponse* resp) {
  setError(resp->mutable_error(),
           logged("rename-mailbox", req->user(), engine_->renameMailbox(req->user(), req->from(), req->to())));
  return grpc::Status::OK;
}

grpc::Status StoreService::Subscribe(Ctx*, const pb::SubscribeRequest* req, pb::SimpleResponse* resp) {
  setError(resp->mutable_error(),
           logged("subscribe", req->user(), engine_->subscribe(req->user(), req->name(), req->subscribed())));
  return grpc::Status::OK;
}

grpc::Status StoreService::ListSubscriptions(Ctx*, const pb::ListSubscriptionsRequest* req,
                                             pb::ListSubscriptionsResponse* resp) {
  auto r = engine_->listSubscriptions(req->user());
  if (r.ok())
    for (const auto& n : *r) resp->add_names(n);
  setError(resp->mutable_error(), logged("list-subscriptions", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::SelectMailbox(Ctx*, const pb::MailboxRequest* req, pb::SelectMailboxResponse* resp) {
  // The watcher's interest first, then the snapshot: a change committed
  // after the snapshot was read is published after the interest is held.
  std::string watched;
  if (req->watcher() != 0) {
    auto name = canonicalUser(req->user());
    if (name.ok()) {
      watched = std::move(*name);
      engine_->changes().addInterest(req->watcher(), watched);
    }
  }
  auto r = engine_->selectMailboxShared(req->user(), req->name());
  if (!r.ok() && !watched.empty()) engine_->changes().dropInterest(req->watcher(), watched, 1);
  if (r.ok()) {
    toProto(r->mailbox, resp->mutable_mailbox());
    fillList(*r->messages, resp->mutable_messages());
    if (req->claim_recent()) {
      // Up to the listed messages: later ones go to whoever hears of them first.
      auto c = engine_->claimRecent(req->user(), r->mailbox.id, r->mailbox.uidnext);
      if (c.ok()) {
        resp->set_recent_from(c->first);
        resp->set_recent_to(c->second);
      }
    }
  }
  setError(resp->mutable_error(), logged("select-mailbox", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::SearchText(Ctx*, const pb::SearchTextRequest* req, pb::SearchTextResponse* resp) {
  std::vector<uint32_t> uids(req->uids().begin(), req->uids().end());
  std::vector<TextNeedle> needles;
  for (const auto& n : req->needles()) {
    if (n.scope() > uint32_t(mime::SearchScope::kField)) {
      setError(resp->mutable_error(), Error{ErrorCode::kBadArgs, "unknown search scope"});
      return grpc::Status::OK;
    }
    needles.push_back(TextNeedle{n.text(), mime::SearchScope(n.scope()), n.field()});
  }
  auto r = engine_->searchText(req->user(), req->mailbox_id(), uids, needles);
  if (r.ok()) {
    resp->mutable_unindexed()->Add(r->unindexed.begin(), r->unindexed.end());
    resp->mutable_hit_uids()->Reserve(int(r->hits.size()));
    resp->mutable_hit_masks()->Reserve(int(r->hits.size()));
    for (const auto& [uid, mask] : r->hits) {
      resp->add_hit_uids(uid);
      resp->add_hit_masks(mask);
    }
  }
  setError(resp->mutable_error(), logged("search-text", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::Copy(Ctx*, const pb::CopyRequest* req, pb::CopyResponse* resp) {
  std::vector<uint32_t> uids(req->uids().begin(), req->uids().end());
  auto r = engine_->copy(req->user(), req->mailbox_id(), uids, req->destination(), req->move());
  if (r.ok()) {
    resp->set_uidvalidity(r->uidvalidity);
    for (uint32_t u : r->source_uids) resp->add_source_uids(u);
    for (uint32_t u : r->dest_uids) resp->add_dest_uids(u);
  }
  setError(resp->mutable_error(), logged(req->move() ? "move" : "copy", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::Unwatch(Ctx*, const pb::UnwatchRequest* req, pb::SimpleResponse* resp) {
  auto name = canonicalUser(req->user());
  if (name.ok()) engine_->changes().dropInterest(req->watcher(), *name, req->count());
  setError(resp->mutable_error(), logged("unwatch", req->user(), name.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::Watch(Ctx* ctx, const pb::WatchRequest* req, grpc::ServerWriter<pb::ChangeBatch>* writer) {
  auto sub = engine_->changes().subscribe(req->filtered());
  log::debug("watch stream opened", {{"peer", ctx->peer()}, {"filtered", req->filtered() ? "yes" : "no"}});
  // An empty first batch tells the client the feed is live (the sequence,
  // and the id SelectMailbox names the stream by).
  pb::ChangeBatch hello;
  hello.set_sequence(engine_->changes().lastSequence());
  hello.set_watcher(sub->id());
  if (!writer->Write(hello)) return grpc::Status::OK;
  ChangeBatch batch;
  // Bounded waits, so cancellation and shutdown are noticed within 200 ms.
  while (!stopping_ && !ctx->IsCancelled()) {
    auto st = sub->next(std::chrono::milliseconds(200), &batch);
    if (st == Subscription::Status::kTimeout) continue;
    if (st == Subscription::Status::kClosed) break;
    if (st == Subscription::Status::kDropped) {
      log::warn("watch subscriber fell behind; dropped", {{"peer", ctx->peer()}});
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "change feed overflow; resync");
    }
    pb::ChangeBatch out;
    out.set_sequence(batch.sequence);
    for (const auto& c : batch.changes) {
      auto* o = out.add_changes();
      o->set_kind(kindOf(c.kind));
      o->set_user(c.user);
      o->set_mailbox_id(c.mailbox_id);
      o->set_uid(c.meta.uid);
      o->set_flags(c.meta.flags);
      o->set_modseq(c.meta.modseq);
      o->set_size(c.meta.size);
      o->set_internaldate(c.meta.internaldate);
      o->set_tzoffset(c.meta.tzoffset);
      for (const auto& k : c.keywords) o->add_keywords(k);
    }
    if (!writer->Write(out)) break;
  }
  log::debug("watch stream closed", {{"peer", ctx->peer()}});
  return grpc::Status::OK;
}

grpc::Status StoreService::AcquireLock(Ctx*, const pb::AcquireLockRequest* req, pb::SimpleResponse* resp) {
  Error e = locks_.acquire(req->user(), req->name(), req->owner(), req->lease_ms());
  setError(resp->mutable_error(), logged("acquire lock", req->user(), e));
  return grpc::Status::OK;
}

grpc::Status StoreService::ReleaseLock(Ctx*, const pb::ReleaseLockRequest* req, pb::SimpleResponse*) {
  locks_.release(req->user(), req->name(), req->owner());
  return grpc::Status::OK;
}

grpc::Status StoreService::ReleaseLocks(Ctx*, const pb::ReleaseLocksRequest* req, pb::ReleaseLocksResponse* resp) {
  uint32_t n = locks_.releaseOwners(req->owner_prefix(), req->keep_prefix());
  if (n > 0) log::info("released stale locks", {{"owner", req->owner_prefix()}, {"locks", std::to_string(n)}});
  resp->set_released(n);
  return grpc::Status::OK;
}

grpc::Status StoreService::UserSettings(Ctx*, const pb::UserSettingsRequest* req, pb::UserSettingsResponse* resp) {
  auto r = engine_->userSettings(req->user());
  if (r.ok())
    for (const auto& [k, v] : *r) (*resp->mutable_settings())[k] = v;
  for (const auto& k : StoreEngine::userSettingKeys()) resp->add_keys(k);
  setError(resp->mutable_error(), logged("user-settings", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::SetUserSetting(Ctx*, const pb::SetUserSettingRequest* req, pb::SimpleResponse* resp) {
  Error e = engine_->setUserSetting(req->user(), req->key(), req->value());
  if (e.ok())
    log::info("user setting changed",
              {{"user", req->user()}, {"key", req->key()}, {"value", req->value().empty() ? "(server)" : req->value()}});
  setError(resp->mutable_error(), logged("set-user-setting", req->user(), e));
  return grpc::Status::OK;
}

grpc::Status StoreService::UserSettingsSummary(Ctx*, const pb::UserSettingsSummaryRequest*,
                                               pb::UserSettingsSummaryResponse* resp) {
  auto r = engine_->userSettingsSummary();
  if (r.ok())
    for (const auto& [k, values] : *r)
      for (const auto& v : values) (*resp->mutable_keys())[k].add_values(v);
  setError(resp->mutable_error(), logged("user-settings-summary", "", r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::MarkRetrieved(Ctx*, const pb::MarkRetrievedRequest* req, pb::SimpleResponse* resp) {
  std::vector<uint32_t> uids(req->uids().begin(), req->uids().end());
  setError(resp->mutable_error(),
           logged("mark-retrieved", req->user(), engine_->markRetrieved(req->user(), req->mailbox_id(), uids)));
  return grpc::Status::OK;
}

grpc::Status StoreService::ExpireRetrieved(Ctx*, const pb::ExpireRetrievedRequest* req, pb::ExpungeResponse* resp) {
  auto r = engine_->expireRetrieved(req->user(), req->mailbox(), req->max_age_seconds());
  if (r.ok()) {
    for (uint32_t u : r->expunged) resp->add_expunged(u);
    resp->set_modseq(r->modseq);
    if (!r->expunged.empty())
      log::info("expired retrieved messages",
                {{"user", req->user()}, {"messages", std::to_string(r->expunged.size())},
                 {"max_age_s", std::to_string(req->max_age_seconds())}});
  }
  setError(resp->mutable_error(), logged("expire-retrieved", req->user(), r.error()));
  return grpc::Status::OK;
}

grpc::Status StoreService::SetClockOffset(Ctx*, const pb::SetClockOffsetRequest* req, pb::SimpleResponse* resp) {
  engine_->setClockOffset(req->offset_seconds());
  log::warn("retention clock offset set (testing)", {{"offset_s", std::to_string(req->offset_seconds())}});
  setError(resp->mutable_error(), Error::none());
  return grpc::Status::OK;
}

}  // namespace postern::stored
