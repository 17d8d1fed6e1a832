// protocol_fuzz.cpp — libFuzzer target for the control protocol (issue 4).
//
// The input is a byte stream as a client would write it to the socket: it is
// cut into lines the way ControlServer::process does (split at '\n', a '\r'
// before it dropped, lines over kMaxLine answered too_long, blank lines
// skipped) and every line goes to a Dispatcher over a fresh test World
// (tests/control/test_world.h), first from a read-only peer, then from an
// admin. Each line is also fed to the client-side decoders (protocol.h).
//
// Invariants (any violation aborts, which libFuzzer reports as a crash):
//  * a reply is exactly one line, '\n'-terminated, of valid JSON: an object
//    with a boolean "ok"; ok:true carries "result", ok:false an "error" with
//    a documented "code" (never "internal": that is a host bug) and a
//    one-line string "message";
//  * an integer "id" in the request is echoed;
//  * a read-only peer's request never changes the host state (pins, boosts,
//    ticket history, tickets written to the backend, policies, policy errors)
//    and a write command from it is never answered ok;
//  * an ok reply decodes with lotto-shell's decoders (encoder and decoder
//    agree).
// Built by tests/fuzz/clang/CMakeLists.txt with clang++-19
// -fsanitize=fuzzer,address,undefined; run by ctest as fuzz.protocol.
#include "test_world.h"

#include "control/dispatch.h"
#include "control/protocol.h"
#include "core/strict_json.h"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <spdlog/spdlog.h>
#include <string_view>

using namespace lotto;
using namespace lotto::control;
using namespace lotto::test;

