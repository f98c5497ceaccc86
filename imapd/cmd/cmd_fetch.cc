// FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8). Metadata comes from the
// session's MailboxView; bodies stream from the store with backpressure
// (a slow client pauses the stream instead of filling memory). A message
// that cannot be read costs only its own response: the others are sent and
// the command ends NO [CORRUPTION], the session lives on.
#include <algorithm>

#include "command.h"
#include "fetch.h"
#include "log.h"
#include "msgset.h"
#include "bodystructure.h"
#include "mime/mime.h"
#include "section.h"
#include "writer.h"

namespace postern::imapd {
namespace {

using Kind = imap::FetchItem::Kind;

constexpr size_t kPauseAbove = 1 << 20;

// Items that need the message octets.
bool needsBytes(const imap::FetchRequest& r) {
  for (const auto& i : r.items)
    if (i.kind == Kind::kRfc822 || i.kind == Kind::kRfc822Header || i.kind == Kind::kRfc822Text ||
        i.kind == Kind::kBodySection)
      return true;
  return false;
}

bool needsStructureOnly(const imap::FetchRequest& r) {
  for (const auto& i : r.items)
    if (i.kind == Kind::kEnvelope || i.kind == Kind::kBody || i.kind == Kind::kBodyStructure) return true;
  return false;
}

// The IMAP renderings a FETCH without body octets needs (imap::RenderedPart).
uint32_t renderedParts(const imap::FetchRequest& r) {
  uint32_t parts = 0;
  for (const auto& i : r.items) {
    if (i.kind == Kind::kBodyStructure) parts |= imap::kRenderedBodyStructure;
    if (i.kind == Kind::kBody) parts |= imap::kRenderedBody;
    if (i.kind == Kind::kEnvelope) parts |= imap::kRenderedEnvelope;
  }
  return parts;
}

struct FetchJob {
  imap::FetchRequest req;
  std::vector<uint32_t> seqs;
  bool uid = false;
  bool flags_changed_seen = false;
  std::vector<bool> add_flags;  // per seq index: include FLAGS (\Seen was set)
  size_t failed = 0;
  ErrorCode fail_code = ErrorCode::kOk;
  size_t next = 0;  // sendBodies: index in seqs of the message expected next
};

bool needsStructure(const imap::FetchRequest& r) {
  for (const auto& i : r.items) {
    if (i.kind == Kind::kEnvelope || i.kind == Kind::kBody || i.kind == Kind::kBodyStructure) return true;
    if (i.kind == Kind::kBodySection &&
        !(i.section.part.empty() && i.section.text == imap::BodySection::Text::kNone))
      return true;
  }
  return false;
}

// One untagged FETCH response. `body` is null when no body was needed;
// `blob` is the stored structure (mime::serialise form), empty for messages
// stored before structures were kept (then the body is parsed here);
// `rendered`, when not empty, the ENVELOPE / BODY / BODYSTRUCTURE stored
// keeps (imap::renderAll form), used as they are. nullopt when `rendered`
// is damaged.
std::optional<std::string> render(const MailboxView& v, uint32_t seq, const FetchJob& job, bool add_flags,
                                  const std::string* body, const std::string* blob,
                                  const std::string* rendered_blob = nullptr) {
  const MessageMeta& m = v.at(seq);
  std::optional<imap::Rendered> rendered;
  if (rendered_blob && !rendered_blob->empty()) {
    rendered = imap::parseRendered(*rendered_blob);
    if (!rendered) return std::nullopt;
    for (const auto& it : job.req.items)  // each asked for must have come
      if ((it.kind == Kind::kEnvelope && rendered->envelope.empty()) ||
          (it.kind == Kind::kBody && rendered->body.empty()) ||
          (it.kind == Kind::kBodyStructure && rendered->bodystructure.empty()))
        return std::nullopt;
  }
  std::optional<mime::Structure> structure;
  if (needsStructure(job.req) && !rendered) {
    if (blob && !blob->empty()) {
      auto s = mime::deserialise(*blob);
      if (s.ok()) structure = std::move(s.value());
    }
    if (!structure) structure = mime::parse(body ? std::string_view(*body) : std::string_view());
  }
  std::string out = "* " + std::to_string(seq) + " FETCH (";
  bool first = true;
  auto sep = [&] {
    if (!first) out += ' ';
    first = false;
  };
  bool have_uid = false, have_flags = false;
  for (const auto& it : job.req.items) {
    switch (it.kind) {
      case Kind::kUid:
        sep();
        out += "UID " + std::to_string(m.uid);
        have_uid = true;
        break;
      case Kind::kFlags:
        sep();
        out += "FLAGS " + v.flagsOf(m);
        have_flags = true;
        break;
      case Kind::kInternalDate:
        sep();
        out += "INTERNALDATE ";
        imap::appendDateTime(out, m.internaldate, m.tzoffset);
        break;
      case Kind::kRfc822Size:
        sep();
        out += "RFC822.SIZE " + std::to_string(m.size);
        break;
      case Kind::kRfc822:
        sep();
        out += "RFC822 ";
        imap::appendLiteral(out, *body);
        break;
      case Kind::kRfc822Header:
        sep();
        out += "RFC822.HEADER ";
        imap::appendLiteral(out, headerOf(*body));
        break;
      case Kind::kRfc822Text:
        sep();
        out += "RFC822.TEXT ";
        imap::appendLiteral(out, textOf(*body));
        break;
      case Kind::kBodySection: {
        auto data = structure ? extractSection(*body, *structure, it.section)
                              : std::optional<std::string>(*body);
        // A section the message does not have (BODY[4] of a two-part
        // message, 1.HEADER of a part that is no message/rfc822) is an empty
        // string, as Dovecot and UW-IMAP answer; RFC 3501 leaves it open,
        // and a NO would make clients discard the other items.
        if (!data) data = std::string();
        std::string_view d = *data;
        if (it.partialOffset) {
          size_t off = *it.partialOffset;
          d = off >= d.size() ? std::string_view() : d.substr(off, it.partialLength);
        }
        sep();
        out += it.responseName() + " ";
        imap::appendLiteral(out, d);
        break;
      }
      case Kind::kEnvelope:
        sep();
        out += "ENVELOPE ";
        if (rendered) out += rendered->envelope;
        else out += imap::envelope(*structure);
        break;
      case Kind::kBody:
        sep();
        out += "BODY ";
        if (rendered) out += rendered->body;
        else imap::appendBody(out, structure->root, false);
        break;
      case Kind::kBodyStructure:
        sep();
        out += "BODYSTRUCTURE ";
        if (rendered) out += rendered->bodystructure;
        else imap::appendBody(out, structure->root, true);
        break;
    }
  }
  if (job.uid && !have_uid) {
    sep();
    out += "UID " + std::to_string(m.uid);
  }
  if (add_flags && !have_flags) {
    sep();
    out += "FLAGS " + v.flagsOf(m);
  }
  out += ")\r\n";
  return out;
}

void finish(const std::shared_ptr<CommandContext>& ctx, const FetchJob& job) {
  if (job.failed == 0) return ctx->ok(job.uid ? "UID FETCH completed" : "FETCH completed");
  if (job.fail_code == ErrorCode::kCorrupt)
    return ctx->no("[CORRUPTION] Some messages could not be read; the others were sent");
  if (job.fail_code == ErrorCode::kExpunged)
    return ctx->no("[EXPUNGEISSUED] Some messages were expunged before they could be fetched");
  return ctx->fail(Error{job.fail_code, ""}, "FETCH");
}

void sendBodies(std::shared_ptr<CommandContext> ctx, std::shared_ptr<FetchJob> job) {
  MailboxView* v = ctx->session().selected();
  std::vector<uint32_t> uids;
  uids.reserve(job->seqs.size());
  for (uint32_t s : job->seqs) uids.push_back(v->at(s).uid);
  auto holder = std::make_shared<std::shared_ptr<BodyStream>>();
  bool with_body = needsBytes(job->req);
  *holder = ctx->store().fetchMessages(
      ctx->session().user(), v->id(), std::move(uids), with_body,
      [ctx, job, holder, with_body](uint32_t uid, Result<StoreClient::Fetched> body) -> bool {
        Session& s = ctx->session();
        MailboxView* v = s.selected();
        if (s.closed() || !v) return true;
        // The store answers in the order asked: the next seq of the job is
        // the likely one; otherwise search.
        uint32_t seq = 0;
        size_t idx = job->next;
        if (idx < job->seqs.size()) {
          uint32_t s = job->seqs[idx];
          if (s >= 1 && s <= v->count() && v->at(s).uid == uid) seq = s;
        }
        if (seq == 0) {
          seq = v->seqOf(uid);
          if (seq == 0) return true;
          idx = static_cast<size_t>(std::lower_bound(job->seqs.begin(), job->seqs.end(), seq) - job->seqs.begin());
        }
        job->next = idx + 1;
        if (!body.ok()) {
          ++job->failed;
          job->fail_code = body.error().code;
          log::error("fetch: message cannot be read", {{"session", s.id()}, {"user", s.user()},
                                                       {"mailbox", v->name()},
                                                       {"uid", std::to_string(uid)},
                                                       {"error", std::string(errorName(body.error().code)) + " " +
                                                                     body.error().message}});
          return true;
        }
        bool add = idx < job->add_flags.size() && job->add_flags[idx];
        // Without stored structure the store sends the body even if not asked.
        const std::string* bytes = with_body || !body->body.empty() ? &body->body : nullptr;
        auto out = render(*v, seq, *job, add, bytes, &body->structure, &body->imap);
        if (!out) {
          ++job->failed;
          job->fail_code = ErrorCode::kCorrupt;
          log::error("fetch: stored IMAP rendering is damaged", {{"session", s.id()}, {"user", s.user()},
                                                                 {"mailbox", v->name()},
                                                                 {"uid", std::to_string(uid)}});
          return true;
        }
        ctx->write(*out);
        if (ctx->pendingOutput() < kPauseAbove) return true;
        std::weak_ptr<std::shared_ptr<BodyStream>> w = holder;
        ctx->onDrain([w] {
          if (auto h = w.lock(); h && *h) (*h)->resume();
        });
        return false;
      },
      [ctx, job, holder](Error e) {
        holder->reset();
        if (!e.ok() && e.code != ErrorCode::kOk) {
          if (job->failed == 0 || e.code == ErrorCode::kUnavailable) return ctx->fail(e, "FETCH");
        }
        finish(ctx, *job);
      },
      renderedParts(job->req));
}

void sendResponses(std::shared_ptr<CommandContext> ctx, std::shared_ptr<FetchJob> job) {
  if (needsBytes(job->req) || needsStructureOnly(job->req)) return sendBodies(ctx, job);
  MailboxView* v = ctx->session().selected();
  for (size_t i = 0; i < job->seqs.size(); ++i) {
    ctx->write(*render(*v, job->seqs[i], *job, job->add_flags[i], nullptr, nullptr));
  }
  finish(ctx, *job);
}

}  // namespace

void cmdFetch(CommandContext& ctx) {
  if (ctx.args().size() != 2) return ctx.bad("FETCH needs a sequence set and data items");
  MailboxView* v = ctx.session().selected();
  auto seqs = resolveSeqs(*v, ctx.args()[0], ctx.uid());
  if (!seqs) return ctx.bad(seqs.reason());
  auto req = imap::parseFetchRequest(ctx.args()[1]);
  if (!req) return ctx.bad(req.reason());
  auto job = std::make_shared<FetchJob>();
  job->req = std::move(req.value());
  if (ctx.uid() && !job->req.has(Kind::kUid)) {
    // UID FETCH always reports UID (RFC 3501 6.4.8); first, as Dovecot does.
    imap::FetchItem uid_item;
    uid_item.kind = Kind::kUid;
    job->req.items.insert(job->req.items.begin(), uid_item);
  }
  job->seqs = std::move(seqs.value());
  job->uid = ctx.uid();
  job->add_flags.assign(job->seqs.size(), false);
  if (job->seqs.empty()) return ctx.ok(ctx.uid() ? "UID FETCH completed" : "FETCH completed");

  // Non-PEEK body fetches set \Seen first, so the responses carry it.
  std::vector<uint32_t> unseen;
  if (job->req.setsSeen() && !v->readOnly()) {
    for (size_t i = 0; i < job->seqs.size(); ++i) {
      const auto& m = v->at(job->seqs[i]);
      if (!(m.flags & flag::kSeen)) {
        unseen.push_back(m.uid);
        job->add_flags[i] = true;
      }
    }
  }
  auto self = ctx.self();
  if (unseen.empty()) return sendResponses(self, job);
  StoreFlagsArgs a;
  a.user = ctx.session().user();
  a.mailbox_id = v->id();
  a.uids = std::move(unseen);
  a.op = FlagOp::kAdd;
  a.flags = flag::kSeen;
  ctx.store().storeFlags(std::move(a), [self, job](Result<StoreFlagsResult> r) {
    MailboxView* v = self->session().selected();
    if (!v) return self->no("Mailbox closed");
    if (!r.ok()) return self->fail(r.error(), "FETCH");
    v->applyFlags(r->changed, r->keywords);
    sendResponses(self, job);
  });
}

}  // namespace postern::imapd
