// channel_fuzz.cpp — libFuzzer target for the policy channel (issue 9).
//
// A policy worker runs untrusted Lua; under --unsafe-policies it may write
// anything on its channel to the root host. Two ways in, chosen by the
// first input byte:
//  * bytes as a message: every decoder must refuse it or decode it without
//    crashing or undefined behaviour; a message one decoder accepts,
//    encoded again, is within kMaxMessage and decodes again, and a second
//    round changes nothing (encoding is a fixed point after one pass);
//  * a message built from the bytes (texts of any length, any number of
//    log lines and groups): its encoding is within kMaxMessage and decodes,
//    with every field equal up to the documented caps.
// Built by tests/fuzz/clang/CMakeLists.txt with clang++-19
// -fsanitize=fuzzer,address,undefined; run by ctest as fuzz.channel.
#include "policy/channel.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

using namespace lotto;
using namespace lotto::policy;

namespace {

[[noreturn]] void fail(const char *what, const std::string &detail = "")
{
	fprintf(stderr, "channel_fuzz: %s %s\n", what, detail.substr(0, 300).c_str());
	abort();
}

// re-encode what a decoder accepted: within the limit, decodes, stable
template <typename M, typename D> void round_trip(const M &m, D decode, const char *what)
{
	std::string a = encode(m);
	if (a.size() > kMaxMessage)
		fail("an encoded message is over kMaxMessage:", what);
	auto back = decode(a);
	if (!back)
		fail("an encoded message does not decode:", what);
	if (encode(*back) != a)
		fail("encoding is not stable:", what);
}

void raw(std::string_view b)
{
	(void)msg_type(b);
	if (auto m = decode_ready(b))
		round_trip(*m, decode_ready, "ready");
	if (auto m = decode_tick(b))
		round_trip(*m, decode_tick, "tick");
	if (auto m = decode_tick_done(b))
		round_trip(*m, decode_tick_done, "tick done");
	if (auto m = decode_eval(b))
		round_trip(*m, decode_eval, "eval");
	if (auto m = decode_eval_done(b))
		round_trip(*m, decode_eval_done, "eval done");
	uint32_t k = 0;
	memcpy(&k, b.data(), std::min(b.size(), sizeof(k)));
	(void)to_string(ErrorKind(k));	// any value names something
}

// A tiny reader of the fuzz input for building messages.
struct Bytes {
	std::string_view in;
	uint32_t u32()
	{
		uint32_t v = 0;
		size_t n = std::min(in.size(), sizeof(v));
		memcpy(&v, in.data(), n);
		in.remove_prefix(n);
		return v;
	}
	// a length, mostly small, sometimes over every cap (`huge`: a mask)
	std::string text(uint32_t huge = 0x1ffff)
	{
		uint32_t len = u32();
		len = (len & 0x80000000u) ? (len & huge) : (len & 0x3ff);
		std::string s(len, char('a' + (len % 26)));
		size_t n = std::min<size_t>(in.size(), std::min<size_t>(len, 64));
		memcpy(s.data(), in.data(), n);
		in.remove_prefix(n);
		return s;
	}
};

std::string capped(const std::string &s, size_t max)
{
	return s.size() > max ? s.substr(0, max - 3) + "..." : s;
}

void structured(std::string_view b)
{
	Bytes in{b};
	TickDoneMsg t;
	t.ok = in.u32() & 1;
	t.error.kind = ErrorKind(in.u32() % 11);
	t.error.message = in.text();
	t.error.traceback = in.text();
	t.tasks = in.u32();
	uint32_t nlogs = in.u32() % 400;
	for (uint32_t i = 0; i < nlogs; i++)
		t.logs.push_back(LogLine{in.u32() % 5, in.text(0x1fff)});
	t.logs_dropped = in.u32() % 1000;
	std::string e = encode(t);
	if (e.size() > kMaxMessage)
		fail("a tick reply is over kMaxMessage", std::to_string(e.size()));
	auto d = decode_tick_done(e);
	if (!d)
		fail("a tick reply does not decode");
	if (d->error.message != capped(t.error.message, kMaxText) ||
	    d->error.traceback != capped(t.error.traceback, kMaxText) || d->tasks != t.tasks)
		fail("a tick reply's fields changed beyond their caps");
	if (d->logs.size() + d->logs_dropped != t.logs.size() + t.logs_dropped || d->logs.size() > kMaxLogLines)
		fail("log lines were lost without being counted");
	for (size_t i = 0; i < d->logs.size(); i++)
		if (d->logs[i].text != capped(t.logs[i].text, kMaxLogLine) || d->logs[i].level != t.logs[i].level)
			fail("a log line changed beyond its cap");

	EvalMsg q;
	q.id = in.u32();
	q.admin = in.u32() & 1;
	q.uid = in.u32();
	uint32_t ng = in.u32() % 600;
	for (uint32_t i = 0; i < ng; i++)
		q.groups.push_back(in.u32());
	q.expr = in.text();
	auto qd = decode_eval(encode(q));
	if (!qd || qd->id != q.id || qd->uid != q.uid || qd->expr != capped(q.expr, kMaxEvalText) ||
	    qd->groups.size() != std::min(q.groups.size(), kMaxGroups))
		fail("an eval request does not round-trip");

	EvalDoneMsg r;
	r.id = in.u32();
	r.ok = in.u32() & 1;
	r.text = in.text();
	auto rd = decode_eval_done(encode(r));
	if (!rd || rd->id != r.id || rd->ok != r.ok || rd->text != capped(r.text, kMaxEvalText))
		fail("an eval reply does not round-trip");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	std::string_view in(reinterpret_cast<const char *>(data) + 1, size - 1);
	if (data[0] & 1)
		structured(in);
	else
		raw(in);
	return 0;
}
