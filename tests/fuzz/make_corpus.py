#!/usr/bin/env python3
"""Writes the fuzz seed corpora: tests/fuzz/corpus/<target>/<nnn>-<name>.

Deterministic: the same script always writes the same files, and it
removes every other file in those directories first, so the corpus is
exactly what this script says. Seeds stay under 4 KB. Inputs that once
crashed or broke an invariant go into REGRESSIONS below (as bytes), so
they are replayed forever.

    python3 tests/fuzz/make_corpus.py
"""
import base64
import hashlib
import hmac
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SEED = 4096


def crlf(*lines):
    return b"".join(l + b"\r\n" for l in lines)


# ---- IMAP commands (imap_parser) -------------------------------------------

IMAP = [
    ("rfc3501-login-select", crlf(b"a001 CAPABILITY", b"a002 LOGIN SMITH SESAME",
                                  b"A142 SELECT INBOX", b"A932 EXAMINE blurdybloop",
                                  b"a003 LOGOUT")),
    ("rfc3501-fetch", crlf(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])",
                           b"a FETCH 1 ALL", b"a FETCH 1:* FAST", b"a FETCH * FULL",
                           b"A999 UID FETCH 4827313:4828442 FLAGS",
                           b"a FETCH 1 (UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)")),
    ("rfc3501-store", crlf(b"A003 STORE 2:4 +FLAGS (\\Deleted)",
                           b"a STORE 1 -FLAGS.SILENT (\\Seen \\Answered $Label1)",
                           b"a UID STORE 1:* FLAGS \\Flagged \\Draft",
                           b"a STORE 1 +FLAGS (\\Recent)", b"a STORE 1 FLAGS (\\Foo)",
                           b"a STORE 1 FLAGS (kw KW Kw)", b"a STORE 1 FLAGS ()")),
    ("rfc3501-append", b"A003 APPEND saved-messages (\\Seen) {310}\r\n"
     + crlf(b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)",
            b"From: Fred Foobar <foobar@Blurdybloop.COM>",
            b"Subject: afternoon meeting",
            b"To: mooch@owatagu.siam.edu",
            b"Message-Id: <B27397-0100000@Blurdybloop.COM>",
            b"MIME-Version: 1.0",
            b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
            b"",
            b"Hello Joe, do you think we can meet at 3:30 tomorrow?",
            b"")),
    ("append-date-literal-plus", b"a APPEND INBOX (\\Draft) \" 7-Jul-1996 02:44:25 -0700\" {11+}\r\n"
     b"Subject: x\n\r\n"),
    ("append-literal8", b"a APPEND INBOX ~{5+}\r\nab\x00cd\r\nb NOOP\r\n"),
    ("sync-literals-login", b"a LOGIN {5}\r\nsmith {6}\r\nsesame\r\nb LOGIN {0}\r\n {0}\r\n\r\n"),
    ("nonsync-literals", b"a LOGIN {5+}\r\nsmith {6+}\r\nsesame\r\nb SELECT {5+}\r\nINBOX\r\n"),
    ("literal-too-large-sync", b"a LOGIN {70000}\r\nb NOOP\r\n"),
    ("literal-too-large-nonsync", b"a LOGIN {20+}\r\n01234567890123456789 x\r\nb NOOP\r\n"),
    ("literal-huge-sizes", crlf(b"a APPEND INBOX {4294967295}", b"b APPEND INBOX {4294967296}",
                                b"c APPEND INBOX {99999999999999999999999}", b"d NOOP")),
    ("literal-huge-nonsync-fatal", b"a APPEND INBOX {4294967296+}\r\nxxxx\r\nb NOOP\r\n"),
    ("append-big-literal", b"a APPEND INBOX {52428800+}\r\nSubject: big\r\n\r\nbody"),
    ("append-too-big-literal", b"a APPEND INBOX {52428801+}\r\nSubject: big\r\n\r\nbody"),
    ("literal-bad-headers", crlf(b"a LOGIN {}", b"b LOGIN {+}", b"c LOGIN {5", b"d LOGIN {5}x",
                                 b"e LOGIN {5+x}", b"f LOGIN ~x", b"g LOGIN ~{x}", b"h NOOP")),
    ("literal-header-cr-only", b"a LOGIN {3}\rabc\r\nb NOOP\r\n"),
    ("skip-line-with-nonsync", b"a LOGIN \x01 {3+}\r\nabc\r\nb NOOP\r\n"),
    ("nested-lists", crlf(b"a FETCH 1 (FLAGS (UID (BODY[] (INTERNALDATE))))",
                          b"b X " + b"(" * 33 + b")" * 33,
                          b"c X ((a b) (c (d \"e\" {0+}", b") NIL) nil)",
                          b"d X ())", b"e X (()")),
    ("body-sections", crlf(b"a FETCH 1 BODY[1.2.3.MIME]",
                           b"a FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (\"X-A\" Y)]<10.20>",
                           b"a FETCH 1 (BODY[]<0.4294967295> BODY[TEXT]<4294967296.1>)",
                           b"a FETCH 1 (BODY[0] BODY[1.] BODY[MIME] BODY[01] BODY[]<1.0>)",
                           b"a FETCH 1 BODY[HEADER.FIELDS ()]",
                           b"a FETCH 1 BODY[HEADER.FIELDS (\"a]b\" \"c[d\" \"e\\\"f\")]",
                           b"a FETCH 1 body.peek[header.fields (from to)]<0.1>",
                           b"a FETCH 1 BODY[[]]", b"a FETCH 1 BODY[HEADER]x",
                           b"a FETCH 1 RFC822.HEADER RFC822.TEXT")),
    ("bracket-atoms", crlf(b"a SELECT [Gmail]/Sent", b"b SELECT a[", b"c SELECT a]b",
                           b"d LIST \"\" [x y] z", b"e SEARCH HEADER \"[\" x")),
    ("sequence-sets", crlf(b"a FETCH 1:* FLAGS", b"a FETCH $ FLAGS", b"a FETCH 4294967295 UID",
                           b"a FETCH 0 UID", b"a FETCH 1,2,,3 UID", b"a FETCH *:4,2:1 UID",
                           b"a FETCH 4294967296 UID", b"a FETCH 01 UID", b"a FETCH 1:2:3 UID",
                           b"a FETCH 1, UID", b"a UID FETCH 1:4294967295,7,3:5 UID",
                           b"a SEARCH 2,4:7,9,12:*", b"a FETCH * UID")),
    ("idle-done", b"a IDLE\r\nDONE\r\nb IDLE\r\ndone\r\nc NOOP\r\nd IDLE\r\nx\ny\r\nDONE\n"),
    ("authenticate", b"a AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0\r\nb AUTHENTICATE PLAIN "
     b"AGZyZWQAc2VjcmV0\r\nc AUTHENTICATE PLAIN\r\n*\r\n"),
    ("authenticate-long-line", b"a AUTHENTICATE PLAIN\r\n" + b"QUFB" * 300 + b"\r\nb NOOP\r\n"),
    ("mutf7-names", crlf(b"a CREATE &ZeVnLIqe-", b"a CREATE ~peter/mail/&U,BTFw-/&ZeVnLIqe-",
                         b"a CREATE &AOk-t&AOk-", b"a CREATE &Jjo-!", b"a CREATE &-&-",
                         b"a CREATE &AGE-", b"a CREATE &2D3cAA-", b"a CREATE &2D3-",
                         b"a CREATE \"\xc3\xa9t\xc3\xa9\"", b"a RENAME inbox INBOX/child")),
    ("dates", crlf(b"a SEARCH SINCE 1-Feb-1994", b"a SEARCH BEFORE 29-Feb-1900",
                   b"a SEARCH ON 29-feb-2000", b"a SEARCH ON 31-Apr-2000",
                   b"a APPEND x \"17-Jul-1996 02:44:25 -0700\" {0+}", b"",
                   b"a APPEND x \"31-Dec-9999 23:59:60 +0000\" {0+}", b"",
                   b"a APPEND x \" 1-Jan-0000 00:00:00 -9959\" {0+}", b"",
                   b"a APPEND x \"1-Jan-1970 24:00:00 +0000\" {0+}", b"")),
    ("list-status", crlf(b"a LIST \"\" *", b"a LIST \"\" %", b"a LSUB \"#news.\" \"comp.mail.*\"",
                         b"a STATUS blurdybloop (UIDNEXT MESSAGES)", b"a SUBSCRIBE #news.comp.mail.mime",
                         b"a NAMESPACE", b"a ID (\"name\" \"x\" \"version\" NIL)", b"a ID NIL")),
    ("copy-expunge", crlf(b"A003 COPY 2:4 MEETING", b"a UID COPY 1:* \"Sent Items\"",
                          b"a EXPUNGE", b"a CHECK", b"a CLOSE", b"a UID", b"a UID FETCH")),
    ("bad-tags", crlf(b"+ NOOP", b"* NOOP", b" NOOP", b"a", b"a ", b"a{ NOOP", b"a%b NOOP",
                      b"a\x80 NOOP", b"(x NOOP", b"b NOOP")),
    ("bad-names-and-atoms", crlf(b"a NO[OP", b"a NO\"OP", b"a FETCH 1 (FLAGS", b"a X \"unterminated",
                                 b"a X \"esc\\x\"", b"a X a\"b", b"a X a{b", b"a X ) b", b"z NOOP")),
    ("nul-bytes", b"a LOGIN \"us\x00er\" pass\r\nb X a\x00b\r\n\x00\r\nc X [\x00]\r\nd NOOP\r\n"),
    ("bare-lf", b"a CAPABILITY\nb LOGIN x y\nc FETCH 1 (BODY[HEADER.FIELDS (A B)])\n"),
    ("cr-without-lf", b"a NOOP\rb NOOP\r\nc X \"a\rb\"\r\nd NOOP\r\n"),
    ("blank-lines", b"\r\n\r\n\n\na NOOP\r\n\r\n\r\nb NOOP\r\n"),
    ("long-line", b"a X " + b"x" * 3000 + b"\r\nb NOOP\r\n"),
    ("long-quoted", b"a X \"" + b"q" * 2000 + b"\"\r\nb NOOP\r\n"),
    ("many-args", b"a X " + b" ".join([b"a"] * 800) + b"\r\nb NOOP\r\n"),
    ("tilde-atoms", crlf(b"a SELECT ~peter/mail", b"a SELECT ~", b"a SELECT ~~{1}", b"a X ~ ~ ~",
                         b"a X (~a ~{0+}", b")")),
    ("quoted-escapes", crlf(b"a LOGIN \"fred\\\\\" \"p\\\"w\"", b"a LOGIN \"\" \"\"",
                            b"a X \"\\", b"b NOOP")),
    ("8bit-quoted", crlf(b"a SELECT \"\xe2\x98\x83\"", b"a LOGIN \"\xff\xfe\" x")),
    ("pipelined-mixed", crlf(b"a1 NOOP", b"a2 BAD{", b"a3 LOGIN {3+}", b"abc x", b"a4 FETCH 1 (",
                             b"a5 FETCH 1 BODY[", b"a6 NOOP")),
    ("partial-end", b"a LOGIN {10}\r\nabc"),
    ("empty", b""),
]

