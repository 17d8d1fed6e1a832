// The metrics endpoint: the exposition text (names, types, labels, values
// against the host's own stats) and the HTTP server's bounds.
#include "test_world.h"

#include "control/metrics.h"
#include "control/metrics_server.h"

#include <arpa/inet.h>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <netinet/in.h>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <sys/socket.h>

using namespace lotto;
using namespace lotto::control;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

namespace {

struct Sample {
	std::string name, labels;
	double value;
};

// A lint of the text format as Prometheus reads it (what `promtool check
// metrics` checks, and the conventions): HELP and TYPE once per family
// before its samples, valid names, counters ending in _total, no series
// twice, values that are numbers. Returns the samples.
std::vector<Sample> lint(const std::string &text)
{
	static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
	static const std::regex sample_re(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*)\})? (\S+))");
	std::map<std::string, std::string> type_of;
	std::set<std::string> helped, series, done_families;
	std::string current;
	std::vector<Sample> out;
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);) {
		INFO(line);
		REQUIRE(!line.empty());
		if (line.rfind("# HELP ", 0) == 0) {
			std::string name = line.substr(7, line.find(' ', 7) - 7);
			REQUIRE(std::regex_match(name, name_re));
			REQUIRE(name.rfind("lotto_", 0) == 0);
			REQUIRE(helped.insert(name).second);
			if (!current.empty())
				done_families.insert(current);
			REQUIRE(!done_families.count(name));
			current = name;
			continue;
		}
		if (line.rfind("# TYPE ", 0) == 0) {
			std::istringstream t(line.substr(7));
			std::string name, type;
			t >> name >> type;
			REQUIRE(name == current);
			REQUIRE((type == "counter" || type == "gauge"));
			REQUIRE(!type_of.count(name));
			type_of[name] = type;
			if (type == "counter")
				CHECK(name.size() > 6);
			if (type == "counter")
				CHECK(name.substr(name.size() - 6) == "_total");
			continue;
		}
		std::smatch m;
		REQUIRE(std::regex_match(line, m, sample_re));
		REQUIRE(m[1] == current);
		REQUIRE(type_of.count(current));
		REQUIRE(series.insert(m[1].str() + m[2].str()).second);
		size_t used = 0;
		double v = std::stod(m[7].str(), &used);
		REQUIRE(used == m[7].str().size());
		out.push_back({m[1], m[3], v});
	}
	return out;
}

double value_of(const std::vector<Sample> &s, const std::string &name, const std::string &labels = "")
{
	for (auto &x : s)
		if (x.name == name && x.labels == labels)
			return x.value;
	FAIL("no sample " << name << "{" << labels << "}");
	return 0;
}

size_t count_of(const std::vector<Sample> &s, const std::string &name)
{
	return std::count_if(s.begin(), s.end(), [&](auto &x) { return x.name == name; });
}

// one HTTP exchange with the metrics server on 127.0.0.1:port
struct Http {
	Fd fd;
	explicit Http(uint16_t port)
	{
		fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_port = htons(port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0)
			fd.reset();
	}
	bool send(const std::string &s) { return ::send(fd.get(), s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }
	// everything until the server closes (or the timeout)
	std::string all(int timeout_ms = 3000)
	{
		std::string out;
		auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
		for (;;) {
			int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count());
			pollfd p{fd.get(), POLLIN, 0};
			if (left <= 0 || poll(&p, 1, left) <= 0)
				return out + "<timeout>";
			char b[65536];
			ssize_t n = recv(fd.get(), b, sizeof(b), 0);
			if (n <= 0)
				return out;
			out.append(b, size_t(n));
		}
	}
};

std::string get(uint16_t port, const std::string &request)
{
	Http h(port);
	REQUIRE(h.fd.valid());
	REQUIRE(h.send(request));
	return h.all();
}

struct MetricsWorld {
	ServedWorld s;
	std::unique_ptr<MetricsServer> m;
	explicit MetricsWorld(MetricsConfig cfg = {})
	{
		cfg.address = "127.0.0.1:0";
		s.pause();
		m = std::make_unique<MetricsServer>(s.loop, s.world.host, cfg);
		auto r = m->start();
		if (!r)
			throw std::runtime_error(r.error().msg);
		s.resume();
	}
	~MetricsWorld()
	{
		s.pause();
		m.reset();
	}
};

} // namespace

TEST_CASE("the metrics text follows the Prometheus format and names", "[metrics]")
{
	World w;
	w.backend.set_draws(1234);
	auto samples = lint(render_metrics(w.host, 10));
	auto st = w.host.stats();
	CHECK(value_of(samples, "lotto_tasks") == st.nr_tasks);
	CHECK(value_of(samples, "lotto_tickets") == double(st.total_tickets));
	CHECK(value_of(samples, "lotto_cpus") == st.nr_cpus);
	CHECK(value_of(samples, "lotto_enabled") == 1);
	CHECK(value_of(samples, "lotto_info", R"(version="9.9.9-test",backend="fake")") == 1);
	for (int i = 0; i < LOTTO_STAT_NR; i++)
		CHECK(count_of(samples, std::string("lotto_") + stat_name(i) + "_total") == st.per_cpu.size());
	double draws = 0;
	for (size_t c = 0; c < st.per_cpu.size(); c++)
		draws += value_of(samples, "lotto_draws_total", "cpu=\"" + std::to_string(c) + "\"");
	CHECK(draws == double(st.total[LOTTO_STAT_DRAWS]));
	CHECK(value_of(samples, "lotto_policy_ticks_total", R"(policy="busy")") == 42);
	CHECK(value_of(samples, "lotto_policy_overruns_total", R"(policy="busy")") == 1);
	CHECK(value_of(samples, "lotto_task_tickets", R"(pid="100",comm="stress")") == 300);
	CHECK(value_of(samples, "lotto_task_tickets", R"(pid="300",comm="db worker")") == 100);
}

