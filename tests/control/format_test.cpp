#include "csv_export.h"
#include "draw_sim.h"
#include "text_table.h"
#include "views.h"

#include "control/protocol.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <limits>
#include <sstream>

using namespace lotto;
using namespace lotto::shell;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::WithinAbs;

static TaskRow row(uint32_t pid, const char *comm, uint32_t tickets, uint64_t runtime)
{
	TaskRow r;
	r.pid = pid;
	r.comm = comm;
	r.tickets = tickets;
	r.runtime_ns = runtime;
	r.wins = pid;
	r.nice = -1;
	return r;
}

static std::vector<std::string> lines(const std::string &s)
{
	std::vector<std::string> v;
	std::istringstream in(s);
	for (std::string l; std::getline(in, l);)
		v.push_back(l);
	return v;
}

TEST_CASE("the CSV header has exactly the documented columns", "[csv]")
{
	CHECK(CsvSampler::header() ==
	      "iteration,timestamp,pid,comm,runtime_ns,delta_ns,rolling_runtime_ms,wins,nice,tickets,ticket_share,cpu_share\n");
}

TEST_CASE("CSV rows carry deltas since the previous sample and a rolling window", "[csv]")
{
	CsvSampler s;
	s.baseline({row(1, "a", 100, 1000000), row(2, "b,c", 300, 0)});
	auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
	auto l1 = lines(s.sample(1, t, {row(1, "a", 100, 4000000), row(2, "b,c", 300, 1000000)}));
	REQUIRE(l1.size() == 2);
	CHECK(l1[0] == "1,1700000000.123,1,a,4000000,3000000,3.000,1,-1,100,0.250000,0.750000");
	CHECK(l1[1] == "1,1700000000.123,2,\"b,c\",1000000,1000000,1.000,2,-1,300,0.750000,0.250000");
	auto l2 = lines(s.sample(2, t, {row(1, "a", 100, 6000000), row(3, "new", 100, 2000000)}));
	REQUIRE(l2.size() == 2);
	CHECK(l2[0] == "2,1700000000.123,1,a,6000000,2000000,5.000,1,-1,100,0.500000,0.500000");
	CHECK(l2[1] == "2,1700000000.123,3,new,2000000,2000000,2.000,3,-1,100,0.500000,0.500000");
	for (int i = 3; i < 10; i++)
		s.sample(i, t, {row(1, "a", 100, 6000000 + i * 1000000ull)});
	auto l3 = lines(s.sample(10, t, {row(1, "a", 100, 16000000)}));
	// the rolling window holds the last 5 deltas of 1 ms each
	CHECK_THAT(l3[0], ContainsSubstring(",1000000,5.000,"));
}

TEST_CASE("group CSV rows: the documented columns, deltas of the core's runtime per group", "[csv][groups]")
{
	CHECK(GroupCsvSampler::header() ==
	      "iteration,timestamp,gid,kind,name,funding,tasks,active,runtime_ns,delta_ns,ticket_share,cpu_share\n");
	auto g = [](uint32_t gid, const char *kind, const char *name, uint64_t runtime) {
		control::GroupRow r;
		r.gid = gid;
		r.kind = kind;
		r.name = name;
		r.funding = 100;
		r.tasks = 2;
		r.active = 1;
		r.ticket_share = 0.5;
		r.runtime_ns = runtime;
		return r;
	};
	GroupCsvSampler s;
	s.baseline({g(0, "root", "", 1000), g(512, "policy", "uid:1000", 5000)});
	auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
	auto l1 = lines(s.sample(1, t, {g(0, "root", "", 4000), g(512, "policy", "uid:1000", 6000)}));
	REQUIRE(l1.size() == 2);
	CHECK(l1[0] == "1,1700000000.123,0,root,,100,2,1,4000,3000,0.500000,0.750000");
	CHECK(l1[1] == "1,1700000000.123,512,policy,uid:1000,100,2,1,6000,1000,0.500000,0.250000");
	// gid 512 now names another group: all of its runtime is new
	auto l2 = lines(s.sample(2, t, {g(512, "policy", "a,b", 700)}));
	CHECK(l2[0] == "2,1700000000.123,512,policy,\"a,b\",100,2,1,700,700,0.500000,1.000000");
}

