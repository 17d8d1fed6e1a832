// The workload file: what it accepts, and one "FILE:LINE: message" line for
// every kind of bad input.
#include "sim_test_util.h"

#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <filesystem>
#include <fstream>

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

TEST_CASE("a workload file declares CPUs, a tick and tasks with every key", "[workload]")
{
	auto w = parse_workload("# comment line\n"
				"cpus 3   # trailing comment\n"
				"tick 4ms\n"
				"stall 5% 60ms\n"
				"\n"
				"task name=hog nice=-5 uid=1000 cgroup=/user.slice cpu=100% count=4\n"
				"task name=io nice=5 run=2ms sleep=8ms pin=0,2 start=1s stop=30s\n"
				"\ttask name=web threads=8 cpu=25% period=40ms tickets=300\n"
				"task\n",
				"w.txt");
	REQUIRE(w);
	CHECK(w->cpus == 3);
	CHECK(w->tick_ns == 4 * kMs);
	CHECK(w->stall_pct == 5);
	CHECK(w->stall_mean_ns == 60 * kMs);
	REQUIRE(w->tasks.size() == 4);
	const TaskSpec &hog = w->tasks[0];
	CHECK(hog.line == 6);
	CHECK(hog.name == "hog");
	CHECK(hog.nice == -5);
	CHECK(hog.uid == 1000);
	CHECK(hog.cgroup == "/user.slice");
	CHECK(hog.run_ns == 0);
	CHECK(hog.count == 4);
	const TaskSpec &io = w->tasks[1];
	CHECK(io.run_ns == 2 * kMs);
	CHECK(io.sleep_ns == 8 * kMs);
	REQUIRE(io.pin);
	CHECK(io.pin->test(0));
	CHECK_FALSE(io.pin->test(1));
	CHECK(io.pin->test(2));
	CHECK(io.start_ns == 1 * kSec);
	CHECK(io.stop_ns == 30 * kSec);
	const TaskSpec &web = w->tasks[2];
	CHECK(web.threads == 8);
	CHECK(web.run_ns == 10 * kMs);
	CHECK(web.sleep_ns == 30 * kMs);
	CHECK(web.tickets == 300);
	CHECK(w->tasks[3].name == "task");
	CHECK(w->nr_threads() == 4 + 1 + 8 + 1);
}

TEST_CASE("durations and CPU lists parse as documented", "[workload]")
{
	CHECK(*parse_duration_ns("0") == 0);
	CHECK(*parse_duration_ns("250ns") == 250);
	CHECK(*parse_duration_ns("500us") == 500000);
	CHECK(*parse_duration_ns("1.5s") == 1500000000);
	CHECK(*parse_duration_ns("2min") == 120 * kSec);
	CHECK_FALSE(parse_duration_ns("5"));
	CHECK_FALSE(parse_duration_ns("-1ms"));
	CHECK_FALSE(parse_duration_ns("ms"));
	CHECK_FALSE(parse_duration_ns("3hours"));
	auto s = parse_cpu_list("1-3,7");
	REQUIRE(s);
	CHECK(s->count() == 4);
	CHECK(s->test(7));
	CHECK_FALSE(s->test(0));
	CHECK_FALSE(parse_cpu_list("3-1"));
	CHECK_FALSE(parse_cpu_list("0,,1"));
	CHECK_FALSE(parse_cpu_list("1024"));
}

