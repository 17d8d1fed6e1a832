#include "test_world.h"

#include "control/dispatch.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/catch_approx.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <set>

using namespace lotto;
using namespace lotto::control;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

namespace {
const Peer kAdmin{0, 0, 1, true, {}};
const Peer kUser{65534, 65534, 2, false, {}};

struct Fixture {
	World w;
	Dispatcher d{w.host, DispatchConfig{"9.9.9-test", "lotto"}};

	json call(const std::string &line, const Peer &p = kAdmin)
	{
		std::string out = d.handle(line, p);
		REQUIRE(!out.empty());
		REQUIRE(out.back() == '\n');
		REQUIRE(out.find('\n') == out.size() - 1);	// exactly one line
		json j = json::parse(out);
		REQUIRE(j.is_object());
		return j;
	}
	std::string code(const std::string &line, const Peer &p = kAdmin)
	{
		json j = call(line, p);
		REQUIRE(j["ok"] == false);
		return j["error"]["code"];
	}
	std::string message(const std::string &line, const Peer &p = kAdmin)
	{
		return call(line, p)["error"]["message"];
	}
};
} // namespace

TEST_CASE("hello reports the protocol version, backend and the peer's rights", "[protocol]")
{
	Fixture f;
	auto j = f.call(R"({"cmd":"hello","version":1,"id":7})");
	CHECK(j["id"] == 7);
	CHECK(j["ok"] == true);
	CHECK(j["result"]["protocol"] == 1);
	CHECK(j["result"]["backend"] == "fake");
	CHECK(j["result"]["admin"] == true);
	CHECK(j["result"]["max_line"] == kMaxLine);
	CHECK(f.call(R"({"cmd":"hello"})", kUser)["result"]["admin"] == false);
	CHECK(f.code(R"({"cmd":"hello","version":2})") == "unsupported_version");
	CHECK(f.code(R"({"cmd":"tasks","v":99})") == "unsupported_version");
	CHECK(f.call(R"({"cmd":"tasks","v":1})")["ok"] == true);
}

TEST_CASE("tasks lists every lotto task with tickets and their source", "[protocol]")
{
	Fixture f;
	auto rows = f.call(R"({"cmd":"tasks"})")["result"]["tasks"];
	REQUIRE(rows.size() == 4);
	CHECK(rows[0]["pid"] == 100);
	CHECK(rows[0]["tickets"] == 300);
	CHECK(rows[0]["source"] == "policy busy");
	CHECK(rows[2]["source"] == "default");
	CHECK(rows[2]["user"].is_string());
	CHECK(rows[3]["comm"] == "db worker");
}

TEST_CASE("tickets pins by pid or by comm pattern, unpin gives the policy back", "[protocol]")
{
	Fixture f;
	auto j = f.call(R"({"cmd":"tickets","pid":200,"tickets":5000})");
	CHECK(j["result"]["pinned"] == json::array({200}));
	CHECK(f.w.backend.ctl_tickets(200) == 5000);
	CHECK(f.w.tickets_changed == 1);
	auto m = f.call(R"({"cmd":"tickets","comm":"str*","tickets":9})");
	CHECK(m["result"]["pinned"] == json::array({100, 101}));
	CHECK(f.w.backend.ctl_tickets(101) == 9);
	auto show = f.call(R"({"cmd":"show","pid":101})")["result"];
	CHECK(show["pin"] == 9);
	CHECK(show["source"] == "pin");
	REQUIRE(show["history"].size() >= 2);
	CHECK(show["history"].back()["source"] == "pin");
	CHECK(f.call(R"({"cmd":"unpin","all":true})")["result"]["unpinned"] == 3);
	CHECK(f.w.backend.ctl_tickets(101) == 300);	// the policy's value again
	CHECK(f.code(R"({"cmd":"unpin","pid":101})") == "not_pinned");
}