TEST_CASE("only the top N tasks get series of their own", "[metrics]")
{
	World w;
	w.host.sample();
	w.backend.task(200).runtime_ns += 50000000;
	w.backend.task(101).runtime_ns += 90000000;
	w.host.sample();
	auto samples = lint(render_metrics(w.host, 2));
	CHECK(count_of(samples, "lotto_task_runtime_seconds_total") == 2);
	CHECK(value_of(samples, "lotto_task_runtime_seconds_total", R"(pid="101",comm="stress")") == 0.09);
	CHECK(value_of(samples, "lotto_task_runtime_seconds_total", R"(pid="200",comm="editor")") == 0.05);
	CHECK(count_of(lint(render_metrics(w.host, 0)), "lotto_task_tickets") == 0);
}

TEST_CASE("label values are escaped and made valid UTF-8", "[metrics]")
{
	CHECK(metric_label_value("plain") == "plain");
	CHECK(metric_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
	CHECK(metric_label_value("tab\there") == "tab?here");
	CHECK(metric_label_value("caf\xc3\xa9") == "caf\xc3\xa9");
	CHECK(metric_label_value("bad\xff\xc3(") == "bad?" "?(");
	CHECK(metric_label_value("\xe0\x80\x80") == "???");	// overlong
	World w;
	w.backend.add(400, "we\"ird\xff");
	w.book.apply();
	auto samples = lint(render_metrics(w.host, 10));
	CHECK(value_of(samples, "lotto_task_tickets", R"(pid="400",comm="we\"ird?")") == 100);
}

TEST_CASE("GET /metrics answers the exposition and closes; other requests get their status", "[metrics][server]")
{
	MetricsWorld mw;
	uint16_t port = mw.m->port();
	REQUIRE(port != 0);
	std::string r = get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK_THAT(r, StartsWith("HTTP/1.1 200 OK\r\n"));
	CHECK_THAT(r, ContainsSubstring("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	CHECK_THAT(r, ContainsSubstring("Connection: close\r\n"));
	auto body = r.substr(r.find("\r\n\r\n") + 4);
	CHECK_THAT(r, ContainsSubstring("Content-Length: " + std::to_string(body.size()) + "\r\n"));
	auto samples = lint(body);
	CHECK(value_of(samples, "lotto_tasks") == 4);
	CHECK_THAT(get(port, "GET /metrics?x=1 HTTP/1.0\n\n"), StartsWith("HTTP/1.1 200 OK"));
	std::string head = get(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
	CHECK_THAT(head, StartsWith("HTTP/1.1 200 OK"));
	CHECK(head.substr(head.find("\r\n\r\n") + 4).empty());
	CHECK_THAT(get(port, "GET /other HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 404 "));
	CHECK_THAT(get(port, "POST /metrics HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 405 "));
	CHECK_THAT(get(port, "hello there\r\n\r\n"), StartsWith("HTTP/1.1 400 "));
	CHECK_THAT(get(port, "GET /metrics HTTP/1.1\r\nX: " + std::string(10000, 'a')), StartsWith("HTTP/1.1 431 "));
	CHECK(mw.m->scrapes() == 3);
}

TEST_CASE("the metrics server bounds connections and their time, and a stuck client blocks nobody", "[metrics][server]")
{
	MetricsConfig cfg;
	cfg.max_connections = 2;
	cfg.timeout = std::chrono::milliseconds(300);
	MetricsWorld mw(cfg);
	uint16_t port = mw.m->port();
	// two silent connections hold both places: a third is refused at once
	Http a(port), b(port);
	REQUIRE((a.fd.valid() && b.fd.valid()));
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	CHECK_THAT(get(port, "GET /metrics HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 503 "));
	// ... until their time is up: closed without an answer
	CHECK(a.all(2000).empty());
	CHECK(b.all(2000).empty());
	// a client that never reads a large answer does not stop the others
	Http slow(port);
	REQUIRE(slow.send("GET /metrics HTTP/1.1\r\n\r\n"));
	CHECK_THAT(get(port, "GET /metrics HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 200 OK"));
	// and a half-sent request is closed at the deadline
	Http half(port);
	REQUIRE(half.send("GET /metr"));
	auto t0 = std::chrono::steady_clock::now();
	CHECK(half.all(3000).empty());
	CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2000));
}

TEST_CASE("a bad --metrics address is refused with the expected form", "[metrics]")
{
	for (auto a : {"9477", ":9477", "localhost", "1.2.3.4:99999", "::1:9477", "[::1]9477", "host:port"}) {
		INFO(a);
		auto r = split_host_port(a);
		REQUIRE_FALSE(r.ok());
		CHECK_THAT(r.error().msg, ContainsSubstring("is not ADDR:PORT (e.g. 127.0.0.1:9477"));
	}
	auto r = split_host_port("[::1]:9477");
	REQUIRE(r.ok());
	CHECK(r->first == "::1");
	CHECK(r->second == "9477");
}