TEST_CASE("every bad workload line is one error naming the file and line", "[workload]")
{
	struct Bad {
		const char *text;
		const char *msg;
	};
	auto bad = GENERATE(
		Bad{"cpus 0", "w.txt:1: cpus: '0' is not a number in 1..1024"},
		Bad{"cpus 2\ncpus 3", "w.txt:2: cpus given twice"},
		Bad{"cpus", "w.txt:1: usage: cpus N (1..1024)"},
		Bad{"cpus two", "w.txt:1: cpus: 'two' is not a number in 1..1024"},
		Bad{"tick 4", "w.txt:1: tick: '4' needs a unit: ns, us, ms, s or min"},
		Bad{"tick 2s", "w.txt:1: tick: '2s' is longer than 1s"},
		Bad{"tick 1ms\ntick 2ms", "w.txt:2: tick given twice"},
		Bad{"tasks name=x", "w.txt:1: unknown directive 'tasks' (expected cpus, tick, stall, cgroup or task)"},
		Bad{"stall 5 60ms", "w.txt:1: usage: stall P% DURATION (e.g. stall 5% 60ms: one quantum in 20 lasts 60 ms "
				    "longer on average)"},
		Bad{"stall 0% 60ms", "w.txt:1: stall: '0%' is not a percentage in 1%..100%"},
		Bad{"stall 5% 0", "w.txt:1: stall: '0' is not a duration in (0, 1s]"},
		Bad{"stall 5% 1ms\nstall 5% 2ms", "w.txt:2: stall given twice"},
		Bad{"task name", "w.txt:1: expected key=value, got 'name'"},
		Bad{"task =x", "w.txt:1: expected key=value, got '=x'"},
		Bad{"task name=", "w.txt:1: 'name' has no value"},
		Bad{"task name=a name=b", "w.txt:1: 'name' given twice"},
		Bad{"task colour=red", "w.txt:1: unknown key 'colour' (known: name nice uid cgroup cpu period run sleep "
				       "pin start stop count threads tickets serve tail call)"},
		Bad{"task serve=0", "w.txt:1: serve: must be longer than 0"},
		Bad{"task run=1ms tail=50us", "w.txt:1: tail= needs serve= (a server's CPU between a reply and its next "
					      "read)"},
		Bad{"task serve=1ms tail=x", "w.txt:1: tail: 'x' is not a duration (e.g. 500us, 20ms, 1.5s)"},
		Bad{"task serve=2ms run=1ms", "w.txt:1: serve= excludes cpu=, run=, sleep= and call= (a server runs serve= "
					      "per call)"},
		Bad{"task name=s serve=2ms\ntask call=s", "w.txt:2: call= needs run= (the client's CPU time between calls) "
							"and no cpu= or sleep="},
		Bad{"task call=s run=1ms sleep=1ms", "w.txt:1: call= needs run= (the client's CPU time between calls) and "
						     "no cpu= or sleep="},
		Bad{"task name=c call=nobody run=1ms", "w.txt:1: call=nobody: no task named 'nobody' has serve="},
		Bad{"task name=s serve=1ms count=2\ntask call=s run=1ms count=3",
		    "w.txt:2: call=s: 3 client threads for 2 server threads (one each; raise the servers' count=)"},
		Bad{"task nice=20", "w.txt:1: nice: '20' is not a number in -20..19"},
		Bad{"task nice=x", "w.txt:1: nice: 'x' is not a number in -20..19"},
		Bad{"task uid=-1", "w.txt:1: uid: '-1' is not a number in 0..4294967294"},
		Bad{"task cgroup=user.slice", "w.txt:1: cgroup: 'user.slice' must be an absolute path such as /user.slice (no empty, '.' or '..' part, no trailing '/')"},
		Bad{"task cgroup=/a/", "w.txt:1: cgroup: '/a/' must be an absolute path such as /user.slice (no empty, '.' or '..' part, no trailing '/')"},
		Bad{"task cgroup=/a//b", "w.txt:1: cgroup: '/a//b' must be an absolute path such as /user.slice (no empty, '.' or '..' part, no trailing '/')"},
		Bad{"task cgroup=/a/../b", "w.txt:1: cgroup: '/a/../b' must be an absolute path such as /user.slice (no empty, '.' or '..' part, no trailing '/')"},
		Bad{"task cgroup=/./a", "w.txt:1: cgroup: '/./a' must be an absolute path such as /user.slice (no empty, '.' or '..' part, no trailing '/')"},
		Bad{"cgroup /a/ weight=5", "w.txt:1: cgroup: '/a/' must be an absolute path below the root, such as /a or /a/b"},
		Bad{"cgroup / weight=5", "w.txt:1: cgroup: '/' must be an absolute path below the root, such as /a or /a/b"},
		Bad{"task cpu=0%", "w.txt:1: cpu: '0%' is not a percentage in 1%..100%"},
		Bad{"task cpu=150%", "w.txt:1: cpu: '150%' is not a percentage in 1%..100%"},
		Bad{"task cpu=50% run=1ms", "w.txt:1: cpu= and run=/sleep= exclude each other (cpu=P% is run=P% of period=)"},
		Bad{"task period=10ms", "w.txt:1: period= only goes with cpu=P%"},
		Bad{"task sleep=10ms", "w.txt:1: sleep= needs run= (the CPU time between two sleeps)"},
		Bad{"task run=0", "w.txt:1: run: must be longer than 0"},
		Bad{"task run=5", "w.txt:1: run: '5' needs a unit: ns, us, ms, s or min"},
		Bad{"task run=1ms sleep=2weeks", "w.txt:1: sleep: '2weeks' has an unknown unit 'weeks' (ns, us, ms, s or min)"},
		Bad{"task pin=a", "w.txt:1: pin: 'a' is not a CPU list such as 0 or 0,2 or 1-3 (CPUs 0..1023)"},
		Bad{"task start=5s stop=2s", "w.txt:1: stop= must be later than start="},
		Bad{"task count=0", "w.txt:1: count: '0' is not a number in 1..1000000"},
		Bad{"task threads=many", "w.txt:1: threads: 'many' is not a number in 1..1000000"},
		Bad{"task tickets=0", "w.txt:1: tickets: '0' is not a number in 1..1000000"},
		Bad{"task count=1000 threads=1000\ntask", "w.txt:2: the workload declares 1000001 threads; at most 1000000"},
		Bad{"\n\n  # fine\ntask name=ok\ntask nice=99", "w.txt:5: nice: '99' is not a number in -20..19"});
	auto w = parse_workload(bad.text, "w.txt");
	REQUIRE_FALSE(w);
	CHECK(w.error().msg == bad.msg);
	CHECK(w.error().msg.find('\n') == std::string::npos);
}

