#pragma once
// One SASL exchange as a protocol sees it: lines of base64 in, outcomes
// out. Handles what RFC 4422 leaves to the protocol profile, the same way
// for IMAP (RFC 3501 6.2.2, RFC 4959 SASL-IR) and POP3 (RFC 5034):
//   - the initial response: absent, "=" (empty) or base64;
//   - a client line "*" cancels (Outcome::kCancelled);
//   - strict base64, responses bounded (kMaxResponse decoded octets);
//   - additional data with success (SCRAM's "v=..."): neither IMAP4rev1
//     nor POP3 can carry it in the final OK, so it goes out as one more
//     challenge and the client must answer with an empty line
//     (RFC 4422 section 4, point 6).
// The protocol sends each kChallenge as "+ " base64(data) and passes the
// next line to respond(). Loop-thread only.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sasl/mechanism.h"

namespace postern::sasl {

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  explicit Exchange(std::shared_ptr<Mechanism> mech) : mech_(std::move(mech)) {}

  // Starts the exchange. `initial`: nullopt when the command carried no
  // initial response, else its text ("=" for an empty one).
  void begin(std::optional<std::string_view> initial, Next cb);
  // The client's answer to the last challenge, one line without CRLF.
  void respond(std::string_view line, Next cb);

  std::string_view mechanism() const { return mech_->name(); }
  // True once a final outcome (anything but kChallenge) has been delivered.
  bool finished() const { return state_ == State::kDone; }

  // Longest line respond() accepts: the base64 form of kMaxResponse octets.
  static constexpr size_t kMaxLine = (kMaxResponse + 2) / 3 * 4;

 private:
  enum class State { kIdle, kWaiting, kStepping, kSuccessPending, kDone };
  void feed(std::string_view text, Next cb);
  void deliver(Outcome o, const Next& cb);

  std::shared_ptr<Mechanism> mech_;
  State state_ = State::kIdle;
  Outcome pending_success_;
};

}  // namespace postern::sasl