TEST_CASE("CSV fields with commas, quotes or newlines are quoted", "[csv]")
{
	CHECK(CsvSampler::escape("plain") == "plain");
	CHECK(CsvSampler::escape("a\"b") == "\"a\"\"b\"");
	CHECK(CsvSampler::escape("x\ny") == "\"x\ny\"");
}

TEST_CASE("task rows survive the JSON round trip with the documented names", "[json]")
{
	TaskRow r = row(42, "w\"eird", 777, 123456789012ull);
	r.user = "alice";
	r.uid = 1000;
	r.source = "policy nice_weighted";
	r.pinned = true;
	r.boost = 2.5;
	r.ticket_share = 0.25;
	r.cpu_share = 0.5;
	r.cpu_pct = 97.5;
	r.wait_avg_ns = 5;
	r.wait_max_ns = 9;
	control::json j = control::to_json(r);
	for (auto k : {"pid", "tgid", "comm", "uid", "user", "nice", "tickets", "source", "pinned", "boost",
		       "ticket_share", "cpu_share", "cpu_pct", "runtime_ns", "delta_ns", "wins", "wait_avg_ns",
		       "wait_max_ns", "waits", "rescues", "cgroup_id", "last_cpu", "group"})
		CHECK(j.contains(k));
	CHECK(j.size() == 23);
	auto back = control::task_row_from_json(control::json::parse(j.dump()));
	REQUIRE(back.ok());
	CHECK(back->comm == "w\"eird");
	CHECK(back->runtime_ns == 123456789012ull);
	CHECK(back->source == "policy nice_weighted");
	CHECK(back->boost == 2.5);
	CHECK(back->nice == -1);
}

TEST_CASE("decoding a reply with a wrongly typed field names the field", "[json]")
{
	auto j = control::json::parse(R"({"pid":"12"})");
	auto r = control::task_row_from_json(j);
	REQUIRE_FALSE(r.ok());
	CHECK(r.error().msg == "bad task row from host: field 'pid'");
}

TEST_CASE("stats and task details round-trip through JSON", "[json]")
{
	control::HostStats s;
	s.backend = "sim";
	s.state = "exited";
	s.exit = ExitInfo{1024, 7, "unregistered", "SysRq-S"};
	s.per_cpu.resize(2);
	s.per_cpu[1][LOTTO_STAT_DRAWS] = 9;
	s.total[LOTTO_STAT_RESCUES] = 3;
	auto j = control::to_json(s);
	CHECK(j["counters"]["rescues"] == 3);
	CHECK(j["per_cpu"][1]["draws"] == 9);
	auto b = control::host_stats_from_json(j);
	REQUIRE(b.ok());
	REQUIRE(b->exit);
	CHECK(b->exit->reason == "unregistered");
	CHECK(b->per_cpu.size() == 2);
	CHECK(b->total[LOTTO_STAT_RESCUES] == 3);

	control::TaskDetail d;
	d.row = row(5, "x", 10, 0);
	d.pin = 10;
	auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000456));
	d.history.push_back({when, 10, "pin"});
	auto dj = control::to_json(d);
	CHECK(dj["history"][0]["time"] == "2023-11-14T22:13:20.456Z");
	auto db = control::task_detail_from_json(dj);
	REQUIRE(db.ok());
	CHECK(db->pin == 10u);
	REQUIRE(db->history.size() == 1);
	CHECK(db->history[0].when == when);

	d.row.group = 513;
	d.group_name = "uid:1000";
	d.funded_by = 42;
	d.funded_tickets = 800;
	db = control::task_detail_from_json(control::to_json(d));
	REQUIRE(db.ok());
	CHECK(db->row.group == 513);
	CHECK(db->group_name == "uid:1000");
	CHECK(db->funded_by == 42);
	CHECK(db->funded_tickets == 800);
}

