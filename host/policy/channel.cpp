#include "policy/channel.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace lotto::policy {

const char *to_string(ErrorKind k)
{
	switch (k) {
	case ErrorKind::None: return "none";
	case ErrorKind::File: return "file";
	case ErrorKind::Compile: return "compile";
	case ErrorKind::Policy: return "policy";
	case ErrorKind::Init: return "init";
	case ErrorKind::Tick: return "tick";
	case ErrorKind::Memory: return "memory";
	case ErrorKind::Timeout: return "timeout";
	case ErrorKind::Crash: return "crash";
	case ErrorKind::Eval: return "eval";
	case ErrorKind::Internal: return "internal";
	}
	return "?";
}

namespace {

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

class Reader {
public:
	Reader(std::string_view b, MsgType want) : p_(b.data()), end_(b.data() + b.size())
	{
		if (u32() != uint32_t(want))
			ok_ = false;
	}
	uint32_t u32() { return get<uint32_t>(); }
	uint64_t u64() { return get<uint64_t>(); }
	double f64() { return get<double>(); }
	std::string str()
	{
		uint32_t n = u32();
		if (!ok_ || size_t(end_ - p_) < n) {
			ok_ = false;
			return {};
		}
		std::string s(p_, n);
		p_ += n;
		return s;
	}
	ErrorText error()
	{
		ErrorText e;
		e.kind = ErrorKind(u32());
		e.message = str();
		e.traceback = str();
		return e;
	}
	void logs(std::vector<LogLine> &l, uint32_t &dropped)
	{
		uint32_t n = u32();
		if (n > kMaxLogLines)
			ok_ = false;
		for (uint32_t i = 0; ok_ && i < n; i++) {
			LogLine x;
			x.level = u32();
			x.text = str();
			l.push_back(std::move(x));
		}
		dropped = u32();
	}
	bool ok() const { return ok_; }
	bool at_end() const { return p_ == end_; }

private:
	template <typename T> T get()
	{
		T v{};
		if (!ok_ || size_t(end_ - p_) < sizeof(T)) {
			ok_ = false;
			return v;
		}
		memcpy(&v, p_, sizeof(T));
		p_ += sizeof(T);
		return v;
	}
	const char *p_, *end_;
	bool ok_ = true;
};

template <typename T> Result<T> finish(const Reader &r, T v, const char *what)
{
	if (!r.ok() || !r.at_end())
		return err(std::string("malformed ") + what + " message from a policy worker");
	return v;
}

} // namespace

std::string encode(const ReadyMsg &m)
{
	Writer w(MsgType::Ready);
	w.u32(m.ok);
	w.error(m.error);
	w.str(m.name);
	w.u32(m.interval_ms);
	w.f64(m.budget_ms);
	w.str(m.description);
	w.u64(m.lua_bytes);
	w.logs(m.logs, m.logs_dropped);
	return w.done();
}

std::string encode(const TickMsg &m)
{
	Writer w(MsgType::Tick);
	w.u32(m.slots_hw);
	w.u32(m.ncpus);
	w.u32(m.prev_idx);
	w.u32(m.prev_valid);
	w.f64(m.now);
	w.f64(m.wall);
	w.f64(m.prev_now);
	w.u64(m.tick_no);
	return w.done();
}

std::string encode(const TickDoneMsg &m)
{
	Writer w(MsgType::TickDone);
	w.u32(m.ok);
	w.error(m.error);
	w.u32(m.tasks);
	w.u32(m.assigned);
	w.u64(m.worker_ns);
	w.u64(m.lua_bytes);
	w.u32(m.restart);
	w.logs(m.logs, m.logs_dropped);
	return w.done();
}

std::string encode(const EvalMsg &m)
{
	Writer w(MsgType::Eval);
	w.u64(m.id);
	w.u32(m.admin);
	w.u32(m.slots_hw);
	w.u32(m.budget_ms);
	w.u32(m.uid);
	w.u32(m.gid);
	w.u32(uint32_t(std::min(m.groups.size(), kMaxGroups)));
	for (size_t i = 0; i < m.groups.size() && i < kMaxGroups; i++)
		w.u32(m.groups[i]);
	w.str(m.expr, kMaxEvalText);
	return w.done();
}

std::string encode(const EvalDoneMsg &m)
{
	Writer w(MsgType::EvalDone);
	w.u64(m.id);
	w.u32(m.ok);
	w.str(m.text, kMaxEvalText);
	w.logs(m.logs, m.logs_dropped);
	return w.done();
}

std::optional<MsgType> msg_type(std::string_view buf)
{
	uint32_t t;
	if (buf.size() < sizeof(t))
		return std::nullopt;
	memcpy(&t, buf.data(), sizeof(t));
	return MsgType(t);
}

Result<ReadyMsg> decode_ready(std::string_view buf)
{
	Reader r(buf, MsgType::Ready);
	ReadyMsg m;
	m.ok = r.u32();
	m.error = r.error();
	m.name = r.str();
	m.interval_ms = r.u32();
	m.budget_ms = r.f64();
	m.description = r.str();
	m.lua_bytes = r.u64();
	r.logs(m.logs, m.logs_dropped);
	return finish(r, std::move(m), "ready");
}

Result<TickMsg> decode_tick(std::string_view buf)
{
	Reader r(buf, MsgType::Tick);
	TickMsg m;
	m.slots_hw = r.u32();
	m.ncpus = r.u32();
	m.prev_idx = r.u32();
	m.prev_valid = r.u32();
	m.now = r.f64();
	m.wall = r.f64();
	m.prev_now = r.f64();
	m.tick_no = r.u64();
	return finish(r, std::move(m), "tick");
}

Result<TickDoneMsg> decode_tick_done(std::string_view buf)
{
	Reader r(buf, MsgType::TickDone);
	TickDoneMsg m;
	m.ok = r.u32();
	m.error = r.error();
	m.tasks = r.u32();
	m.assigned = r.u32();
	m.worker_ns = r.u64();
	m.lua_bytes = r.u64();
	m.restart = r.u32();
	r.logs(m.logs, m.logs_dropped);
	return finish(r, std::move(m), "tick reply");
}

Result<EvalMsg> decode_eval(std::string_view buf)
{
	Reader r(buf, MsgType::Eval);
	EvalMsg m;
	m.id = r.u64();
	m.admin = r.u32();
	m.slots_hw = r.u32();
	m.budget_ms = r.u32();
	m.uid = r.u32();
	m.gid = r.u32();
	uint32_t n = r.u32();
	for (uint32_t i = 0; r.ok() && i < n && i < kMaxGroups + 1; i++)
		m.groups.push_back(r.u32());
	if (n > kMaxGroups)
		return err("malformed eval message: too many groups");
	m.expr = r.str();
	return finish(r, std::move(m), "eval");
}

Result<EvalDoneMsg> decode_eval_done(std::string_view buf)
{
	Reader r(buf, MsgType::EvalDone);
	EvalDoneMsg m;
	m.id = r.u64();
	m.ok = r.u32();
	m.text = r.str();
	r.logs(m.logs, m.logs_dropped);
	return finish(r, std::move(m), "eval reply");
}

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