TEST_CASE("boost multiplies the tickets in force and unpin drops it", "[protocol]")
{
	Fixture f;
	auto j = f.call(R"({"cmd":"boost","pid":100,"factor":2,"duration_ms":60000})");
	CHECK(j["ok"] == true);
	CHECK(f.w.backend.ctl_tickets(100) == 600);
	auto show = f.call(R"({"cmd":"show","pid":100})")["result"];
	CHECK(show["boost_factor"] == 2.0);
	CHECK(show["boost_left_s"].get<double>() > 59);
	f.call(R"({"cmd":"unpin","pid":100})");
	CHECK(f.w.backend.ctl_tickets(100) == 300);
	CHECK(f.code(R"({"cmd":"boost","pid":100,"factor":0})") == "out_of_range");
	CHECK(f.code(R"({"cmd":"boost","pid":100,"factor":"x2"})") == "bad_request");
	CHECK(f.code(R"({"cmd":"boost","pid":100,"factor":2,"duration_ms":0})") == "out_of_range");
}

TEST_CASE("every malformed request gets its own error code and one line", "[protocol][errors]")
{
	Fixture f;
	CHECK(f.code("not json") == "bad_json");
	CHECK(f.code("[1,2]") == "bad_json");
	CHECK(f.code("{}") == "bad_request");
	CHECK(f.code(R"({"cmd":5})") == "bad_request");
	CHECK(f.code(R"({"cmd":"fly"})") == "unknown_command");
	CHECK(f.code(R"({"cmd":"tasks","sort":"cpu"})") == "bad_request");
	CHECK(f.code(R"({"cmd":"tasks","id":{"a":1}})") == "bad_request");
	CHECK(f.code(R"({"cmd":"show"})") == "bad_request");
	CHECK(f.code(R"({"cmd":"show","pid":"1"})") == "bad_request");
	CHECK(f.code(R"({"cmd":"show","pid":-1})") == "no_such_pid");
	CHECK(f.code(R"({"cmd":"show","pid":4242})") == "no_such_pid");
	CHECK(f.code(R"({"cmd":"tickets","pid":100,"tickets":0})") == "out_of_range");
	CHECK(f.code(R"({"cmd":"tickets","pid":100,"tickets":1000001})") == "out_of_range");
	CHECK(f.code(R"({"cmd":"tickets","pid":100,"tickets":1.5})") == "out_of_range");
	CHECK(f.code(R"({"cmd":"tickets","tickets":10})") == "bad_request");
	CHECK(f.code(R"({"cmd":"tickets","pid":100,"comm":"x","tickets":10})") == "bad_request");
	CHECK(f.code(R"({"cmd":"tickets","comm":"nomatch*","tickets":10})") == "no_match");
	CHECK(f.code(R"({"cmd":"unpin"})") == "bad_request");
	CHECK(f.code(R"({"cmd":"unpin","all":false})") == "bad_request");
	CHECK(f.code(R"({"cmd":"policy.load","file":"relative.lua"})") == "bad_request");
	CHECK(f.code(R"({"cmd":"policy.load","file":"/nonexistent/x.lua"})") == "policy_error");
	CHECK(f.code(R"({"cmd":"policy.unload","name":"nope"})") == "no_such_policy");
	CHECK(f.code(R"({"cmd":"policy.reload","name":""})") == "bad_request");
	CHECK(f.code(R"({"cmd":"eval","expr":"+"})") == "eval_error");
	CHECK(f.message(R"({"cmd":"show","pid":4242})") == "no such pid: 4242 is not a lotto task (see `tasks` for the list)");
	CHECK(f.message(R"({"cmd":"tickets","pid":100,"tickets":0})") == "tickets out of range: 0 (use 1..1000000)");
	CHECK(f.d.errors() >= 24);
}