TEST_CASE("group rows round-trip through JSON and render as a table", "[json][groups]")
{
	control::GroupRow g;
	g.gid = 512;
	g.kind = "policy";
	g.name = "uid:1000";
	g.funding = 300;
	g.source = "policy fair_share";
	g.transfers = true;
	g.tasks = 3;
	g.active = 2;
	g.ticket_share = 0.5;
	g.cpu_share = 0.25;
	g.wins = 9;
	auto j = control::to_json(g);
	for (auto k : {"gid", "kind", "name", "cgroup_id", "funding", "source", "weight", "transfers", "transfers_in",
		       "tasks", "active", "ticket_share", "cpu_share", "cpu_pct", "runtime_ns", "delta_ns", "wins"})
		CHECK(j.contains(k));
	CHECK(j.size() == 17);
	auto b = control::group_row_from_json(j);
	REQUIRE(b.ok());
	CHECK(b->name == "uid:1000");
	CHECK(b->transfers);
	CHECK(!b->transfers_in);
	CHECK(b->ticket_share == 0.5);
	auto bad = control::group_row_from_json(control::json{{"gid", "x"}});
	REQUIRE(!bad.ok());
	CHECK_THAT(bad.error().msg, Catch::Matchers::ContainsSubstring("'gid'"));
	std::string t = shell::render_groups({g}, shell::Style{});
	CHECK_THAT(t, Catch::Matchers::ContainsSubstring("uid:1000"));
	CHECK_THAT(t, Catch::Matchers::ContainsSubstring("policy fair_share"));
	CHECK_THAT(t, Catch::Matchers::ContainsSubstring("50.0"));
	CHECK_THAT(t, Catch::Matchers::ContainsSubstring("xfer"));
	CHECK(shell::render_groups({}, shell::Style{}) == "this backend has no groups\n");
}

TEST_CASE("tables fit the terminal by dropping the least important columns", "[table]")
{
	std::vector<TaskRow> rows{row(1, "a-very-long-command", 100, 0), row(22, "b", 5, 0)};
	rows[0].user = rows[1].user = "someone";
	rows[0].source = rows[1].source = "policy nice_weighted";
	std::string wide = render_tasks(rows, Style{0, false});
	CHECK_THAT(wide, ContainsSubstring("MAXWAIT"));
	CHECK_THAT(wide, ContainsSubstring("a-very-long-command"));
	std::string narrow = render_tasks(rows, Style{40, false});
	for (auto &l : lines(narrow))
		CHECK(display_width(l) <= 40);
	CHECK_THAT(narrow, ContainsSubstring("TICKETS"));
	CHECK_THAT(narrow, !ContainsSubstring("MAXWAIT"));
	CHECK_THAT(narrow, !ContainsSubstring("\033["));	// plain when not a terminal
	CHECK_THAT(render_tasks(rows, Style{120, true}), ContainsSubstring("\033[1m"));
}

TEST_CASE("task queries filter, sort and cut", "[table]")
{
	std::vector<TaskRow> rows{row(3, "stress", 10, 0), row(1, "stress", 30, 0), row(2, "editor", 20, 0)};
	rows[2].user = "bob";
	rows[2].uid = 1001;
	auto v = rows;
	apply_query(v, TaskQuery{"tickets", "", "", {}, {}});
	CHECK(v[0].pid == 1);
	CHECK(v[2].pid == 3);
	v = rows;
	apply_query(v, TaskQuery{"pid", "str*", "", {}, 1});
	REQUIRE(v.size() == 1);
	CHECK(v[0].pid == 1);
	v = rows;
	apply_query(v, TaskQuery{"pid", "", "1001", {}, {}});
	REQUIRE(v.size() == 1);
	CHECK(v[0].comm == "editor");
}

