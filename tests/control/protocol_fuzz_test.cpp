// Robustness of the control socket: garbage, truncated, huge and concurrent
// requests, for a bounded time, against a real ControlServer. The server must
// answer every complete line with exactly one JSON reply, keep serving, and
// the host state (pins) must be exactly what the valid writes made it.
#include "sock_client.h"
#include "test_world.h"

#include "control/dispatch.h"

#include <catch2/catch_test_macros.hpp>
#include <mutex>
#include <random>

using namespace lotto;
using namespace lotto::control;
using namespace lotto::test;

namespace {

// Mutations of valid requests and plain garbage; never contains '\n'.
std::string mutate(std::mt19937_64 &rng)
{
	static const std::vector<std::string> seeds = {
		R"({"cmd":"tasks"})",
		R"({"cmd":"show","pid":100})",
		R"({"cmd":"stats","id":"x"})",
		R"({"cmd":"hello","version":1})",
		R"({"cmd":"policy.list"})",
		R"({"cmd":"eval","expr":"#tasks"})",
		R"({"cmd":"tickets","pid":4242,"tickets":5})",	// no such pid: must not change state
		R"({"cmd":"boost","pid":4242,"factor":2})",
		R"({"cmd":"unpin","pid":4242})",
		R"({"cmd":"policy.unload","name":"nope"})",
	};
	std::string s = seeds[rng() % seeds.size()];
	int kind = rng() % 8;
	switch (kind) {
	case 0:	// truncate
		s.resize(rng() % (s.size() + 1));
		break;
	case 1:	// flip bytes
		for (int i = 0, n = 1 + rng() % 4; i < n && !s.empty(); i++)
			s[rng() % s.size()] = (char)(rng() % 256);
		break;
	case 2:	// random bytes
		s.clear();
		for (int i = 0, n = rng() % 200; i < n; i++)
			s += (char)(rng() % 256);
		break;
	case 3:	// deep nesting
		s = std::string(rng() % 20000, '[') + std::string(rng() % 20000, ']');
		break;
	case 4:	// wrong types everywhere
		s = R"({"cmd":)" + std::vector<std::string>{"1", "null", "[]", "{}", "true", "\"\""}[rng() % 6] +
		    R"(,"pid":)" + std::vector<std::string>{"-1", "1e99", "\"a\"", "null", "18446744073709551616"}[rng() % 5] + "}";
		break;
	case 5:	// huge string field, under the cap
		s = R"({"cmd":"eval","expr":")" + std::string(rng() % 40000, 'a') + "\"}";
		break;
	default:
		break;	// valid read request
	}
	for (auto &c : s)
		if (c == '\n')
			c = ' ';
	return s;
}

// the server ignores blank lines (docs/protocol.md): no reply expected
bool blank(std::string l)
{
	if (!l.empty() && l.back() == '\r')
		l.pop_back();
	return l.find_first_not_of(" \t") == std::string::npos;
}

} // namespace

TEST_CASE("the dispatcher answers every mutated request with one JSON line", "[fuzz][protocol]")
{
	World w;
	Dispatcher d(w.host, DispatchConfig{"v", ""});
	std::mt19937_64 rng(12345);
	auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
	int n = 0;
	while (std::chrono::steady_clock::now() < until) {
		std::string req = mutate(rng);
		Peer p{(uint32_t)(rng() % 2 ? 0 : 1000), 0, 0, rng() % 2 == 0, {}};
		std::string out = d.handle(req, p);
		REQUIRE(!out.empty());
		REQUIRE(out.find('\n') == out.size() - 1);
		json j = json::parse(out, nullptr, false);
		REQUIRE(j.is_object());
		REQUIRE(j["ok"].is_boolean());
		n++;
	}
	CHECK(n > 200);
	CHECK(w.book.pins().empty());	// no mutated request pinned anything
}

TEST_CASE("concurrent garbage, truncated and huge requests never disturb the server or its state", "[fuzz][server]")
{
	ServedWorld s;
	{
		SockClient admin(s.path());
		REQUIRE(admin.send_all("{\"cmd\":\"tickets\",\"pid\":200,\"tickets\":4321}\n"));
		auto l = admin.line();
		REQUIRE(l);
		REQUIRE(json::parse(*l)["ok"] == true);
	}
	const int kClients = 6;
	std::atomic<int> failures{0}, answered{0};
	std::mutex why_mu;
	std::vector<std::string> why;
	auto fail = [&](std::string w) {
		failures++;
		std::lock_guard<std::mutex> g(why_mu);
		why.push_back(std::move(w));
	};
	std::vector<std::thread> threads;
	for (int t = 0; t < kClients; t++) {
		threads.emplace_back([&, t] {
			std::mt19937_64 rng(1000 + t);
			auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
			while (std::chrono::steady_clock::now() < until) {
				SockClient c(s.path());
				if (!c.ok()) {
					fail("connect");
					return;
				}
				int mode = rng() % 4;
				if (mode == 0) {
					// a burst of lines, then read every reply
					int n = 1 + rng() % 50;
					std::string batch;
					int expect = 0;
					for (int i = 0; i < n; i++) {
						std::string r = mutate(rng);
						expect += blank(r) ? 0 : 1;
						batch += r + "\n";
					}
					n = expect;
					if (!c.send_all(batch)) {
						fail("send batch");
						return;
					}
					for (int i = 0; i < n; i++) {
						auto l = c.line();
						if (!l || json::parse(*l, nullptr, false).is_discarded()) {
							fail("batch reply " + std::to_string(i) + "/" + std::to_string(n) + ": " +
							     (l ? l->substr(0, 200) : "none"));
							return;
						}
						answered++;
					}
				} else if (mode == 1) {
					// truncated: half a request, then hang up
					std::string r = mutate(rng);
					c.send_all(r.substr(0, r.size() / 2));
				} else if (mode == 2) {
					// huge: beyond the cap, in pieces, then a valid request
					std::string big(kMaxLine + 1 + rng() % 100000, 'z');
					c.send_all(big);
					c.send_all("\n{\"cmd\":\"hello\"}\n");
					auto a = c.line(), b = c.line();
					if (!a || !b || json::parse(*a)["error"]["code"] != "too_long" ||
					    json::parse(*b)["ok"] != true) {
						fail("huge: " + (a ? a->substr(0, 200) : "none") + " / " + (b ? b->substr(0, 200) : "none"));
						return;
					}
					answered += 2;
				} else {
					// byte by byte
					std::string r = mutate(rng);
					if (blank(r))
						r = "{}";
					r += "\n";
					for (char ch : r)
						c.send_all(std::string(1, ch));
					if (!c.line()) {
						fail("byte by byte: no reply to " + r.substr(0, 200));
						return;
					}
					answered++;
				}
			}
		});
	}
	for (auto &th : threads)
		th.join();
	for (auto &w : why)
		UNSCOPED_INFO(w);
	CHECK(failures == 0);
	CHECK(answered > 100);

	// still serving, and the state is what the one valid write made it
	SockClient c(s.path());
	REQUIRE(c.send_all("{\"cmd\":\"show\",\"pid\":200}\n"));
	auto l = c.line();
	REQUIRE(l);
	json j = json::parse(*l);
	CHECK(j["result"]["pin"] == 4321);
	CHECK(j["result"]["tickets"] == 4321);
	s.pause();
	CHECK(s.world.book.pins().size() == 1);
	CHECK(s.world.backend.ctl_tickets(200) == 4321);
	CHECK(s.world.policies.count("busy") == 1);
	CHECK(s.server->clients() <= 1);
}