TEST_CASE("a workload file that cannot be read is a one-line error naming it", "[workload]")
{
	auto missing = load_workload("/nonexistent/lotto.wl");
	REQUIRE_FALSE(missing);
	CHECK_THAT(missing.error().msg, StartsWith("/nonexistent/lotto.wl: cannot open the workload file"));
	auto dir = load_workload("/tmp");
	REQUIRE_FALSE(dir);
	CHECK_THAT(dir.error().msg, StartsWith("/tmp: not a regular file"));

	auto path = std::filesystem::temp_directory_path() / "lotto-sim-test-bad.wl";
	std::ofstream(path) << "cpus 1\ntask name=ok\ntask nice=-21\n";
	auto bad = load_workload(path.string());
	std::filesystem::remove(path);
	REQUIRE_FALSE(bad);
	CHECK(bad.error().msg == path.string() + ":3: nice: '-21' is not a number in -20..19");
}

TEST_CASE("binary junk gives an error, not a crash", "[workload]")
{
	std::string junk("task \0\xff\xfe name=\x01", 17);
	auto w = parse_workload(junk, "junk");
	REQUIRE_FALSE(w);
	CHECK_THAT(w.error().msg, StartsWith("junk:1: "));
}

TEST_CASE("the built-in workload parses and runs", "[workload]")
{
	auto w = parse_workload(default_workload_text(), "default");
	REQUIRE(w);
	CHECK(w->cpus == 0);	// the host's CPUs or --sim-cpus
	CHECK(default_workload().nr_threads() == w->nr_threads());
	BackendConfig cfg;
	cfg.sim_cpus = 2;
	auto m = SimMachine::create(*w, cfg);
	REQUIRE(m);
	(*m)->run_for(5 * kSec);
	CHECK((*m)->nr_cpus() == 2);
	CHECK((*m)->nr_alive() == w->nr_threads());
	for (uint32_t pid : (*m)->pids())
		CHECK((*m)->thread(pid)->runtime_ns > 0);
}

TEST_CASE("every shipped example workload parses and runs", "[workload]")
{
	namespace fs = std::filesystem;
	int n = 0;
	for (auto &e : fs::directory_iterator(LOTTO_SIM_WORKLOADS)) {
		if (e.path().extension() != ".wl")
			continue;
		INFO(e.path());
		auto w = load_workload(e.path().string());
		REQUIRE(w);
		BackendConfig cfg;
		cfg.sim_cpus = w->cpus ? 0 : 2;
		auto m = SimMachine::create(*w, cfg);
		REQUIRE(m);
		(*m)->run_for(2 * kSec);
		n++;
	}
	CHECK(n >= 4);
}
