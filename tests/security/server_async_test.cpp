// The control server while a request is answered later (`lua`, `policy
// load`): other clients are served, the waiting client's later lines wait in
// order, a client that keeps sending while it waits is no longer read from
// (its buffer stays bounded), and an idle or half-line client is closed.
#include "sock_client.h"
#include "test_world.h"

#include <catch2/catch_test_macros.hpp>
#include <fcntl.h>

using namespace lotto;
using namespace lotto::control;
using namespace lotto::test;
using namespace std::chrono_literals;

namespace {

json reply(SockClient &c, int timeout_ms = 3000)
{
	auto l = c.line(timeout_ms);
	REQUIRE(l);
	return json::parse(*l);
}

// `lua` answered only when the test says so
struct Deferred {
	ServedWorld &s;
	explicit Deferred(ServedWorld &sw) : s(sw)
	{
		s.pause();
		s.world.defer_eval = true;
		s.resume();
	}
	// answer the one waiting `lua` (the loop thread is paused meanwhile)
	void answer(std::string value)
	{
		s.pause();
		REQUIRE(s.world.deferred.size() == 1);
		auto done = std::move(s.world.deferred[0]);
		s.world.deferred.clear();
		done(std::move(value));
		s.resume();
	}
};

} // namespace

TEST_CASE("a request answered later holds its client's next lines, not the other clients", "[security][server]")
{
	ServedWorld s;
	Deferred d(s);
	SockClient a(s.path()), b(s.path());
	REQUIRE(a.send_all("{\"cmd\":\"eval\",\"expr\":\"slow\",\"id\":1}\n{\"cmd\":\"hello\",\"id\":2}\n"));
	REQUIRE(b.send_all("{\"cmd\":\"hello\",\"id\":3}\n"));
	CHECK(reply(b)["id"] == 3);
	CHECK_FALSE(a.line(300));	// still waiting for its `lua`
	d.answer("42");
	auto first = reply(a);
	CHECK(first["id"] == 1);
	CHECK(first["result"]["value"] == "42");
	CHECK(reply(a)["id"] == 2);
}

TEST_CASE("a client that keeps sending while it waits is not read from", "[security][server]")
{
	ServedWorld s;
	Deferred d(s);
	SockClient a(s.path());
	REQUIRE(a.send_all("{\"cmd\":\"eval\",\"expr\":\"slow\"}\n"));
	// try to push 8 MiB of requests without blocking: the server stops
	// taking them after about kMaxBufferedInput plus the socket buffers
	int fd = a.fd();
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	std::string chunk;
	while (chunk.size() < 65536)
		chunk += "{\"cmd\":\"hello\"}\n";
	size_t sent = 0;
	auto until = std::chrono::steady_clock::now() + 2s;
	while (sent < (8u << 20) && std::chrono::steady_clock::now() < until) {
		ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
		if (n > 0)
			sent += size_t(n);
		else
			std::this_thread::sleep_for(10ms);
	}
	CHECK(sent < (3u << 20));
	d.answer("1");
	CHECK(reply(a)["result"]["value"] == "1");
	CHECK(reply(a)["ok"] == true);	// the waiting lines are served after it
}

TEST_CASE("an idle or half-line client is closed after the timeout; one that asks stays", "[security][server]")
{
	ServerConfig cfg;
	cfg.idle_timeout = 300ms;
	ServedWorld s(cfg);
	SockClient idle(s.path()), half(s.path()), busy(s.path());
	REQUIRE(half.send_all("{\"cmd\":\"hel"));
	for (int i = 0; i < 6; i++) {
		REQUIRE(busy.send_all("{\"cmd\":\"hello\"}\n"));
		CHECK(reply(busy)["ok"] == true);
		std::this_thread::sleep_for(100ms);
	}
	CHECK(idle.eof(1000));
	CHECK(half.eof(1000));
	REQUIRE(busy.send_all("{\"cmd\":\"hello\"}\n"));
	CHECK(reply(busy)["ok"] == true);
}

TEST_CASE("a client waiting for its answer is not idle", "[security][server]")
{
	ServerConfig cfg;
	cfg.idle_timeout = 200ms;
	ServedWorld s(cfg);
	Deferred d(s);
	SockClient a(s.path());
	REQUIRE(a.send_all("{\"cmd\":\"eval\",\"expr\":\"slow\"}\n"));
	std::this_thread::sleep_for(600ms);
	d.answer("late");
	CHECK(reply(a)["result"]["value"] == "late");
}
