#include "policy/channel.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace lotto::policy {

namespace {

template <typename M> struct MsgTag {};
template <typename M> struct MsgTraits;
template <> struct MsgTraits<ReadyMsg> {
	static constexpr MsgType type = MsgType::Ready;
	static constexpr const char *what = "ready";
};
template <> struct MsgTraits<TickMsg> {
	static constexpr MsgType type = MsgType::Tick;
	static constexpr const char *what = "tick";
};
template <> struct MsgTraits<TickDoneMsg> {
	static constexpr MsgType type = MsgType::TickDone;
	static constexpr const char *what = "tick reply";
};
template <> struct MsgTraits<EvalMsg> {
	static constexpr MsgType type = MsgType::Eval;
	static constexpr const char *what = "eval";
};
template <> struct MsgTraits<EvalDoneMsg> {
	static constexpr MsgType type = MsgType::EvalDone;
	static constexpr const char *what = "eval reply";
};

// Every message stays within kMaxMessage and decodes: each text has a cap
// of its own (kMaxText: cut, "..." appended), the eval text takes at most
// half the message, and log lines take what is left (the rest counted as
// dropped). Nothing is cut in the middle of a field.
class Writer {
public:
	explicit Writer(MsgType t) { u32(uint32_t(t)); }
	void u32(uint32_t v) { raw(&v, sizeof(v)); }
	void u64(uint64_t v) { raw(&v, sizeof(v)); }
	void f64(double v) { raw(&v, sizeof(v)); }
	void flag(bool v) { u32(v); }
	void str(std::string_view s, size_t max = kMaxText)
	{
		if (s.size() > max) {
			u32(uint32_t(max));
			buf_.append(s.substr(0, max - 3));
			buf_.append("...");
			return;
		}
		u32(uint32_t(s.size()));
		buf_.append(s);
	}
	void error(const ErrorText &e)
	{
		u32(uint32_t(e.kind));
		str(e.message);
		str(e.traceback);
	}
	void groups(const std::vector<uint32_t> &g)
	{
		u32(uint32_t(std::min(g.size(), kMaxGroups)));
		for (size_t i = 0; i < g.size() && i < kMaxGroups; i++)
			u32(g[i]);
	}
	// last in a message: the first lines, as many as fit; the rest are
	// counted as dropped (never a later line after one that did not fit:
	// found by tests/fuzz/channel_fuzz)
	void logs(const std::vector<LogLine> &l, uint32_t dropped)
	{
		size_t at = buf_.size();
		u32(0);
		uint32_t n = 0;
		for (auto &x : l) {
			size_t len = std::min(x.text.size(), kMaxLogLine);
			if (n == kMaxLogLines || buf_.size() + 8 + len + 4 > kMaxMessage)
				break;
			u32(x.level);
			str(x.text, kMaxLogLine);
			n++;
		}
		dropped += uint32_t(l.size() - n);
		memcpy(buf_.data() + at, &n, sizeof(n));
		u32(dropped);
	}
	std::string done() { return std::move(buf_); }

private:
	void raw(const void *p, size_t n) { buf_.append(static_cast<const char *>(p), n); }
	std::string buf_;
};

// The same calls as Writer, filling the fields in.
class Reader {
public:
	Reader(std::string_view b, MsgType want) : p_(b.data()), end_(b.data() + b.size())
	{
		uint32_t t = 0;
		u32(t);
		if (t != uint32_t(want))
			ok_ = false;
	}
	void u32(uint32_t &v) { get(v); }
	void u64(uint64_t &v) { get(v); }
	void f64(double &v) { get(v); }
	void flag(bool &v)
	{
		uint32_t x = 0;
		get(x);
		v = x;
	}
	void str(std::string &s, size_t = kMaxText)
	{
		uint32_t n = 0;
		get(n);
		if (!ok_ || size_t(end_ - p_) < n) {
			ok_ = false;
			return;
		}
		s.assign(p_, n);
		p_ += n;
	}
	void error(ErrorText &e)
	{
		uint32_t kind = 0;
		u32(kind);
		e.kind = ErrorKind(kind);
		str(e.message);
		str(e.traceback);
	}
	void groups(std::vector<uint32_t> &g)
	{
		uint32_t n = 0;
		u32(n);
		if (n > kMaxGroups)
			ok_ = false;
		for (uint32_t i = 0; ok_ && i < n; i++)
			u32(g.emplace_back());
	}
	void logs(std::vector<LogLine> &l, uint32_t &dropped)
	{
		uint32_t n = 0;
		u32(n);
		if (n > kMaxLogLines)
			ok_ = false;
		for (uint32_t i = 0; ok_ && i < n; i++) {
			LogLine &x = l.emplace_back();
			u32(x.level);
			str(x.text);
		}
		u32(dropped);
	}
	bool ok() const { return ok_; }
	bool at_end() const { return p_ == end_; }

private:
	template <typename T> void get(T &v)
	{
		if (!ok_ || size_t(end_ - p_) < sizeof(T)) {
			ok_ = false;
			return;
		}
		memcpy(&v, p_, sizeof(T));
		p_ += sizeof(T);
	}
	const char *p_, *end_;
	bool ok_ = true;
};

// One field list per message, in wire order, for both directions: IO is a
// Writer (M const) or a Reader, so encode and decode cannot drift apart.
template <typename IO, typename M> void fields(IO &io, M &m, MsgTag<ReadyMsg>)
{
	io.flag(m.ok);
	io.error(m.error);
	io.str(m.name);
	io.u32(m.interval_ms);
	io.f64(m.budget_ms);
	io.str(m.description);
	io.u64(m.lua_bytes);
	io.logs(m.logs, m.logs_dropped);
}

template <typename IO, typename M> void fields(IO &io, M &m, MsgTag<TickMsg>)
{
	io.u32(m.slots_hw);
	io.u32(m.ncpus);
	io.u32(m.prev_idx);
	io.u32(m.prev_valid);
	io.f64(m.now);
	io.f64(m.wall);
	io.f64(m.prev_now);
	io.u64(m.tick_no);
}

template <typename IO, typename M> void fields(IO &io, M &m, MsgTag<TickDoneMsg>)
{
	io.flag(m.ok);
	io.error(m.error);
	io.u32(m.tasks);
	io.u32(m.assigned);
	io.u64(m.worker_ns);
	io.u64(m.lua_bytes);
	io.flag(m.restart);
	io.logs(m.logs, m.logs_dropped);
}

template <typename IO, typename M> void fields(IO &io, M &m, MsgTag<EvalMsg>)
{
	io.u64(m.id);
	io.flag(m.admin);
	io.u32(m.slots_hw);
	io.u32(m.budget_ms);
	io.u32(m.uid);
	io.u32(m.gid);
	io.groups(m.groups);
	io.str(m.expr, kMaxEvalText);
}

template <typename IO, typename M> void fields(IO &io, M &m, MsgTag<EvalDoneMsg>)
{
	io.u64(m.id);
	io.flag(m.ok);
	io.str(m.text, kMaxEvalText);
	io.logs(m.logs, m.logs_dropped);
}

template <typename M> std::string encode_msg(const M &m)
{
	Writer w(MsgTraits<M>::type);
	fields(w, m, MsgTag<M>{});
	return w.done();
}

template <typename M> Result<M> decode_msg(std::string_view buf)
{
	Reader r(buf, MsgTraits<M>::type);
	M m;
	fields(r, m, MsgTag<M>{});
	if (!r.ok() || !r.at_end())
		return err(std::string("malformed ") + MsgTraits<M>::what + " message from a policy worker");
	return m;
}

} // namespace