# ---- POP3 (pop3) ---------------------------------------------------------------

POP3 = [
    ("rfc1939-session", crlf(b"USER mrose", b"PASS secret", b"STAT", b"LIST", b"RETR 1",
                             b"DELE 1", b"QUIT")),
    ("rfc1939-list-uidl", crlf(b"LIST 2", b"LIST 3", b"UIDL", b"UIDL 2", b"TOP 1 10",
                               b"NOOP", b"RSET")),
    ("capa", crlf(b"CAPA", b"capa", b"Capa x")),
    ("pass-spaces", crlf(b"USER fred", b"PASS  two  spaces ", b"PASS", b"PASS ")),
    ("apop-unknown", crlf(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb", b"AUTH PLAIN", b"STLS")),
    ("bad-numbers", crlf(b"RETR 0", b"RETR 4294967295", b"RETR 4294967296", b"DELE abc",
                         b"TOP 1", b"TOP 1 -1", b"TOP 1 2 3", b"LIST 00001", b"RETR 99999999999",
                         b"RETR +1", b"TOP 4294967295 4294967295")),
    ("spaces", crlf(b" USER x", b"USER  x", b"USER x y", b"STAT ", b"LIST  1  ", b"   ")),
    ("long-line", b"USER " + b"u" * 1100 + b"\r\nSTAT\r\n"),
    ("exact-limit", b"PASS " + b"p" * 1019 + b"\r\nPASS " + b"p" * 1020 + b"\r\nNOOP\r\n"),
    ("bare-lf", b"USER a\nPASS b\nSTAT\n"),
    ("cr-inside", b"USER a\rb\r\nPASS \r\r\nQUIT\r\n"),
    ("nul", b"USER a\x00b\r\n\x00\r\nPASS \x00\r\n"),
    ("8bit", b"USER \xc3\xa9\r\nPASS \xff\r\n"),
    ("no-final-newline", b"USER a\r\nPASS b"),
    ("empty-lines", b"\r\n\n\r\n"),
    ("lowercase", crlf(b"user x", b"pass y", b"stat", b"retr 1", b"quit")),
    ("message-dots", crlf(b"From: a", b"Subject: dots", b"", b".", b"..", b".x", b"a.", b"") + b"."),
    ("message-no-body", crlf(b"From: a", b"Subject: no body")),
    ("message-leading-blank", b"\r\nbody only\r\n.\r\n"),
    ("message-bare-lf", b"From: a\n\n.\nline\n.\n"),
    ("message-cr", b"a\rb\r\r\n.\r"),
    ("message-crlf-dot-crlf", crlf(b"Subject: t", b"", b"a", b".", b"b")),
    ("top-counts", crlf(b"TOP 1 0", b"TOP 1 1", b"TOP 2 4294967295", b"TOP 1 01", b"TOP 1 +1")),
    ("uidl-list-forms", crlf(b"UIDL 1 2", b"UIDL 0", b"LIST 4294967295", b"LIST x", b"UIDL  ")),
    ("quit-args", crlf(b"QUIT x", b"NOOP 1", b"RSET  ", b"STAT\t", b"CAPA\x00")),
    ("tab-separated", b"USER\tfred\r\nRETR\t1\r\nTOP 1\t2\r\n"),
    ("crlf-split", b"US\rER a\r\r\n\rPASS b\r\n"),
    ("pipelined-long", b"".join(b"RETR %d\r\n" % i for i in range(1, 200))),
    ("many-spaces", b"TOP" + b" " * 1000 + b"1 2\r\n"),
    ("long-then-short", b"X" * 1030 + b"\nSTAT\n" + b"Y" * 1025 + b"\r\nNOOP\r\n"),
    ("empty", b""),
]

# ---- LMTP (lmtp) ---------------------------------------------------------------

LMTP = [
    ("rfc2033-example", crlf(b"LHLO foo.edu", b"MAIL FROM:<chris@bar.com>",
                             b"RCPT TO:<pat@foo.edu>", b"RCPT TO:<jones@foo.edu>",
                             b"RCPT TO:<green@foo.edu>", b"DATA", b"Subject: hi", b"",
                             b"Blah blah blah...", b"...etc. etc. etc.", b".", b"QUIT")),
    ("null-sender-size", crlf(b"LHLO x", b"MAIL FROM:<> SIZE=1000 BODY=8BITMIME",
                              b"RCPT TO:<a@example.org> NOTIFY=NEVER", b"DATA", b"x", b".",
                              b"RSET")),
    ("size-params", crlf(b"MAIL FROM:<a@b> SIZE=", b"MAIL FROM:<a@b> SIZE=abc",
                         b"MAIL FROM:<a@b> SIZE=99999999999999999999",
                         b"MAIL FROM:<a@b> SIZE=9999999999999999999", b"MAIL FROM:<a@b> =x",
                         b"MAIL FROM:<a@b> X_Y=1", b"MAIL FROM:<a@b>SIZE=1")),
    ("paths", crlf(b"RCPT TO:<\"john doe\"@example.org>", b"RCPT TO:<@a,@b:user@d>",
                   b"RCPT TO:<@a>", b"RCPT TO: <x@example.com>", b"RCPT TO:user",
                   b"RCPT TO:<>", b"RCPT TO:<a\"@b\"@example.org>", b"RCPT TO:<\"a\\\">\"@x>",
                   b"RCPT TO:<a@EXAMPLE.COM.>", b"RCPT TO:<a@>", b"RCPT TO:<@>",
                   b"rcpt to:<Mixed.Case@Example.Org>", b"RCPT TO:<a@other.net>",
                   b"RCPT TO:<a", b"RCPT TO:<a>x", b"RCPT", b"RCPT FROM:<a>")),
    ("helo-ehlo", crlf(b"HELO x", b"EHLO x", b"LHLO", b"LHLO   ", b"LHLO  spaced  ",
                       b"VRFY postmaster", b"HELP", b"NOOP x", b"DATA x", b"QUIT now", b"BDAT 1")),
    ("data-dots", crlf(b"DATA", b"..leading dot", b".", b"DATA", b"", b"..") + b".\r\n"),
    ("data-empty", b"DATA\r\n.\r\nNOOP\r\n"),
    ("data-bare-lf-smuggling", b"DATA\r\nSubject: a\r\n\n.\nMAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n"),
    ("data-cr-tricks", b"DATA\r\na\r.\r\n.\rb\r\n.\r\r\n\r.\r\n.\r\n"),
    ("data-dot-cr-lf-split", b"DATA\r\nline\r\n.\r"),
    ("data-unterminated", b"DATA\r\nSubject: never ends\r\n\r\nbody\r\n"),
    ("data-too-big", b"DATA\r\n" + b"0123456789abcdef0123456789\r\n" * 3 + b".\r\nQUIT\r\n"),
    ("data-nul", b"DATA\r\na\x00b\r\n\x00\r\n.\r\n"),
    ("two-transactions", crlf(b"LHLO h", b"MAIL FROM:<a@b>", b"RCPT TO:<c@example.org>", b"DATA",
                              b"one", b".", b"MAIL FROM:<d@e>", b"RCPT TO:<f@example.org>",
                              b"DATA", b"two", b".", b"QUIT")),
    ("long-line", b"LHLO " + b"h" * 3500 + b"\r\nNOOP\r\n"),
    ("bare-lf-commands", b"LHLO x\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\nbody\n.\n"),
    ("control-in-address", b"RCPT TO:<a\x01b@example.org>\r\nMAIL FROM:<a\x7f>\r\n"
     b"LHLO a\rb\r\nMAIL FROM:<x\x00y@z>\r\n"),
    ("trace-injection", b"LHLO evil\rReceived: x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@example.org>\r\n"),
    ("8bit", b"LHLO \xc3\xa9\r\nMAIL FROM:<\xff@b>\r\nRCPT TO:<\xc3\xa9@example.org>\r\n"),
    ("quoted-locals", crlf(b"RCPT TO:<\"a b\"@example.org>", b"RCPT TO:<\"a@b\"@example.org>",
                           b"RCPT TO:<\"\">", b"RCPT TO:<\"\\\"\"@x>", b"RCPT TO:<\"unterminated@x>",
                           b"RCPT TO:<a\\@b@example.org>", b"RCPT TO:\"q\"@example.org")),
    ("domain-case", crlf(b"RCPT TO:<User@EXAMPLE.ORG>", b"RCPT TO:<user@example.org..>",
                         b"RCPT TO:<user@xn--bcher-kva.example>", b"RCPT TO:<user@sub.example.org>",
                         b"RCPT TO:<user@@example.org>", b"RCPT TO:<user@example.org@evil>")),
    ("params", crlf(b"MAIL FROM:<a@b> BODY=8BITMIME SMTPUTF8", b"MAIL FROM:<a@b>  SIZE=5  ",
                    b"RCPT TO:<c@example.org> ORCPT=rfc822;c@example.org",
                    b"MAIL FROM:<a@b> SIZE=1 SIZE=2", b"MAIL FROM:<a@b> s\xffze=1",
                    b"MAIL FROM:a@b SIZE=3", b"MAIL FROM:")),
    ("data-terminator-split", b"DATA\r\nbody\r\n.\r\nDATA\r\n.\r\n.\r\n"),
    ("data-stuffed-terminator", b"DATA\r\n..\r\n...\r\n. \r\n .\r\n.\r\n"),
    ("data-exact-limit", b"DATA\r\n" + b"x" * 14 + b"\r\n.\r\nDATA\r\n" + b"x" * 15 + b"\r\n.\r\n"),
    ("data-bare-cr-lf", b"DATA\r\n\r\r\n.\n\r.\r\n\n.\r\n.\r\n"),
    ("data-then-pipelined", b"DATA\r\nx\r\n.\r\nRSET\r\nQUIT\r\n"),
    ("long-address", b"RCPT TO:<" + b"a" * 3000 + b"@example.org>\r\n"),
    ("empty", b""),
]

# ---- BODY[section] extraction (imap_section) ----------------------------------

MSG = crlf(b"Return-Path: <a@example.org>", b"Received: from x", b"\tby y; Mon, 1 Jan 2024",
           b"From: Fred <fred@example.org>", b"To: joe@example.org", b"Subject: hello",
           b" continued subject", b"Content-Type: text/plain; charset=us-ascii", b"",
           b"Hello Joe.", b"", b"-- ", b"Fred")
MULTI = crlf(b"From: a@b", b"MIME-Version: 1.0",
             b"Content-Type: multipart/mixed; boundary=\"xyz\"", b"", b"--xyz",
             b"Content-Type: text/plain", b"", b"part one", b"--xyz",
             b"Content-Type: message/rfc822", b"", b"Subject: inner", b"", b"inner body",
             b"--xyz--")

SECTION = [
    ("whole", b"BODY[]\n" + MSG),
    ("header", b"BODY[HEADER]\n" + MSG),
    ("text", b"BODY.PEEK[TEXT]<0.5>\n" + MSG),
    ("fields", b"BODY[HEADER.FIELDS (FROM SUBJECT)]\n" + MSG),
    ("fields-not", b"BODY[HEADER.FIELDS.NOT (RECEIVED \"Return-Path\")]\n" + MSG),
    ("fields-quoted", b"BODY[HEADER.FIELDS (\"to\" content-type)]\n" + MSG),
    ("part1", b"BODY[1]\n" + MSG),
    ("part1-mime", b"BODY[1.MIME]\n" + MSG),
    ("part2", b"BODY[2]\n" + MSG),
    ("multipart-part1", b"BODY[1]\n" + MULTI),
    ("multipart-mime", b"BODY[1.MIME]\n" + MULTI),
    ("multipart-nested", b"BODY[2.1.HEADER]\n" + MULTI),
    ("leading-crlf", b"BODY[HEADER]\n\r\nbody only\r\n\r\nmore\r\n"),
    ("leading-blank-line-twice", b"BODY[TEXT]\n\r\n\r\nX"),
    ("no-header-end", b"BODY[TEXT]\n" + crlf(b"From: a", b"Subject: b")),
    ("no-crlf-at-all", b"BODY[HEADER]\nFrom: a"),
    ("bare-lf-message", b"BODY[HEADER.FIELDS (FROM)]\nFrom: a\nTo: b\n\nbody\n"),
    ("continuation-first", b"BODY[HEADER.FIELDS (FROM)]\n" + crlf(b" leading", b"From: x",
                                                                    b"\tmore", b"", b"b")),
    ("space-before-colon", b"BODY[HEADER.FIELDS (SUBJECT)]\n" + crlf(b"Subject : spaced",
                                                                      b"Subject\t: tab",
                                                                      b"Subject", b"", b"")),
    ("no-colon", b"BODY[HEADER.FIELDS.NOT (X)]\n" + crlf(b"garbage line", b"X: y", b"", b"")),
    ("empty-message", b"BODY[HEADER]\n"),
    ("only-spec", b"BODY[HEADER]"),
    ("nul-bytes", b"BODY[TEXT]\n" + b"From: a\x00b\r\n\r\n\x00\r\n"),
    ("cr-only", b"BODY[HEADER]\nFrom: a\r\rTo: b\r\r\r\n\r\n"),
    ("partial", b"BODY[]<4294967295.4294967295>\n" + MSG),
    ("bad-spec", b"BODY[1.]\n" + MSG),
]


# ---- mime: whole messages for the MIME engine --------------------------------

def nested(depth):
    """multipart/mixed nested `depth` deep, each level with one text part."""
    out = b""
    for i in range(depth):
        out += b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
    out += b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    for i in reversed(range(depth)):
        out += b"--b%d--\r\n" % i
    return out


MIME = [
    ("plain", MSG),
    ("alternative", crlf(b"From: =?UTF-8?B?w4lsb2TDqWU=?= <e@example.org>", b"To: a@b, \"Q, R\" <q@r>",
                         b"Subject: =?iso-8859-1?q?caf=E9?= x", b"MIME-Version: 1.0",
                         b'Content-Type: multipart/alternative; boundary="alt"', b"",
                         b"preamble", b"--alt", b"Content-Type: text/plain; charset=utf-8",
                         b"Content-Transfer-Encoding: quoted-printable", b"", b"caf=C3=A9=", b" soft",
                         b"--alt", b"Content-Type: text/html", b"Content-Transfer-Encoding: base64", b"",
                         b"PGI+aGk8L2I+", b"--alt--", b"epilogue")),
    ("rfc822-inside", crlf(b"Subject: fwd", b"Content-Type: multipart/mixed; boundary=m", b"",
                           b"--m", b"Content-Type: message/rfc822", b"",
                           b"From: inner@x", b"Subject: inner", b"Content-Type: multipart/mixed; boundary=n",
                           b"", b"--n", b"", b"inner body", b"--n", b"Content-Type: application/pdf; name*0=a;",
                           b" name*1*=utf-8''%E2%82%AC.pdf", b"Content-Disposition: attachment; filename=a.pdf",
                           b"Content-Language: en, de", b"Content-Location: http://x/", b"Content-MD5: abc",
                           b"", b"JVBERi0=", b"--n--", b"--m--")),
    ("digest", crlf(b"Content-Type: multipart/digest; boundary=d", b"", b"--d", b"", b"Subject: in digest",
                    b"", b"text", b"--d--")),
    ("missing-close", crlf(b"Content-Type: multipart/mixed; boundary=x", b"", b"--x", b"", b"a", b"--x", b"",
                           b"b (no closing boundary)")),
    ("wrong-boundary", crlf(b"Content-Type: multipart/mixed; boundary=x", b"", b"--y", b"", b"a", b"--y--")),
    ("empty-boundary", crlf(b'Content-Type: multipart/mixed; boundary=""', b"", b"--", b"", b"--")),
    ("bare-lf", b"Subject: lf\nContent-Type: multipart/mixed; boundary=z\n\n--z\n\nx\n--z--\n"),
    ("no-body", b"Subject: only a header"),
    ("empty", b""),
    ("8bit-header", crlf(b"Subject: \xe9t\xe9 \xff", b"From: \xc3\xa9 <a@b>", b"", b"\x00\x80\xff")),
    ("long-header-line", crlf(b"Subject: " + b"x" * 3000, b"", b"b")),
    ("duplicate-headers", crlf(b"Content-Type: text/plain", b"Content-Type: text/html", b"Subject: 1",
                               b"Subject: 2", b"", b"b")),
    ("groups-and-routes", crlf(b"From: Group: a@b, c@d;, <@r1,@r2:e@f>", b"To: undisclosed-recipients:;",
                               b"Cc: (comment) \"quoted \\\" name\" <x@[1.2.3.4]>", b"Date: bogus", b"",
                               b"")),
    ("deep-nesting", nested(60)),
    ("params-rfc2231", crlf(b"Content-Type: text/plain; title*=us-ascii'en'This%20is; a*0*=x; a*1=y;"
                            b" charset=\"utf-8\"; ;;=", b"", b"z")),
]

# ---- config: postern.conf texts ----------------------------------------------

CONFIG = [
    ("default", open(os.path.join(HERE, "..", "..", "conf", "postern.conf"), "rb").read()),
    ("listeners", b"listener.corp.protocol = imap\nlistener.corp.address = 127.0.0.1:0\n"
                  b"listener.corp.max_connections = 50\nlistener.corp.allow = 10.0.0.0/8, ::1/128\n"),
    ("limits", b"limits.max_connections = 25000\nlimits.max_connections_per_ip = 0\n"
               b"imap.listen = [::1]:143, 127.0.0.1:0\n"),
    ("bad-values", b"imap.workers = -1\nlimits.max_connections = 99999999999999999999\n"
                   b"imap.listen = nohost\nlog.level = loud\n"),
    ("unknown-key", b"no.such.key = 1\n"),
    ("continuations", b"access.deny = 10.0.0.0/8, \\\n  192.168.0.0/16\n# comment\n! bang comment\n"),
    ("no-equals", b"just some words\n= value only\nkey only =\n"),
    ("unicode", b"hostname = m\xc3\xa4il.example\nlmtp.accepted_domains = \xff\xfe\n"),
    ("nul", b"hostname = a\x00b\n"),
    ("empty", b""),
]


# ---- sasl: mechanism, initial response ("-": none), client responses --------

def b64(data):
    return base64.b64encode(data)


def scram_exchange(mech, user=b"user", password=b"pencil", plus=False, wrong=False):
    """A complete SCRAM exchange against sasl_fuzz.cc's fixed salt and server nonce."""
    algo = "sha1" if "SHA-1" in mech else "sha256"
    gs2 = b"p=tls-unique,," if plus else b"n,,"
    cnonce = b"clientnonce"
    first_bare = b"n=" + user + b",r=" + cnonce
    nonce = cnonce + b"srvnonce"
    server_first = b"r=" + nonce + b",s=" + b64(b"saltsalt") + b",i=4096"
    cbind = gs2 + (b"tls-unique-binding-data" if plus else b"")
    final_bare = b"c=" + b64(cbind) + b",r=" + nonce
    salted = hashlib.pbkdf2_hmac(algo, password, b"saltsalt", 4096)
    client_key = hmac.new(salted, b"Client Key", algo).digest()
    stored_key = hashlib.new(algo, client_key).digest()
    auth = first_bare + b"," + server_first + b"," + final_bare
    sig = hmac.new(stored_key, auth, algo).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    if wrong:
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    final = final_bare + b",p=" + b64(proof)
    return b"\n".join([mech.encode(), b64(gs2 + first_bare), b64(final), b""])


SASL = [
    ("plain-ir", b"PLAIN\n" + b64(b"\0user\0pencil")),
    ("plain-authzid", b"PLAIN\n" + b64(b"admin\0user\0pencil")),
    ("plain-wrong", b"PLAIN\n" + b64(b"\0user\0wrong")),
    ("plain-no-ir", b"PLAIN\n-\n" + b64(b"\0user\0pencil")),
    ("plain-empty-ir", b"PLAIN\n=\n" + b64(b"\0user\0pencil")),
    ("plain-cancel", b"PLAIN\n-\n*"),
    ("plain-bad-base64", b"PLAIN\n!!!!"),
    ("login", b"LOGIN\n-\n" + b64(b"user") + b"\n" + b64(b"pencil")),
    ("login-ir", b"login\n" + b64(b"user") + b"\n" + b64(b"pencil")),
    ("scram-sha-256", scram_exchange("SCRAM-SHA-256")),
    ("scram-sha-1", scram_exchange("SCRAM-SHA-1")),
    ("scram-sha-256-plus", scram_exchange("SCRAM-SHA-256-PLUS", plus=True)),
    ("scram-wrong-proof", scram_exchange("SCRAM-SHA-256", wrong=True)),
    ("scram-unknown-user", scram_exchange("SCRAM-SHA-1", user=b"nobody")),
    ("scram-escaped-name", scram_exchange("SCRAM-SHA-256", user=b"us=2Cer=3D")),
    ("scram-no-ir", b"SCRAM-SHA-256\n-\n" + b64(b"n,,n=user,r=abc")),
    ("scram-bad-gs2", b"SCRAM-SHA-256\n" + b64(b"y,a=other,n=user,r=abc")),
    ("external", b"EXTERNAL\n="),
    ("external-authzid", b"EXTERNAL\n" + b64(b"user")),
    ("unknown-mech", b"CRAM-MD5\n-"),
]

# ---- regressions: inputs that once failed (see README.md "Findings") ---------

REGRESSIONS = {
    "imap_parser": [
        # parser.cc reserved the announced 50 MB on the first literal octet.
        ("regress-literal-reserve", b"a APPEND INBOX {52428800+}\r\nS"),
        # fetch.cc echoed field names with "[" "]" bare: BODY[HEADER.FIELDS (A]B)].
        ("regress-field-name-bracket", b"a FETCH 1 BODY[HEADER.FIELDS (\"a]b\" \"[\")]\r\n"),
        # ... and names over 1000 octets as a literal inside the brackets.
        ("regress-field-name-long",
         b"a FETCH 1 BODY.PEEK[HEADER.FIELDS (\"" + b"X" * 1001 + b"\")]\r\n"),
        # parser.cc let CR, LF and NUL of a field-name literal into the section atom.
        ("regress-field-name-literal-crlf",
         b"a FETCH 1 BODY.PEEK[HEADER.FIELDS (\"X\" {12+}\r\nSubject: x\r\n\x00)]\r\n"
         b"a FETCH 1 BODY.PEEK[HEADER.FIELDS ({3+}\r\na\r\n)]\r\n"),
    ],
    "imap_section": [
        # section.cc cut a header-less message at its first CRLF CRLF.
        ("regress-leading-crlf", b"BODY[TEXT]\n\r\n\r\nX"),
    ],
    "pop3": [],
    "lmtp": [],
    "mime": [],
    "config": [],
    "sasl": [],
}

TARGETS = {
    "imap_parser": IMAP,
    "imap_section": SECTION,
    "pop3": POP3,
    "lmtp": LMTP,
    "mime": MIME,
    "config": CONFIG,
    "sasl": SASL,
}


def main():
    for target, seeds in TARGETS.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.remove(os.path.join(d, old))
        entries = list(seeds) + list(REGRESSIONS[target])
        names = set()
        for i, (name, data) in enumerate(entries):
            if len(data) >= MAX_SEED:
                sys.exit(f"{target}/{name}: {len(data)} octets, seeds must stay under {MAX_SEED}")
            if name in names:
                sys.exit(f"{target}/{name}: duplicate name")
            names.add(name)
            with open(os.path.join(d, f"{i:03d}-{name}"), "wb") as f:
                f.write(data)
        print(f"{target}: {len(entries)} seeds")


if __name__ == "__main__":
    main()
