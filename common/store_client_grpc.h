#pragma once
// StoreClient over gRPC's callback API. Every completion is posted to the
// EventLoop, so callbacks run on the loop thread and no store call ever
// blocks it. The only worker-side file that includes the store stubs.
#include <memory>
#include <string>

#include "event_loop.h"
#include "store_client.h"

namespace postern {

// `target` is a gRPC target ("unix:/path" or "host:port");
// `max_message` bounds one gRPC message (message_size_limit + slack).
std::unique_ptr<StoreClient> makeGrpcStoreClient(EventLoop& loop, const std::string& target,
                                                 size_t max_message);

}  // namespace postern