std::string encode(const ReadyMsg &m) { return encode_msg(m); }
std::string encode(const TickMsg &m) { return encode_msg(m); }
std::string encode(const TickDoneMsg &m) { return encode_msg(m); }
std::string encode(const EvalMsg &m) { return encode_msg(m); }
std::string encode(const EvalDoneMsg &m) { return encode_msg(m); }

std::optional<MsgType> msg_type(std::string_view buf)
{
	uint32_t t;
	if (buf.size() < sizeof(t))
		return std::nullopt;
	memcpy(&t, buf.data(), sizeof(t));
	return MsgType(t);
}

Result<ReadyMsg> decode_ready(std::string_view buf) { return decode_msg<ReadyMsg>(buf); }
Result<TickMsg> decode_tick(std::string_view buf) { return decode_msg<TickMsg>(buf); }
Result<TickDoneMsg> decode_tick_done(std::string_view buf) { return decode_msg<TickDoneMsg>(buf); }
Result<EvalMsg> decode_eval(std::string_view buf) { return decode_msg<EvalMsg>(buf); }
Result<EvalDoneMsg> decode_eval_done(std::string_view buf) { return decode_msg<EvalDoneMsg>(buf); }

Result<void> send_msg(int fd, const std::string &buf)
{
	for (;;) {
		ssize_t n = send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
		if (n == ssize_t(buf.size()))
			return {};
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err(std::string("policy channel: send: ") + strerror(errno));
		return err("policy channel: short send");
	}
}

Result<std::string> recv_msg(int fd, bool nonblocking)
{
	std::string buf(kMaxMessage + 1, '\0');
	for (;;) {
		ssize_t n = recv(fd, buf.data(), buf.size(), nonblocking ? MSG_DONTWAIT : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err(std::string("policy channel: recv: ") + strerror(errno));
		buf.resize(size_t(n));
		return buf;
	}
}

} // namespace lotto::policy
