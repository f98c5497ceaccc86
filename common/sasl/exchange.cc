#include "sasl/exchange.h"

#include "sasl/base64.h"

namespace postern::sasl {

void Exchange::begin(std::optional<std::string_view> initial, Next cb) {
  if (state_ != State::kIdle) return cb(Outcome::malformed("exchange already started"));
  state_ = State::kStepping;
  auto self = shared_from_this();
  if (!initial) {
    return mech_->start([self, cb](Outcome o) { self->deliver(std::move(o), cb); });
  }
  feed(*initial == "=" ? std::string_view() : *initial, std::move(cb));
}

void Exchange::respond(std::string_view line, Next cb) {
  if (line == "*") {
    state_ = State::kDone;
    return cb(Outcome{Outcome::Kind::kCancelled, {}, {}, "cancelled by the client", {}});
  }
  if (state_ == State::kSuccessPending) {
    state_ = State::kDone;
    if (!line.empty()) return cb(Outcome::malformed("non-empty response to the final server message"));
    return cb(std::move(pending_success_));
  }
  if (state_ != State::kWaiting) {
    state_ = State::kDone;
    return cb(Outcome::malformed("response without a challenge"));
  }
  state_ = State::kStepping;
  feed(line, std::move(cb));
}

void Exchange::feed(std::string_view text, Next cb) {
  if (text.size() > kMaxLine) {
    state_ = State::kDone;
    return cb(Outcome::malformed("response too long"));
  }
  auto raw = decodeBase64(text);
  if (!raw) {
    state_ = State::kDone;
    return cb(Outcome::malformed("invalid base64"));
  }
  auto self = shared_from_this();
  mech_->step(*raw, [self, cb](Outcome o) { self->deliver(std::move(o), cb); });
}

void Exchange::deliver(Outcome o, const Next& cb) {
  if (o.kind == Outcome::Kind::kChallenge) {
    state_ = State::kWaiting;
  } else if (o.kind == Outcome::Kind::kSuccess && !o.data.empty()) {
    state_ = State::kSuccessPending;
    std::string data = std::move(o.data);
    o.data.clear();
    pending_success_ = std::move(o);
    return cb(Outcome::challenge(std::move(data)));
  } else {
    state_ = State::kDone;
  }
  cb(std::move(o));
}

}  // namespace postern::sasl
