#include "control/dispatch.h"

#include "core/strict_json.h"

#include <cmath>
#include <fmt/format.h>
#include <fnmatch.h>
#include <memory>
#include <optional>

namespace lotto::control {

namespace {

HostError herr(ErrorCode c, std::string m) { return HostError{c, std::move(m)}; }

// The fields a request may carry, per command; anything else is refused so
// that a typo ("ticket" for "tickets") is an error, not a silent default.
bool allowed_field(const std::string &cmd, const std::string &k)
{
	if (k == "cmd" || k == "id" || k == "v")
		return true;
	if (cmd == "hello")
		return k == "version" || k == "client";
	if (cmd == "show")
		return k == "pid";
	if (cmd == "tickets")
		return k == "pid" || k == "comm" || k == "tickets";
	if (cmd == "unpin")
		return k == "pid" || k == "all";
	if (cmd == "boost")
		return k == "pid" || k == "factor" || k == "duration_ms";
	if (cmd == "policy.load")
		return k == "file";
	if (cmd == "policy.unload" || cmd == "policy.reload")
		return k == "name";
	if (cmd == "eval")
		return k == "expr";
	return false;
}

const char *const kCommands[] = {
	"hello", "tasks", "show", "stats", "tickets", "unpin", "boost", "policy.list",
	"policy.load", "policy.unload", "policy.reload", "policy.errors", "eval",
};

bool known(const std::string &cmd)
{
	for (auto c : kCommands)
		if (cmd == c)
			return true;
	return false;
}

// An unsigned integer field in lo..hi. Missing: bad_request.
HostResult<uint64_t> get_uint(const json &req, const char *k, uint64_t lo, uint64_t hi, ErrorCode range_code)
{
	auto it = req.find(k);
	if (it == req.end())
		return herr(ErrorCode::bad_request, fmt::format("missing field '{}'", k));
	const json &v = *it;
	if (v.is_number_unsigned()) {
		uint64_t x = v.get<uint64_t>();
		if (x < lo || x > hi)
			return herr(range_code, fmt::format("{} out of range: {} (use {}..{})", k, x, lo, hi));
		return x;
	}
	if (v.is_number_integer())	// negative
		return herr(range_code, fmt::format("{} out of range: {} (use {}..{})", k, v.get<int64_t>(), lo, hi));
	if (v.is_number_float()) {
		double d = v.get<double>();
		if (std::isfinite(d) && d == std::floor(d) && d >= (double)lo && d <= (double)hi)
			return (uint64_t)d;
		return herr(range_code, fmt::format("{} out of range: {} (use an integer {}..{})", k, v.dump(), lo, hi));
	}
	return herr(ErrorCode::bad_request, fmt::format("field '{}' must be an integer, not {}", k, v.type_name()));
}

HostResult<std::string> get_string(const json &req, const char *k, size_t max_len = 4096)
{
	auto it = req.find(k);
	if (it == req.end())
		return herr(ErrorCode::bad_request, fmt::format("missing field '{}'", k));
	if (!it->is_string())
		return herr(ErrorCode::bad_request, fmt::format("field '{}' must be a string, not {}", k, it->type_name()));
	std::string s = it->get<std::string>();
	if (s.empty())
		return herr(ErrorCode::bad_request, fmt::format("field '{}' must not be empty", k));
	if (s.size() > max_len)
		return herr(ErrorCode::bad_request, fmt::format("field '{}' is longer than {} bytes", k, max_len));
	if (s.find('\0') != std::string::npos)
		return herr(ErrorCode::bad_request, fmt::format("field '{}' contains a NUL byte", k));
	return s;
}

std::string what_of(const std::string &cmd)
{
	if (cmd == "tickets")
		return "pinning tickets";
	if (cmd == "unpin")
		return "unpinning tickets";
	if (cmd == "boost")
		return "boosting a task";
	return "changing policies";
}

template <typename T> T &val(HostResult<T> &r) { return std::get<0>(r); }
template <typename T> const HostError &errof(const HostResult<T> &r) { return std::get<1>(r); }

} // namespace

// protocol version 1, as an integer or a number equal to it ("v":1.0)
static bool is_our_version(const json &v)
{
	return v.is_number() && v.get<double>() == double(kProtocolVersion);
}

std::string Dispatcher::handle(std::string_view line, const Peer &peer)
{
	std::optional<std::string> out;
	handle(line, peer, [&](std::string r) { out = std::move(r); });
	if (!out)
		return reply_error(nullptr, herr(ErrorCode::internal, "internal error: the reply was not ready"));
	return std::move(*out);
}

void Dispatcher::handle(std::string_view line, const Peer &peer, Send send_in)
{
	requests_++;
	// exactly one reply, counted if it is an error (keys are sorted: error
	// replies start with {"error":)
	auto sent = std::make_shared<bool>(false);
	Send send = [this, sent, s = std::move(send_in)](std::string r) {
		if (std::exchange(*sent, true))
			return;
		if (r.rfind("{\"error\":", 0) == 0)
			errors_++;
		s(std::move(r));
	};
	json id = nullptr;
	try {
		auto parsed = parse_json_strict(line);
		if (!parsed)
			return send(reply_error(id, herr(ErrorCode::bad_json,
							 parsed.error().msg == "not valid JSON"
								 ? "request is not valid JSON (one object per line)"
								 : "request has a " + parsed.error().msg + " (give each key once)")));
		json &req = *parsed;
		if (!req.is_object())
			return send(reply_error(id, herr(ErrorCode::bad_json,
							 fmt::format("request must be a JSON object, not {}", req.type_name()))));
		if (auto it = req.find("id"); it != req.end()) {
			if (it->is_number_integer() || it->is_number_unsigned() ||
			    (it->is_string() && it->get_ref<const std::string &>().size() <= 256))
				id = *it;
			else
				return send(reply_error(id, herr(ErrorCode::bad_request,
								 "field 'id' must be an integer or a string of at most 256 bytes")));
		}
		if (auto it = req.find("v"); it != req.end() && !is_our_version(*it))
			return send(reply_error(id, herr(ErrorCode::unsupported_version,
							 fmt::format("protocol version {} is not supported (this host speaks {})",
								     shown(it->dump()), kProtocolVersion))));
		auto c = req.find("cmd");
		if (c == req.end() || !c->is_string())
			return send(reply_error(id, herr(ErrorCode::bad_request, "missing string field 'cmd'")));
		std::string cmd = c->get<std::string>();
		if (!known(cmd))
			return send(reply_error(id, herr(ErrorCode::unknown_command,
							 fmt::format("unknown command '{}'", shown(cmd)))));
		for (auto &[k, v] : req.items())
			if (!allowed_field(cmd, k))
				return send(reply_error(id, herr(ErrorCode::bad_request,
								 fmt::format("unknown field '{}' for '{}'", shown(k), cmd))));
		if (is_write_command(cmd) && !peer.admin) {
			std::string who = cfg_.admin_group.empty() ? "root" : "root or members of group '" + cfg_.admin_group + "'";
			return send(reply_error(id, herr(ErrorCode::permission_denied,
							 fmt::format("permission denied: {} is for {} (you are uid {}); "
								     "read-only commands still work",
								     what_of(cmd), who, peer.uid))));
		}
		run(cmd, req, id, peer, send);
	} catch (const std::exception &e) {
		send(reply_error(id, herr(ErrorCode::internal, fmt::format("internal error: {}", e.what()))));
	} catch (...) {
		send(reply_error(id, herr(ErrorCode::internal, "internal error")));
	}
}

// `lua` and `policy load` answer when the engine is done; the rest at once.
void Dispatcher::run(const std::string &cmd, const json &req, const json &id, const Peer &peer, Send &send)
{
	if (cmd == "eval") {
		auto e = get_string(req, "expr", 16 * 1024);
		if (!is_ok(e))
			return send(reply_error(id, errof(e)));
		host_.eval(val(e), peer, [send, id, admin = peer.admin](HostResult<std::string> r) {
			if (!is_ok(r))
				return send(reply_error(id, errof(r)));
			send(reply_ok(id, json{{"value", val(r)}, {"admin", admin}}));
		});
		return;
	}
	if (cmd == "policy.load") {
		auto f = get_string(req, "file");
		if (!is_ok(f))
			return send(reply_error(id, errof(f)));
		if (val(f)[0] != '/')
			return send(reply_error(id, herr(ErrorCode::bad_request,
							 "field 'file' must be an absolute path (the host's directory is not yours)")));
		host_.policy_load(val(f), peer, [send, id, file = val(f)](HostResult<std::string> r) {
			if (!is_ok(r))
				return send(reply_error(id, errof(r)));
			send(reply_ok(id, json{{"name", val(r)}, {"file", file}}));
		});
		return;
	}
	send(run_sync(cmd, req, id, peer));
}

std::string Dispatcher::run_sync(const std::string &cmd, const json &req, const json &id, const Peer &peer)
{
	if (cmd == "hello") {
		if (auto it = req.find("version"); it != req.end()) {
			if (!is_our_version(*it))
				return reply_error(id, herr(ErrorCode::unsupported_version,
							    fmt::format("protocol version {} is not supported (this host speaks {})",
									shown(it->dump()), kProtocolVersion)));
		}
		auto st = host_.stats();
		return reply_ok(id, json{{"protocol", kProtocolVersion},
					 {"server", "lotto-host"},
					 {"version", cfg_.server_version},
					 {"backend", st.backend},
					 {"admin", peer.admin},
					 {"uid", peer.uid},
					 {"max_line", kMaxLine}});
	}
	if (cmd == "tasks") {
		json rows = json::array();
		for (auto &r : host_.tasks())
			rows.push_back(to_json(r));
		return reply_ok(id, json{{"tasks", std::move(rows)}});
	}
	if (cmd == "stats")
		return reply_ok(id, to_json(host_.stats()));
	if (cmd == "show") {
		auto pid = get_uint(req, "pid", 1, UINT32_MAX, ErrorCode::no_such_pid);
		if (!is_ok(pid))
			return reply_error(id, errof(pid));
		auto d = host_.task((uint32_t)val(pid));
		if (!is_ok(d))
			return reply_error(id, errof(d));
		return reply_ok(id, to_json(val(d)));
	}
	if (cmd == "tickets") {
		auto t = get_uint(req, "tickets", LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX, ErrorCode::out_of_range);
		if (!is_ok(t))
			return reply_error(id, errof(t));
		uint32_t tickets = (uint32_t)val(t);
		bool has_pid = req.contains("pid"), has_comm = req.contains("comm");
		if (has_pid == has_comm)
			return reply_error(id, herr(ErrorCode::bad_request, "give exactly one of 'pid' and 'comm'"));
		json pinned = json::array();
		if (has_pid) {
			auto pid = get_uint(req, "pid", 1, UINT32_MAX, ErrorCode::no_such_pid);
			if (!is_ok(pid))
				return reply_error(id, errof(pid));
			auto r = host_.pin((uint32_t)val(pid), tickets);
			if (!is_ok(r))
				return reply_error(id, errof(r));
			pinned.push_back(val(pid));
		} else {
			auto pat = get_string(req, "comm", 256);
			if (!is_ok(pat))
				return reply_error(id, errof(pat));
			for (auto &row : host_.tasks()) {
				if (fnmatch(val(pat).c_str(), row.comm.c_str(), 0) != 0)
					continue;
				auto r = host_.pin(row.pid, tickets);
				if (is_ok(r))
					pinned.push_back(row.pid);
				else if (errof(r).code != ErrorCode::no_such_pid)	// exited meanwhile: skip
					return reply_error(id, errof(r));
			}
			if (pinned.empty())
				return reply_error(id, herr(ErrorCode::no_match,
							    fmt::format("no lotto task has a comm matching '{}' (see `tasks`)",
									val(pat))));
		}
		return reply_ok(id, json{{"pinned", std::move(pinned)}, {"tickets", tickets}});
	}
	if (cmd == "unpin") {
		bool has_pid = req.contains("pid"), has_all = req.contains("all");
		if (has_pid == has_all)
			return reply_error(id, herr(ErrorCode::bad_request, "give exactly one of 'pid' and 'all'"));
		if (has_all) {
			if (!req["all"].is_boolean() || !req["all"].get<bool>())
				return reply_error(id, herr(ErrorCode::bad_request, "field 'all' must be true"));
			auto n = host_.unpin_all();
			if (!is_ok(n))
				return reply_error(id, errof(n));
			return reply_ok(id, json{{"unpinned", val(n)}});
		}
		auto pid = get_uint(req, "pid", 1, UINT32_MAX, ErrorCode::no_such_pid);
		if (!is_ok(pid))
			return reply_error(id, errof(pid));
		auto r = host_.unpin((uint32_t)val(pid));
		if (!is_ok(r))
			return reply_error(id, errof(r));
		return reply_ok(id, json{{"unpinned", 1}});
	}
	if (cmd == "boost") {
		auto pid = get_uint(req, "pid", 1, UINT32_MAX, ErrorCode::no_such_pid);
		if (!is_ok(pid))
			return reply_error(id, errof(pid));
		auto f = req.find("factor");
		if (f == req.end() || !f->is_number())
			return reply_error(id, herr(ErrorCode::bad_request, "field 'factor' must be a number"));
		std::optional<std::chrono::milliseconds> d;
		if (req.contains("duration_ms")) {
			auto ms = get_uint(req, "duration_ms", 1, 365ull * 24 * 3600 * 1000, ErrorCode::out_of_range);
			if (!is_ok(ms))
				return reply_error(id, errof(ms));
			d = std::chrono::milliseconds(val(ms));
		}
		auto r = host_.boost((uint32_t)val(pid), f->get<double>(), d);
		if (!is_ok(r))
			return reply_error(id, errof(r));
		return reply_ok(id, json{{"pid", val(pid)}, {"factor", f->get<double>()},
					 {"duration_ms", d ? json(d->count()) : json(nullptr)}});
	}
	if (cmd == "policy.list") {
		auto l = host_.policies();
		if (!is_ok(l))
			return reply_error(id, errof(l));
		json a = json::array();
		for (auto &p : val(l))
			a.push_back(to_json(p));
		return reply_ok(id, json{{"policies", std::move(a)}});
	}
	if (cmd == "policy.errors") {
		auto l = host_.policy_errors();
		if (!is_ok(l))
			return reply_error(id, errof(l));
		json a = json::array();
		for (auto &p : val(l))
			a.push_back(to_json(p));
		return reply_ok(id, json{{"errors", std::move(a)}});
	}
	if (cmd == "policy.unload" || cmd == "policy.reload") {
		auto n = get_string(req, "name", 256);
		if (!is_ok(n))
			return reply_error(id, errof(n));
		auto r = cmd == "policy.unload" ? host_.policy_unload(val(n)) : host_.policy_reload(val(n));
		if (!is_ok(r))
			return reply_error(id, errof(r));
		return reply_ok(id, json{{"name", val(n)}});
	}
	return reply_error(id, herr(ErrorCode::unknown_command, fmt::format("unknown command '{}'", cmd)));
}

} // namespace lotto::control
