// The shell's dispatcher against a real ControlServer (in-process host):
// outputs, JSON, error lines and exit statuses, as `lotto-shell -c` sees them.
#include "test_world.h"

#include "shell.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <fstream>
#include <sstream>

using namespace lotto;
using namespace lotto::shell;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

namespace {

struct CountingWaiter : Waiter {
	int calls = 0, stop_after = 1000000;
	bool wait(double) override { return ++calls < stop_after; }
};

std::string slurp(FILE *f)
{
	fflush(f);
	rewind(f);
	std::string s;
	char b[4096];
	size_t n;
	while ((n = fread(b, 1, sizeof(b), f)) > 0)
		s.append(b, n);
	return s;
}

struct Run {
	Status status;
	std::string out, err;
};

struct ShellFixture {
	ServedWorld s;
	HostClient client{s.path(), 5000};
	CountingWaiter waiter;

	Run run(const std::string &line, bool json = false, bool keep_going = false)
	{
		FILE *out = tmpfile(), *err = tmpfile();
		ShellIo io;
		io.out = out;
		io.err = err;
		Shell sh(client, waiter, io, json);
		Run r{sh.run_line(line, keep_going), "", ""};
		r.out = slurp(out);
		r.err = slurp(err);
		fclose(out);
		fclose(err);
		return r;
	}
};

} // namespace

TEST_CASE("tasks prints a table of every lotto task with tickets and source", "[shell]")
{
	ShellFixture f;
	auto r = f.run("tasks --sort pid");
	REQUIRE(r.status == Status::ok);
	CHECK(r.err.empty());
	CHECK_THAT(r.out, StartsWith("PID"));
	CHECK_THAT(r.out, ContainsSubstring("policy busy"));
	CHECK_THAT(r.out, ContainsSubstring("db worker"));
	CHECK_THAT(r.out, !ContainsSubstring("\033["));	// not a terminal: plain
	auto f2 = f.run("tasks --comm 'edit*' --json");
	auto j = json::parse(f2.out);
	REQUIRE(j["tasks"].size() == 1);
	CHECK(j["tasks"][0]["pid"] == 200);
}

TEST_CASE("a tickets change shows in tasks and unpin all restores the policy's tickets", "[shell]")
{
	ShellFixture f;
	auto r = f.run("tickets 100 777; tasks --pid 100 --json");
	REQUIRE(r.status == Status::ok);
	CHECK_THAT(r.out, StartsWith("pinned 777 tickets on 1 task (100)\n"));
	auto j = json::parse(r.out.substr(r.out.find('{')));
	CHECK(j["tasks"][0]["tickets"] == 777);
	CHECK(j["tasks"][0]["source"] == "pin");
	r = f.run("unpin all; tasks --pid 100 --json");
	REQUIRE(r.status == Status::ok);
	CHECK_THAT(r.out, StartsWith("unpinned 1 task; policies set their tickets again\n"));
	j = json::parse(r.out.substr(r.out.find('{')));
	CHECK(j["tasks"][0]["tickets"] == 300);
	CHECK(j["tasks"][0]["source"] == "policy busy");
}

TEST_CASE("the first error stops a command list unless keep-going", "[shell][errors]")
{
	ShellFixture f;
	auto r = f.run("show 4242; tickets 100 5");
	CHECK(r.status == Status::error);
	CHECK(r.err == "error: no such pid: 4242 is not a lotto task (see `tasks` for the list)\n");
	CHECK(r.out.empty());
	f.s.pause();
	CHECK(f.s.world.book.pins().empty());	// the second command never ran
	f.s.resume();
	r = f.run("show 4242; tickets 100 5", false, true);
	CHECK(r.status == Status::error);
	CHECK_THAT(r.out, ContainsSubstring("pinned 5 tickets"));
}

