// lotto-host's command line and config file: every bad value is one line
// naming the option, and the command line wins over the file.
#include "daemon/options.h"

#include <catch2/catch_test_macros.hpp>
#include <sys/stat.h>
#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace lotto;

static Result<Options> parse(std::vector<std::string> args)
{
	std::vector<char *> av;
	static std::string prog = "lotto-host";
	av.push_back(prog.data());
	for (auto &a : args)
		av.push_back(a.data());
	av.push_back(nullptr);
	return parse_options(int(av.size()) - 1, av.data());
}

TEST_CASE("defaults follow the issue: 100 tickets, 20 ms slices, compensation on", "[options]")
{
	auto o = parse({"--no-state"});
	REQUIRE(o);
	CHECK(o->backend == "auto");
	CHECK(o->backend_cfg.default_tickets == 100);
	CHECK(o->backend_cfg.slice_us == 20000);
	CHECK(o->backend_cfg.compensation);
	CHECK(o->backend_cfg.starve_ms < 30000);
	CHECK(o->backend_cfg.handoff_us == 0);	// an idle CPU first, else the waker's
}

TEST_CASE("out-of-range and malformed values are refused with the option's name", "[options]")
{
	for (auto bad : std::vector<std::vector<std::string>>{{"--default-tickets", "0"},
							      {"--default-tickets", "1000001"},
							      {"--default-tickets", "12x"},
							      {"--slice-us", "-5"},
							      {"--starve-ms", "999999"},
							      {"--handoff-us", "10001"},
							      {"--handoff-us", "-1"},
							      {"--backend", "gpu"},
							      {"--policy-budget", "2"},
							      {"--sim-speed", "nan"},
							      {"--log-level", "loud"}}) {
		auto o = parse(bad);
		REQUIRE_FALSE(o);
		CHECK(o.error().msg.find(bad[0]) != std::string::npos);
	}
	auto o = parse({"--bogus"});
	REQUIRE_FALSE(o);
	CHECK(o.error().msg.find("unknown option '--bogus'") != std::string::npos);
	o = parse({"--slice-us"});
	REQUIRE_FALSE(o);
	CHECK(o.error().msg.find("needs a value") != std::string::npos);
}

TEST_CASE("positional arguments are policies, in order", "[options]")
{
	auto o = parse({"a.lua", "--backend", "sim", "b.lua"});
	REQUIRE(o);
	CHECK(o->policies == std::vector<std::string>{"a.lua", "b.lua"});
}

TEST_CASE("a config file is read first and the command line wins", "[options][config]")
{
	char path[] = "/tmp/lotto-conf-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	std::ofstream(path) << "# comment\nbackend = sim\ndefault-tickets = 50  # trailing\nno-compensation\n"
			       "policy = /x/p.lua\n";
	auto o = parse({"--config", path, "--default-tickets", "70"});
	REQUIRE(o);
	CHECK(o->backend == "sim");
	CHECK(o->backend_cfg.default_tickets == 70);
	CHECK_FALSE(o->backend_cfg.compensation);
	CHECK(o->policies == std::vector<std::string>{"/x/p.lua"});
	CHECK(o->config_file == path);

	std::ofstream(path) << "backend = sim\nslice-us = fast\n";
	o = parse({"--config", path});
	REQUIRE_FALSE(o);
	CHECK(o.error().msg.find(path) != std::string::npos);
	CHECK(o.error().msg.find("--slice-us") != std::string::npos);

	std::ofstream(path) << "two words = 1\n";
	o = parse({"--config", path});
	REQUIRE_FALSE(o);
	CHECK(o.error().msg.find(std::string(path) + ":1:") != std::string::npos);
	unlink(path);

	o = parse({"--config", "/nonexistent/lotto.conf"});
	REQUIRE_FALSE(o);
	CHECK(o.error().msg.find("--config: /nonexistent/lotto.conf: cannot open") != std::string::npos);

	// a FIFO or a device is refused at once, never read
	REQUIRE(mkfifo(path, 0600) == 0);
	o = parse({"--config", path});
	REQUIRE_FALSE(o);
	CHECK(o.error().msg.find("not a regular file (a FIFO)") != std::string::npos);
	unlink(path);
	o = parse({"--config", "/dev/zero"});
	REQUIRE_FALSE(o);
	CHECK(o.error().msg.find("not a regular file (a character device)") != std::string::npos);
}

TEST_CASE("the control socket limits are options with ranges", "[options]")
{
	auto o = parse({"--max-clients", "10", "--max-clients-per-user", "2", "--client-timeout-s", "0.5"});
	REQUIRE(o);
	CHECK(o->max_clients == 10);
	CHECK(o->max_clients_per_user == 2);
	CHECK(o->client_timeout_s == 0.5);
	o = parse({});
	REQUIRE(o);
	CHECK(o->max_clients == 64);
	CHECK(o->max_clients_per_user == 8);
	CHECK(o->client_timeout_s == 60);
	for (auto bad : {std::vector<std::string>{"--max-clients", "0"}, {"--max-clients-per-user", "x"},
			 {"--client-timeout-s", "0"}, {"--client-timeout-s", "1e9"}}) {
		o = parse(bad);
		REQUIRE_FALSE(o);
		CHECK(o.error().msg.find(bad[0]) == 0);
	}
}

TEST_CASE("the metrics endpoint is off unless --metrics names an address", "[options][metrics]")
{
	auto o = parse({"--no-state"});
	REQUIRE(o);
	CHECK(o->metrics.empty());
	CHECK(o->metrics_top == 10);
	o = parse({"--no-state", "--metrics", "127.0.0.1:9477", "--metrics-top", "0"});
	REQUIRE(o);
	CHECK(o->metrics == "127.0.0.1:9477");
	CHECK(o->metrics_top == 0);
	auto bad = parse({"--metrics", "9477"});
	REQUIRE_FALSE(bad);
	CHECK(bad.error().msg.rfind("--metrics: '9477' is not ADDR:PORT", 0) == 0);
	bad = parse({"--metrics-top", "1001"});
	REQUIRE_FALSE(bad);
	CHECK(bad.error().msg == "--metrics-top: '1001' is not a number in 0..1000");
}