TEST_CASE("writes from a peer that is not an admin are refused, reads work", "[protocol][permissions]")
{
	Fixture f;
	for (auto req : {R"({"cmd":"tickets","pid":100,"tickets":5})", R"({"cmd":"unpin","all":true})",
			 R"({"cmd":"boost","pid":100,"factor":2})", R"({"cmd":"policy.load","file":"/x.lua"})",
			 R"({"cmd":"policy.unload","name":"busy"})", R"({"cmd":"policy.reload","name":"busy"})"}) {
		INFO(req);
		CHECK(f.code(req, kUser) == "permission_denied");
	}
	CHECK_THAT(f.message(R"({"cmd":"tickets","pid":100,"tickets":5})", kUser),
		   StartsWith("permission denied: pinning tickets is for root or members of group 'lotto' (you are uid 65534)"));
	CHECK(f.w.backend.ctl_tickets(100) == 300);	// untouched
	CHECK(f.w.policies.count("busy") == 1);
	CHECK(f.call(R"({"cmd":"tasks"})", kUser)["ok"] == true);
	CHECK(f.call(R"({"cmd":"stats"})", kUser)["ok"] == true);
	CHECK(f.call(R"({"cmd":"eval","expr":"#tasks"})", kUser)["result"]["value"] == "4");
	CHECK_THAT(f.message(R"({"cmd":"eval","expr":"ctx.state.x = 1"})", kUser), StartsWith("permission denied"));
}

TEST_CASE("policy commands go through the engine hooks", "[protocol][policy]")
{
	Fixture f;
	auto l = f.call(R"({"cmd":"policy.list"})")["result"]["policies"];
	REQUIRE(l.size() == 1);
	CHECK(l[0]["name"] == "busy");
	CHECK(l[0]["interval_ms"] == 1000);
	f.call(R"({"cmd":"policy.reload","name":"busy"})");
	auto e = f.call(R"({"cmd":"policy.errors"})")["result"]["errors"];
	REQUIRE(e.size() == 1);
	CHECK(e[0]["message"] == "/policies/busy.lua:3: attempt to call a nil value");
	f.call(R"({"cmd":"policy.unload","name":"busy"})");
	CHECK(f.call(R"({"cmd":"tasks"})")["result"]["tasks"][0]["source"] == "default");
}

TEST_CASE("a host without a policy engine answers unavailable", "[protocol][policy]")
{
	FakeBackend b;
	b.add(1, "x");
	TicketBook book(b, 100);
	HostImpl h(b, book, nullptr, nullptr, "v");
	Dispatcher d(h, DispatchConfig{"v", ""});
	auto j = json::parse(d.handle(R"({"cmd":"policy.list"})", kAdmin));
	CHECK(j["error"]["code"] == "unavailable");
	j = json::parse(d.handle(R"({"cmd":"eval","expr":"1"})", kAdmin));
	CHECK(j["error"]["code"] == "unavailable");
	j = json::parse(d.handle(R"({"cmd":"tickets","pid":1,"tickets":5})", kUser));
	CHECK_THAT(j["error"]["message"].get<std::string>(), ContainsSubstring("is for root (you are uid 65534)"));
}

TEST_CASE("stats reports the backend, state, counters and draws per second", "[protocol][stats]")
{
	Fixture f;
	f.w.host.sample();
	f.w.backend.set_draws(1000);
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	f.w.host.sample();
	auto s = f.call(R"({"cmd":"stats"})")["result"];
	CHECK(s["backend"] == "fake");
	CHECK(s["state"] == "enabled");
	CHECK(s["nr_tasks"] == 4);
	CHECK(s["total_tickets"] == 300 + 300 + 100 + 100);
	CHECK(s["counters"]["draws"] == 1000);
	CHECK(s["per_cpu"].size() == 2);
	CHECK(s["draws_per_s"].get<double>() > 1000);	// 1000 draws in ~0.1 s
	CHECK(s["draws_per_s"].get<double>() < 20000);
	f.w.backend.set_exit(ExitInfo{64, 0, "unregistered from user space", "SysRq-S"});
	s = f.call(R"({"cmd":"stats"})")["result"];
	CHECK(s["state"] == "exited");
	CHECK(s["exit"]["reason"] == "unregistered from user space");
}

TEST_CASE("cpu share and cpu percent come from runtime deltas between samples", "[protocol][sampler]")
{
	Fixture f;
	f.w.host.sample();
	auto t0 = std::chrono::steady_clock::now();
	f.w.backend.task(100).runtime_ns += 150000000;	// 150 ms
	f.w.backend.task(200).runtime_ns += 50000000;	// 50 ms
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	f.w.host.sample();
	double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	auto rows = f.call(R"({"cmd":"tasks"})")["result"]["tasks"];
	CHECK(rows[0]["delta_ns"] == 150000000);
	CHECK(rows[0]["cpu_share"] == 0.75);
	CHECK(rows[2]["cpu_share"] == 0.25);
	CHECK(rows[1]["cpu_share"] == 0.0);
	double pct = rows[0]["cpu_pct"];
	CHECK(pct <= 75.0 + 1e-9);		// 150 ms in at least 200 ms
	CHECK(pct >= 15.0 / secs - 1);
	// a task that exits and whose slot is reused does not inherit the delta
	f.w.backend.remove(200);
	f.w.backend.add(201, "fresh");
	auto after = f.call(R"({"cmd":"tasks"})")["result"]["tasks"];
	for (auto &r : after)
		if (r["pid"] == 201)
			CHECK(r["delta_ns"] == 0);
}

TEST_CASE("a pin, unpin or unpin all that cannot be saved is refused and not made", "[protocol][state]")
{
	Fixture f;
	CHECK(f.call(R"({"cmd":"tickets","pid":200,"tickets":5000})")["ok"] == true);
	f.w.saves_fail = true;
	CHECK(f.code(R"({"cmd":"tickets","pid":101,"tickets":7})") == "not_saved");
	CHECK(f.w.book.pins().count(101) == 0);
	CHECK(f.code(R"({"cmd":"tickets","comm":"str*","tickets":7})") == "not_saved");
	CHECK(f.w.book.pins().size() == 1);
	CHECK(f.code(R"({"cmd":"unpin","pid":200})") == "not_saved");
	CHECK(f.code(R"({"cmd":"unpin","all":true})") == "not_saved");
	CHECK(f.w.book.pins().at(200) == 5000);
	CHECK(f.w.backend.ctl_tickets(200) == 5000);
	CHECK_THAT(f.message(R"({"cmd":"tickets","pid":101,"tickets":7})"),
		   Catch::Matchers::ContainsSubstring("could not be written"));
	// boosts are not saved: they work without the state file
	CHECK(f.call(R"({"cmd":"boost","pid":101,"factor":2})")["ok"] == true);
	f.w.saves_fail = false;
	CHECK(f.call(R"({"cmd":"unpin","all":true})")["result"]["unpinned"] == 2);
}

TEST_CASE("protocol version 1.0 is 1; a duplicate key is refused by name", "[protocol]")
{
	Fixture f;
	CHECK(f.call(R"({"cmd":"hello","v":1.0,"version":1.0})")["ok"] == true);
	CHECK(f.code(R"({"cmd":"hello","v":1.5})") == "unsupported_version");
	CHECK(f.code(R"({"cmd":"hello","v":"1"})") == "unsupported_version");
	CHECK(f.message(R"({"cmd":"tickets","pid":200,"tickets":5,"tickets":6})") ==
	      "request has a duplicate key \"tickets\" (give each key once)");
	CHECK(f.w.book.pins().empty());
	CHECK(f.code(R"({"cmd":"hello","client":{"a":1,"a":2}})") == "bad_json");
	CHECK(f.message("{\"cmd\":\"hello\",\"x\\ny\":1}") == "unknown field 'x\\ny' for 'hello'");	// one line
}

TEST_CASE("a comm pattern pins every match in one pass, with one save", "[protocol][tickets]")
{
	Fixture f;
	auto j = f.call(R"({"cmd":"tickets","comm":"str*","tickets":9})");
	CHECK(j["result"]["pinned"] == json::array({100, 101}));
	CHECK(f.w.tickets_changed == 1);	// one state-file write for both
	CHECK(f.w.book.pins().at(100) == 9);
	CHECK(f.w.book.pins().at(101) == 9);
	CHECK(f.w.backend.ctl_tickets(100) == 9);
	CHECK(f.code(R"({"cmd":"tickets","comm":"str*","tickets":0})") == "out_of_range");
	CHECK(f.w.tickets_changed == 1);
}

TEST_CASE("tasks are filtered, sorted and cut by the host", "[protocol][tasks]")
{
	Fixture f;
	auto pids = [&](const std::string &req) {
		std::vector<uint32_t> v;
		json j = f.call(req);
		for (auto &t : j["result"]["tasks"])
			v.push_back(t["pid"]);
		return v;
	};
	CHECK(pids(R"({"cmd":"tasks"})") == std::vector<uint32_t>{100, 101, 200, 300});
	CHECK(pids(R"({"cmd":"tasks","order_by":"tickets","top":2})") == std::vector<uint32_t>{100, 101});
	CHECK(pids(R"({"cmd":"tasks","order_by":"pid","comm":"*r*"})") == std::vector<uint32_t>{100, 101, 200, 300});
	CHECK(pids(R"({"cmd":"tasks","comm":"ed*"})") == std::vector<uint32_t>{200});
	CHECK(pids(R"({"cmd":"tasks","user":"1000"})") == std::vector<uint32_t>{200});
	CHECK(pids(R"({"cmd":"tasks","pid":300})") == std::vector<uint32_t>{300});
	CHECK(pids(R"({"cmd":"tasks","pid":4242})").empty());
	// shares are of all tasks, whatever the query keeps
	auto one = f.call(R"({"cmd":"tasks","pid":200})")["result"]["tasks"][0];
	CHECK(one["ticket_share"].get<double>() == 100.0 / 800.0);
	CHECK(f.message(R"({"cmd":"tasks","order_by":"name"})") ==
	      "field 'order_by' must be one of cpu, tickets, wait or pid, not 'name'");
	CHECK(f.code(R"({"cmd":"tasks","top":0})") == "out_of_range");
	CHECK(f.code(R"({"cmd":"tasks","top":"3"})") == "bad_request");
	CHECK(f.code(R"({"cmd":"tasks","comm":""})") == "bad_request");
}

TEST_CASE("every command has one table entry with a handler; writes need an admin", "[protocol][table]")
{
	Fixture f;
	std::set<std::string> names;
	for (auto &c : commands()) {
		INFO(c.name);
		CHECK(names.insert(c.name).second);
		CHECK(c.run != nullptr);
		CHECK(find_command(c.name) == &c);
		if (c.access == Access::write)
			CHECK(f.code(json{{"cmd", c.name}}.dump(), kUser) == "permission_denied");
		else
			CHECK(f.code(json{{"cmd", c.name}, {"no_such_field", 1}}.dump(), kUser) == "bad_request");
	}
	CHECK(names.size() == 16);
}

TEST_CASE("groups lists the root, cgroups and policy groups with shares of the active ones", "[protocol][groups]")
{
	Fixture f;
	f.w.backend.add_cgroup(3, 77, "/system.slice/db.service", 300);
	f.w.backend.put(300, 3);			// db worker in the cgroup
	REQUIRE(f.w.groups.pin("batch", 100).ok());	// a policy group, funded by a pin
	f.w.groups.apply();
	uint32_t batch = *f.w.groups.gid_of("batch");
	CHECK(batch == LOTTO_POLICY_GID_MIN);
	f.w.backend.put(101, batch);
	f.w.host.sample();
	f.w.backend.task(100).runtime_ns += 100000000;	// root, 300 tickets (policy busy)
	f.w.backend.task(300).runtime_ns += 200000000;	// the cgroup
	f.w.backend.task(101).runtime_ns += 100000000;	// batch
	f.w.host.sample();
	auto g = f.call(R"({"cmd":"groups"})")["result"]["groups"];
	REQUIRE(g.size() == 3);
	CHECK(g[0]["gid"] == 0);
	CHECK(g[0]["kind"] == "root");
	CHECK(g[0]["tasks"] == 2);	// 100 and 200
	CHECK(g[0]["active"] == 1);	// only 100 ran
	CHECK(g[0]["funding"] == 300);	// the active root tasks' tickets
	CHECK(g[1]["gid"] == 3);
	CHECK(g[1]["kind"] == "cgroup");
	CHECK(g[1]["name"] == "/system.slice/db.service");
	CHECK(g[1]["funding"] == 300);
	CHECK(g[1]["source"] == "cpu.weight");
	CHECK(g[2]["gid"] == batch);
	CHECK(g[2]["kind"] == "policy");
	CHECK(g[2]["name"] == "batch");
	CHECK(g[2]["source"] == "pin");
	CHECK(g[2]["funding"] == 100);
	// 300 : 300 : 100 among the active
	CHECK(double(g[0]["ticket_share"]) == Catch::Approx(3.0 / 7));
	CHECK(double(g[1]["ticket_share"]) == Catch::Approx(3.0 / 7));
	CHECK(double(g[2]["ticket_share"]) == Catch::Approx(1.0 / 7));
	CHECK(double(g[1]["cpu_share"]) == Catch::Approx(0.5));
	CHECK(g[1]["delta_ns"] == 200000000);
	// a group with no task that ran has no ticket share and dilutes no one
	f.w.host.sample();
	f.w.backend.task(300).runtime_ns += 1000;
	f.w.host.sample();
	g = f.call(R"({"cmd":"groups"})")["result"]["groups"];
	CHECK(g[1]["ticket_share"] == 1.0);
	CHECK(g[0]["ticket_share"] == 0.0);
	// tasks carries the group, show its name and a transfer's funder
	auto rows = f.call(R"({"cmd":"tasks","pid":300})")["result"]["tasks"];
	CHECK(rows[0]["group"] == 3);
	f.w.backend.task(101).funded_by = 100;
	f.w.backend.task(101).funded_tickets = 300;
	auto d = f.call(R"({"cmd":"show","pid":101})")["result"];
	CHECK(d["group"] == batch);
	CHECK(d["group_name"] == "batch");
	CHECK(d["funded_by"] == 100);
	CHECK(d["funded_tickets"] == 300);
	CHECK(f.call(R"({"cmd":"show","pid":300})")["result"]["group_name"] == "/system.slice/db.service");
}

TEST_CASE("fund pins a policy group's funding by name or gid, saved first; unfund gives it back", "[protocol][groups]")
{
	Fixture f;
	auto r = f.call(R"({"cmd":"fund","group":"uid:1000","funding":250})")["result"];
	CHECK(r["gid"] == LOTTO_POLICY_GID_MIN);
	CHECK(f.w.saved_group_pins == std::map<std::string, uint32_t>{{"uid:1000", 250}});
	CHECK(f.w.backend.group_ctl()[LOTTO_POLICY_GID_MIN].funding == 250);
	// by gid: the same group
	CHECK(f.call(R"({"cmd":"fund","group":"512","funding":400})")["result"]["gid"] == 512);
	CHECK(f.w.saved_group_pins.at("uid:1000") == 400);
	CHECK(f.w.backend.group_ctl()[512].funding == 400);
	// errors, each with its code; nothing changes
	CHECK(f.code(R"({"cmd":"fund","group":"uid:1000","funding":0})") == "out_of_range");
	CHECK(f.code(R"({"cmd":"fund","group":"uid:1000","funding":1000001})") == "out_of_range");
	CHECK(f.code(R"({"cmd":"fund","group":"600","funding":5})") == "no_such_group");
	CHECK(f.code(R"({"cmd":"fund","group":"99999999999","funding":5})") == "no_such_group");
	CHECK(f.code(R"({"cmd":"fund","group":"a b","funding":5})") == "bad_request");
	CHECK(f.code(R"({"cmd":"fund","group":"","funding":5})") == "bad_request");
	CHECK(f.code(R"({"cmd":"fund","funding":5})") == "bad_request");
	CHECK(f.code(json{{"cmd", "fund"}, {"group", std::string(65, 'x')}, {"funding", 5}}.dump()) == "bad_request");
	CHECK(f.code(R"({"cmd":"fund","group":"uid:1000","funding":5})", kUser) == "permission_denied");
	CHECK(f.code(R"({"cmd":"unfund","group":"nobody"})") == "no_such_group");
	f.w.saves_fail = true;
	CHECK(f.code(R"({"cmd":"fund","group":"uid:1000","funding":7})") == "not_saved");
	CHECK(f.code(R"({"cmd":"unfund","group":"uid:1000"})") == "not_saved");
	CHECK(f.w.backend.group_ctl()[512].funding == 400);
	CHECK(f.w.groups.pins().at("uid:1000") == 400);
	f.w.saves_fail = false;
	CHECK(f.call(R"({"cmd":"unfund","group":"uid:1000"})")["ok"] == true);
	CHECK(f.w.saved_group_pins.empty());
	// nobody names it now: its funding is the default again and its gid free
	CHECK(f.w.backend.group_ctl()[512].funding == 0);
	CHECK(!f.w.groups.gid_of("uid:1000"));
}