TEST_CASE("each error path prints one line that says what to do", "[shell][errors]")
{
	ShellFixture f;
	CHECK(f.run("taks").err == "error: unknown command 'taks': did you mean 'tasks'? (type help for the list)\n");
	CHECK(f.run("tickets 100 0").err == "error: tickets out of range: 0 (use 1..1000000)\n");
	CHECK(f.run("tickets 'zz*' 5").err == "error: no lotto task has a comm matching 'zz*' (see `tasks`)\n");
	CHECK(f.run("unpin 200").err == "error: pid 200 is not pinned (nothing to unpin)\n");
	CHECK(f.run("policy unload nope").err == "error: no policy named 'nope' (see `policy list`)\n");
	CHECK_THAT(f.run("policy load /no/such/file.lua").err,
		   StartsWith("error: cannot load /no/such/file.lua: No such file or directory"));
	CHECK(f.run("lua +").err == "error: [string \"expr\"]:1: unexpected symbol near '+'\n");
	for (auto line : {"taks", "tickets 100 0", "show 4242"}) {
		auto r = f.run(line);
		CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
	}
}

TEST_CASE("a host that is not running gets the start hint", "[shell][errors]")
{
	HostClient c("/nonexistent/lotto.sock", 1000);
	CountingWaiter w;
	FILE *out = tmpfile(), *err = tmpfile();
	ShellIo io;
	io.out = out;
	io.err = err;
	Shell sh(c, w, io, false);
	CHECK(sh.run_line("stats", false) == Status::error);
	std::string e = slurp(err);
	CHECK(e == "error: cannot reach lotto-host at /nonexistent/lotto.sock (No such file or directory): is lotto-host "
		   "running? start it with: sudo lotto-host --socket /nonexistent/lotto.sock policies/nice_weighted.lua\n");
	CHECK(sh.run_line("stats --json", false) == Status::error);
	auto j = json::parse(slurp(out));
	CHECK(j["ok"] == false);
	CHECK(j["error"]["code"] == "unreachable");
	fclose(out);
	fclose(err);
}

TEST_CASE("help needs no host", "[shell]")
{
	HostClient c("/nonexistent/lotto.sock", 1000);
	CountingWaiter w;
	FILE *out = tmpfile();
	ShellIo io;
	io.out = out;
	Shell sh(c, w, io, false);
	CHECK(sh.run_line("help; help boost", false) == Status::ok);
	CHECK_THAT(slurp(out), ContainsSubstring("usage: boost PID xF [for DURATION]"));
	fclose(out);
}

TEST_CASE("json output gives stable objects for every command", "[shell][json]")
{
	ShellFixture f;
	auto one = [&](const std::string &line) {
		auto r = f.run(line, true);
		INFO(line << "\n" << r.out << r.err);
		REQUIRE(r.status == Status::ok);
		auto j = json::parse(r.out, nullptr, false);
		REQUIRE(j.is_object());
		return j;
	};
	CHECK(one("tasks")["tasks"].size() == 4);
	CHECK(one("show 100")["pid"] == 100);
	CHECK(one("stats")["backend"] == "fake");
	CHECK(one("shares")["tasks"][0].contains("cpu_share"));
	auto d = one("draw 1000 --seed 3");
	CHECK(d["draws"] == 1000);
	CHECK(d["seed"] == 3);
	CHECK(d["tasks"].size() == 4);
	CHECK(one("policy list")["policies"][0]["name"] == "busy");
	CHECK(one("policy errors")["errors"].is_array());
	CHECK(one("tickets stress 10")["pinned"].size() == 2);
	CHECK(one("boost 200 x3 for 10s")["factor"] == 3.0);
	CHECK(one("unpin 200")["unpinned"] == 1);
	CHECK(one("lua #tasks")["value"] == "4");
	CHECK(one("help tasks")["commands"][0]["name"] == "tasks");
	auto bad = f.run("tickets 100 0", true);
	CHECK(json::parse(bad.out)["error"]["code"] == "usage");
	CHECK(bad.err.empty());
}

TEST_CASE("draw prints winners against the theoretical share", "[shell][draw]")
{
	ShellFixture f;
	auto r = f.run("draw 20000 --seed 5");
	REQUIRE(r.status == Status::ok);
	CHECK_THAT(r.out, StartsWith("20000 draws, seed 5, 800 tickets in all"));
	CHECK_THAT(r.out, ContainsSubstring("EXPECTED%"));
	CHECK_THAT(r.out, ContainsSubstring("37.50"));	// 300 of 800 tickets
	CHECK(r.out == f.run("draw 20000 --seed 5").out);
}