TEST_CASE("the shares chart draws one ticket bar and one CPU bar per task", "[table][shares]")
{
	std::vector<TaskRow> rows{row(1, "a", 75, 0), row(2, "b", 25, 0)};
	rows[0].ticket_share = 0.75;
	rows[0].cpu_share = 0.5;
	rows[1].ticket_share = 0.25;
	rows[1].cpu_share = 0.5;
	auto l = lines(render_shares(rows, Style{60, false}));
	REQUIRE(l.size() == 5);
	CHECK_THAT(l[1], ContainsSubstring("T  75.0% "));
	CHECK_THAT(l[2], ContainsSubstring("C  50.0% "));
	// the longest bar fills the width; a 50% bar is two thirds of it
	size_t full = std::count(l[1].begin(), l[1].end(), '#');
	size_t half = std::count(l[2].begin(), l[2].end(), '#');
	CHECK(full > 20);
	CHECK(half == full * 2 / 3);
}

TEST_CASE("simulated draws follow the ticket shares and repeat with the seed", "[draw]")
{
	std::vector<DrawTask> t{{1, "a", 100}, {2, "b", 300}, {3, "c", 600}};
	auto r = simulate_draws(t, 200000, 7);
	CHECK(r.total_tickets == 1000);
	CHECK(r.rows[0].wins + r.rows[1].wins + r.rows[2].wins == 200000);
	CHECK_THAT(r.rows[2].share, WithinAbs(0.6, 0.01));
	CHECK_THAT(r.rows[0].share, WithinAbs(0.1, 0.01));
	CHECK(r.max_abs_z < 5);
	auto again = simulate_draws(t, 200000, 7);
	CHECK(again.rows[1].wins == r.rows[1].wins);
	auto other = simulate_draws(t, 200000, 8);
	CHECK(other.rows[1].wins != r.rows[1].wins);
}

TEST_CASE("durations print in the unit that reads best", "[table]")
{
	CHECK(format_ns(0) == "0");
	CHECK(format_ns(999) == "999ns");
	CHECK(format_ns(850000) == "850us");
	CHECK(format_ns(12300000) == "12.3ms");
	CHECK(format_ns(4500000000ull) == "4.50s");
	CHECK(format_ns(185000000000ull) == "3m05s");
}

TEST_CASE("the task list text is byte for byte what dumping each row's JSON gives", "[json]")
{
	std::vector<TaskRow> rows;
	for (const char *comm : {"plain", "w\"eird\\", "tab\there", "caf\xc3\xa9", "bad\xff\xfe", "", "nl\n"})
		rows.push_back(row(uint32_t(rows.size() + 1), comm, 7, 123456789012ull));
	rows[0].boost = 2.5;
	rows[1].ticket_share = 1.0 / 3.0;
	rows[2].cpu_share = 1e-7;
	rows[3].cpu_pct = 123456789.125;
	rows[4].nice = -20;
	rows[4].user = "\x01";
	rows[5].source = "policy nice_weighted (boost x2.00)";
	rows[6].cpu_pct = std::numeric_limits<double>::quiet_NaN();
	rows[6].last_cpu = UINT32_MAX;
	rows[6].wins = UINT64_MAX;
	control::json a = control::json::array();
	for (auto &r : rows)
		a.push_back(control::to_json(r));
	CHECK(control::task_list_text(rows) ==
	      control::json{{"tasks", a}}.dump(-1, ' ', false, control::json::error_handler_t::replace));
	CHECK(control::task_list_text({}) == "{\"tasks\":[]}");
}

TEST_CASE("a reply's result text is found without parsing it, and only in an ok reply for that id", "[json]")
{
	using control::json;
	std::string line = control::reply_ok(json(7), control::Body::encoded("{\"tasks\":[]}"));
	CHECK(line == "{\"id\":7,\"ok\":true,\"result\":{\"tasks\":[]}}\n");
	CHECK(control::ok_result_text(line, json(7)) == std::string_view("{\"tasks\":[]}"));
	CHECK_FALSE(control::ok_result_text(line, json(8)));
	CHECK(control::reply_ok(json(7), control::Body(json{{"tasks", json::array()}})) == line);
	CHECK(control::reply_ok(nullptr, control::Body::encoded("1")) == "{\"ok\":true,\"result\":1}\n");
	std::string e = control::reply_error(json(7), control::HostError{control::ErrorCode::busy, "x"});
	CHECK_FALSE(control::ok_result_text(e, json(7)));
}
