#pragma once
// The gRPC face of the store: translates postern.store.v1 messages to
// StoreEngine calls and back. The writes Append, Deliver, StoreFlags and
// Expunge and the stream FetchBodies are asynchronous methods (async_calls.h:
// writes answered from the writer thread when their commit lands, FetchBodies
// one batch at a time from a FetchStream; addAsync() registers them); every
// other call runs on a thread of the sync server's pool and blocks on the
// engine.
// Application errors travel in the response's `error`, never as gRPC status;
// every failed call is logged with its error.
#include <atomic>
#include <cstdint>

#include "async_calls.h"
#include "store.grpc.pb.h"
#include "store_engine.h"
#include "store_locks.h"

namespace postern::stored {

namespace pb = postern::store::v1;

using StoreServiceBase = pb::Store::WithAsyncMethod_Append<
    pb::Store::WithAsyncMethod_Deliver<pb::Store::WithAsyncMethod_StoreFlags<
        pb::Store::WithAsyncMethod_Expunge<pb::Store::WithAsyncMethod_FetchBodies<pb::Store::Service>>>>>;

class StoreService final : public StoreServiceBase {
 public:
  // `engine` must outlive the service.
  explicit StoreService(StoreEngine* engine);

  // Makes running Watch streams return within their poll interval.
  void shutdown() { stopping_ = true; }
  // The asynchronous methods; `calls` must be added to the server builder
  // (AsyncCalls::addTo) and started after BuildAndStart.
  void addAsync(AsyncCalls& calls);

  using Ctx = grpc::ServerContext;
  grpc::Status Ping(Ctx*, const pb::PingRequest*, pb::PingResponse*) override;
  grpc::Status Authenticate(Ctx*, const pb::AuthenticateRequest*, pb::AuthenticateResponse*) override;
  grpc::Status AddUser(Ctx*, const pb::AddUserRequest*, pb::SimpleResponse*) override;
  grpc::Status DeleteUser(Ctx*, const pb::DeleteUserRequest*, pb::SimpleResponse*) override;
  grpc::Status SetPassword(Ctx*, const pb::SetPasswordRequest*, pb::SimpleResponse*) override;
  grpc::Status SetUserAccess(Ctx*, const pb::SetUserAccessRequest*, pb::SimpleResponse*) override;
  grpc::Status Verify(Ctx*, const pb::VerifyRequest*, pb::VerifyResponse*) override;
  grpc::Status ClaimRecent(Ctx*, const pb::ClaimRecentRequest*, pb::ClaimRecentResponse*) override;
  grpc::Status UserExists(Ctx*, const pb::UserExistsRequest*, pb::UserExistsResponse*) override;
  grpc::Status ListUsers(Ctx*, const pb::ListUsersRequest*, pb::ListUsersResponse*) override;
  grpc::Status ScramSecrets(Ctx*, const pb::ScramSecretsRequest*, pb::ScramSecretsResponse*) override;
  grpc::Status ImportPasswd(Ctx*, const pb::ImportPasswdRequest*, pb::ImportPasswdResponse*) override;
  grpc::Status ListMailboxes(Ctx*, const pb::ListMailboxesRequest*, pb::ListMailboxesResponse*) override;
  grpc::Status GetMailbox(Ctx*, const pb::MailboxRequest*, pb::GetMailboxResponse*) override;
  grpc::Status CreateMailbox(Ctx*, const pb::MailboxRequest*, pb::SimpleResponse*) override;
  grpc::Status DeleteMailbox(Ctx*, const pb::MailboxRequest*, pb::SimpleResponse*) override;
  grpc::Status RenameMailbox(Ctx*, const pb::RenameMailboxRequest*, pb::SimpleResponse*) override;
  grpc::Status Subscribe(Ctx*, const pb::SubscribeRequest*, pb::SimpleResponse*) override;
  grpc::Status ListSubscriptions(Ctx*, const pb::ListSubscriptionsRequest*, pb::ListSubscriptionsResponse*) override;
  grpc::Status SelectMailbox(Ctx*, const pb::MailboxRequest*, pb::SelectMailboxResponse*) override;
  grpc::Status SearchText(Ctx*, const pb::SearchTextRequest*, pb::SearchTextResponse*) override;
  grpc::Status Copy(Ctx*, const pb::CopyRequest*, pb::CopyResponse*) override;
  grpc::Status Watch(Ctx*, const pb::WatchRequest*, grpc::ServerWriter<pb::ChangeBatch>*) override;
  grpc::Status Unwatch(Ctx*, const pb::UnwatchRequest*, pb::SimpleResponse*) override;
  // Maildrop locks: in memory only (store_locks.h), never touch the engine.
  grpc::Status AcquireLock(Ctx*, const pb::AcquireLockRequest*, pb::SimpleResponse*) override;
  grpc::Status ReleaseLock(Ctx*, const pb::ReleaseLockRequest*, pb::SimpleResponse*) override;
  grpc::Status ReleaseLocks(Ctx*, const pb::ReleaseLocksRequest*, pb::ReleaseLocksResponse*) override;
  // Per-user settings and POP3 retention (engine: store_pop3.cc).
  grpc::Status UserSettings(Ctx*, const pb::UserSettingsRequest*, pb::UserSettingsResponse*) override;
  grpc::Status SetUserSetting(Ctx*, const pb::SetUserSettingRequest*, pb::SimpleResponse*) override;
  grpc::Status UserSettingsSummary(Ctx*, const pb::UserSettingsSummaryRequest*,
                                   pb::UserSettingsSummaryResponse*) override;
  grpc::Status MarkRetrieved(Ctx*, const pb::MarkRetrievedRequest*, pb::SimpleResponse*) override;
  grpc::Status ExpireRetrieved(Ctx*, const pb::ExpireRetrievedRequest*, pb::ExpungeResponse*) override;
  grpc::Status SetClockOffset(Ctx*, const pb::SetClockOffsetRequest*, pb::SimpleResponse*) override;

 private:
  using Reply = std::function<void()>;
  // The generated Request<Method> of an async method.
  template <class Base, class Req, class Resp>
  using RequestFn = void (Base::*)(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                                   grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  // Registers a unary async method: gRPC's request for it and our handler.
  template <class Base, class Req, class Resp>
  void addUnary(AsyncCalls& calls, RequestFn<Base, Req, Resp> request, void (StoreService::*handle)(Req*, Resp*, Reply));
  void append(pb::AppendRequest* req, pb::AppendResponse* resp, Reply reply);
  void appendNow(pb::AppendRequest* req, pb::AppendResponse* resp, Reply reply);
  void deliver(pb::DeliverRequest* req, pb::DeliverResponse* resp, Reply reply);
  void deliverNow(pb::DeliverRequest* req, pb::DeliverResponse* resp, Reply reply);
  void storeFlags(pb::StoreFlagsRequest* req, pb::StoreFlagsResponse* resp, Reply reply);
  void expunge(pb::ExpungeRequest* req, pb::ExpungeResponse* resp, Reply reply);

  // Messages larger than this are parsed on AsyncCalls::offload's threads.
  static constexpr size_t kInlineParseMax = 1 << 20;

  StoreEngine* engine_;
  AsyncCalls* calls_ = nullptr;  // addAsync's
  int64_t started_;
  std::atomic<bool> stopping_{false};
  LockTable locks_;
};

}  // namespace postern::stored