namespace {

[[noreturn]] void fail(const char *what, std::string_view line, const std::string &reply)
{
	std::string l(line.substr(0, 300));
	fprintf(stderr, "protocol_fuzz: %s\n  request (first 300 bytes): %s\n  reply: %s\n", what, l.c_str(),
		reply.substr(0, 600).c_str());
	abort();
}

const std::set<std::string> &known_codes()
{
	static const std::set<std::string> codes = [] {
		std::set<std::string> s;
		for (int c = (int)ErrorCode::bad_json; c <= (int)ErrorCode::internal; c++)
			s.insert(to_string((ErrorCode)c));
		return s;
	}();
	return codes;
}

// Everything a request may change, as one comparable value.
json snapshot(World &w)
{
	json s = json::object();
	json pins = json::object(), boosts = json::object(), hist = json::object(), slots = json::array();
	for (auto &[pid, t] : w.book.pins())
		pins[std::to_string(pid)] = t;
	for (auto &[pid, b] : w.book.boosts())
		boosts[std::to_string(pid)] =
			json{b.factor, b.until ? json(b.until->time_since_epoch().count()) : json(nullptr)};
	for (uint32_t i = 0; i < w.backend.slots_hw(); i++) {
		const lotto_task_stat &t = w.backend.tasks()[i];
		if (!t.pid)
			continue;
		slots.push_back(json{t.pid, w.book.effective(i), w.book.source(i), w.backend.ctl_tickets(t.pid)});
		if (auto h = w.book.history(t.pid)) {
			json a = json::array();
			for (auto &e : *h)
				a.push_back(json{e.when.time_since_epoch().count(), e.tickets, e.source});
			hist[std::to_string(t.pid)] = std::move(a);
		}
	}
	json pol = json::array();
	for (auto &[n, p] : w.policies)
		pol.push_back(json{n, p.file, p.comm, p.tickets});
	s["pins"] = std::move(pins);
	s["boosts"] = std::move(boosts);
	s["history"] = std::move(hist);
	s["slots"] = std::move(slots);
	s["policies"] = std::move(pol);
	s["errors"] = w.errors.size();
	s["tickets_changed"] = w.tickets_changed;
	return s;
}

// The request as far as the checks need it: its cmd and integer id, if any.
struct Req {
	std::string cmd;
	std::optional<json> int_id;
};

Req peek(std::string_view line)
{
	Req r;
	auto parsed = parse_json_strict(line);	// a duplicate key: refused, no id echoed
	if (!parsed || !parsed->is_object())
		return r;
	json &j = *parsed;
	if (auto c = j.find("cmd"); c != j.end() && c->is_string())
		r.cmd = c->get<std::string>();
	if (auto i = j.find("id"); i != j.end() && (i->is_number_integer() || i->is_number_unsigned()))
		r.int_id = *i;
	return r;
}

// Checks one reply; returns it parsed.
json check_reply(std::string_view line, const std::string &reply, const Req &req, const Peer &peer)
{
	if (reply.empty() || reply.back() != '\n' || reply.find('\n') != reply.size() - 1)
		fail("reply is not exactly one line", line, reply);
	json j = json::parse(reply.begin(), reply.end() - 1, nullptr, false);
	if (j.is_discarded() || !j.is_object())
		fail("reply is not a JSON object", line, reply);
	auto ok = j.find("ok");
	if (ok == j.end() || !ok->is_boolean())
		fail("reply has no boolean 'ok'", line, reply);
	if (req.int_id) {
		auto id = j.find("id");
		if (id == j.end() || *id != *req.int_id)
			fail("integer id not echoed", line, reply);
	}
	if (ok->get<bool>()) {
		if (!j.contains("result"))
			fail("ok reply without 'result'", line, reply);
		const Command *c = find_command(req.cmd);
		if (!peer.admin && c && c->access == Access::write)
			fail("write command answered ok to a read-only peer", line, reply);
		return j;
	}
	auto e = j.find("error");
	if (e == j.end() || !e->is_object())
		fail("error reply without an 'error' object", line, reply);
	auto code = e->find("code"), msg = e->find("message");
	if (code == e->end() || !code->is_string() || !known_codes().count(code->get<std::string>()))
		fail("error without a known code", line, reply);
	if (*code == "internal")
		fail("internal error (a host bug by the protocol's definition)", line, reply);
	if (msg == e->end() || !msg->is_string() || msg->get<std::string>().empty())
		fail("error without a message", line, reply);
	return j;
}

// An ok reply must decode with the client's decoders.
void check_decodes(std::string_view line, const std::string &reply, const std::string &cmd, const json &res)
{
	bool good = true;
	if (cmd == "tasks")
		good = res.contains("tasks") && bool(task_rows_from_json(res["tasks"]));
	else if (cmd == "show")
		good = bool(task_detail_from_json(res));
	else if (cmd == "stats")
		good = bool(host_stats_from_json(res));
	else if (cmd == "policy.list" && res.contains("policies"))
		for (auto &p : res["policies"])
			good = good && bool(policy_info_from_json(p));
	else if (cmd == "policy.errors" && res.contains("errors"))
		for (auto &p : res["errors"])
			good = good && bool(policy_error_from_json(p));
	if (!good)
		fail("ok reply does not decode with the client's decoders", line, reply);
}

// Arbitrary JSON into the client-side decoders: errors are fine, crashes not.
void decode_anything(std::string_view line)
{
	json j = json::parse(line.begin(), line.end(), nullptr, false);
	if (j.is_discarded())
		return;
	auto all = [](const json &x) {
		(void)task_row_from_json(x);
		(void)task_rows_from_json(x);
		(void)task_detail_from_json(x);
		(void)host_stats_from_json(x);
		(void)policy_info_from_json(x);
		(void)policy_error_from_json(x);
		if (x.is_string())
			(void)parse_iso_time(x.get<std::string>());
	};
	all(j);
	if (j.is_object())
		for (auto &[k, v] : j.items())
			all(v);
}

void one_line(World &w, Dispatcher &d, std::string_view line)
{
	static const Peer reader{1000, 1000, 4242, false, {}};
	static const Peer admin{0, 0, 4243, true, {}};
	decode_anything(line);
	Req req = peek(line);

	json before = snapshot(w);
	std::string r = d.handle(line, reader);
	check_reply(line, r, req, reader);
	if (snapshot(w) != before)
		fail("a read-only peer's request changed the host state", line, r);

	r = d.handle(line, admin);
	json j = check_reply(line, r, req, admin);
	if (j["ok"].get<bool>())
		check_decodes(line, r, req.cmd, j["result"]);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	spdlog::set_level(spdlog::level::off);
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string_view in(reinterpret_cast<const char *>(data), size);
	World w;	// fresh per input: a crash reproduces from its input alone
	Dispatcher d(w.host, DispatchConfig{"9.9.9-test", "lotto"});
	// framing as in ControlServer::process; a last line without '\n' is
	// answered too (the client shut its write side down)
	while (!in.empty()) {
		size_t nl = in.find('\n');
		std::string_view line = in.substr(0, nl);
		in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
		if (!line.empty() && line.back() == '\r')
			line.remove_suffix(1);
		if (line.size() > kMaxLine || line.find_first_not_of(" \t") == std::string_view::npos)
			continue;	// too_long (answered by the server itself) / blank
		one_line(w, d, line);
	}
	return 0;
}