TEST_CASE("watch repeats its command until interrupted and then returns to the shell", "[shell][watch]")
{
	ShellFixture f;
	f.waiter.stop_after = 3;
	auto r = f.run("watch stats 0.1; tasks --top 1");
	REQUIRE(r.status == Status::ok);
	size_t frames = 0;
	for (size_t p = 0; (p = r.out.find("backend", p)) != std::string::npos; p++)
		frames++;
	CHECK(frames == 3);
	CHECK_THAT(r.out, ContainsSubstring("PID"));	// the next command ran
}

TEST_CASE("export csv writes the header and one block of rows per sample", "[shell][csv]")
{
	ShellFixture f;
	std::string file = std::filesystem::path(temp_socket_path("csv")).replace_extension(".csv");
	auto r = f.run("export csv " + file + " --interval 0.1 --count 3");
	REQUIRE(r.status == Status::ok);
	CHECK(r.out == "exported 3 samples (12 rows) to " + file + "\n");
	std::ifstream in(file);
	std::string header;
	std::getline(in, header);
	CHECK(header == "iteration,timestamp,pid,comm,runtime_ns,delta_ns,rolling_runtime_ms,wins,nice,tickets,ticket_share,cpu_share");
	int rows = 0;
	std::string last;
	for (std::string l; std::getline(in, l); rows++)
		last = l;
	CHECK(rows == 12);
	CHECK_THAT(last, StartsWith("3,"));
	CHECK_THAT(last, ContainsSubstring(",db worker,"));
	// --groups: one row per group (here the root only)
	r = f.run("export csv " + file + " --interval 0.1 --count 2 --groups");
	REQUIRE(r.status == Status::ok);
	CHECK(r.out == "exported 2 samples (2 rows) to " + file + "\n");
	std::ifstream gin(file);
	std::getline(gin, header);
	CHECK(header == "iteration,timestamp,gid,kind,name,funding,tasks,active,runtime_ns,delta_ns,ticket_share,cpu_share");
	std::getline(gin, last);
	CHECK_THAT(last, StartsWith("1,"));
	CHECK_THAT(last, ContainsSubstring(",0,root,,"));
	auto bad = f.run("export csv /nonexistent-dir/x.csv");
	CHECK_THAT(bad.err, StartsWith("error: cannot write /nonexistent-dir/x.csv: No such file or directory"));
}

TEST_CASE("groups lists the currencies; fund pins a policy group's funding and off unpins it", "[shell][groups]")
{
	ShellFixture f;
	auto r = f.run("fund uid:1000 250; groups");
	REQUIRE(r.status == Status::ok);
	CHECK_THAT(r.out, StartsWith("pinned funding 250 on group uid:1000 (gid 512)\n"));
	CHECK_THAT(r.out, ContainsSubstring("GID"));
	CHECK_THAT(r.out, ContainsSubstring("uid:1000"));
	CHECK_THAT(r.out, ContainsSubstring("root"));
	r = f.run("groups --json");
	auto j = json::parse(r.out);
	REQUIRE(j["groups"].size() == 2);
	CHECK(j["groups"][1]["funding"] == 250);
	CHECK(j["groups"][1]["source"] == "pin");
	r = f.run("tasks --pid 100");
	CHECK_THAT(r.out, ContainsSubstring("GROUP"));
	r = f.run("fund 512 off");
	CHECK(r.out == "unpinned the funding of group 512; its policy funds it again\n");
	// errors: in the shell before anything is sent, and from the host
	CHECK(f.run("fund uid:1000 0").err == "error: funding out of range: 0 (use 1..1000000)\n");
	CHECK(f.run("fund uid:1000 lots").err == "error: not a funding: 'lots' (use an integer 1..1000000, or off)\n");
	CHECK_THAT(f.run("fund 600 5").err, StartsWith("error: group 600 is not a policy group in use"));
	CHECK_THAT(f.run("fund 'a b' 5").err, ContainsSubstring("has a character other than"));
	CHECK_THAT(f.run("help fund").out, ContainsSubstring("needs root or the host's admin group"));
}
