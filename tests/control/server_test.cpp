#include "sock_client.h"
#include "test_world.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <sys/stat.h>

using namespace lotto;
using namespace lotto::control;
using namespace lotto::test;
using Catch::Matchers::ContainsSubstring;

static json reply(SockClient &c)
{
	auto l = c.line();
	REQUIRE(l);
	json j = json::parse(*l, nullptr, false);
	REQUIRE(j.is_object());
	return j;
}

TEST_CASE("the server answers requests in order, several per packet and split across packets", "[server]")
{
	ServedWorld s;
	SockClient c(s.path());
	REQUIRE(c.ok());
	REQUIRE(c.send_all("{\"cmd\":\"hello\",\"id\":1}\n{\"cmd\":\"tasks\",\"id\":2}\n{\"cmd\":\"st"));
	CHECK(reply(c)["id"] == 1);
	CHECK(reply(c)["id"] == 2);
	REQUIRE(c.send_all("ats\",\"id\":3}\r\n\n   \n"));
	auto j = reply(c);
	CHECK(j["id"] == 3);
	CHECK(j["result"]["backend"] == "fake");
}

TEST_CASE("the socket is created with its directory and removed on stop", "[server]")
{
	std::string dir = std::filesystem::path(temp_socket_path("x")).parent_path() / "deeper" / "run";
	std::string path = dir + "/lotto.sock";
	{
		ServerConfig cfg;
		cfg.socket_path = path;
		ServedWorld s(cfg);
		struct stat st{};
		REQUIRE(stat(path.c_str(), &st) == 0);
		CHECK(S_ISSOCK(st.st_mode));
		CHECK((st.st_mode & 0777) == 0666);
		// a second server on the same path refuses to steal it
		EventLoop loop2;
		ControlServer other(loop2, s.world.host, cfg);
		auto r = other.start();
		REQUIRE_FALSE(r.ok());
		CHECK_THAT(r.error().msg, ContainsSubstring("another lotto-host is already serving"));
	}
	CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a stale socket file from a dead host is replaced; other files are not", "[server]")
{
	std::string path = temp_socket_path("stale");
	{
		Fd f(socket(AF_UNIX, SOCK_STREAM, 0));
		sockaddr_un a{};
		a.sun_family = AF_UNIX;
		strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
		REQUIRE(bind(f.get(), (sockaddr *)&a, sizeof(a)) == 0);
	}	// closed without unlink: stale
	ServerConfig cfg;
	cfg.socket_path = path;
	ServedWorld s(cfg);
	SockClient c(path);
	REQUIRE(c.send_all("{\"cmd\":\"hello\"}\n"));
	CHECK(reply(c)["ok"] == true);

	std::string regular = temp_socket_path("regular");
	{ FILE *f = fopen(regular.c_str(), "w"); fclose(f); }
	EventLoop loop;
	ServerConfig c2;
	c2.socket_path = regular;
	ControlServer srv(loop, s.world.host, c2);
	auto r = srv.start();
	REQUIRE_FALSE(r.ok());
	CHECK_THAT(r.error().msg, ContainsSubstring("exists and is not a socket"));
	CHECK(std::filesystem::exists(regular));
}

TEST_CASE("an unknown admin group is a start error that names the group", "[server][permissions]")
{
	World w;
	EventLoop loop;
	ServerConfig cfg;
	cfg.socket_path = temp_socket_path("grp");
	cfg.admin_group = "no-such-group-lotto";
	ControlServer srv(loop, w.host, cfg);
	auto r = srv.start();
	REQUIRE_FALSE(r.ok());
	CHECK(r.error().msg == "--admin-group: no group named 'no-such-group-lotto' (create it with: groupadd no-such-group-lotto, or give a number)");
}

TEST_CASE("admins are root and members of the admin group", "[server][permissions]")
{
	CHECK(ControlServer::is_admin(0, 0, {}, std::nullopt));
	CHECK_FALSE(ControlServer::is_admin(1000, 1000, {1000, 27}, std::nullopt));
	CHECK(ControlServer::is_admin(1000, 1000, {1000, 27}, 27));
	CHECK(ControlServer::is_admin(1000, 27, {}, 27));
	CHECK_FALSE(ControlServer::is_admin(1000, 1000, {1000}, 27));
}

TEST_CASE("an oversized line gets too_long and the connection keeps working", "[server][robustness]")
{
	ServedWorld s;
	SockClient c(s.path());
	std::string big(kMaxLine + 10, 'x');
	REQUIRE(c.send_all(big));
	REQUIRE(c.send_all(big + "\n{\"cmd\":\"hello\",\"id\":9}\n"));
	auto j = reply(c);
	CHECK(j["error"]["code"] == "too_long");
	j = reply(c);
	CHECK(j["id"] == 9);
	CHECK(j["ok"] == true);
}

TEST_CASE("a last request without a newline is answered before the server closes", "[server]")
{
	ServedWorld s;
	SockClient c(s.path());
	REQUIRE(c.send_all("{\"cmd\":\"hello\",\"id\":5}"));
	c.shut_write();
	CHECK(reply(c)["id"] == 5);
	CHECK(c.eof());
}

TEST_CASE("clients beyond the cap get busy and are closed", "[server][robustness]")
{
	ServerConfig cfg;
	cfg.max_clients = 2;
	cfg.admin_reserve = 0;	// (the test runs as root, an admin)
	ServedWorld s(cfg);
	SockClient a(s.path()), b(s.path());
	REQUIRE(a.send_all("{\"cmd\":\"hello\"}\n"));
	REQUIRE(b.send_all("{\"cmd\":\"hello\"}\n"));
	reply(a);
	reply(b);
	SockClient third(s.path());
	auto j = reply(third);
	CHECK(j["error"]["code"] == "busy");
	CHECK(third.eof());
	REQUIRE(a.send_all("{\"cmd\":\"hello\"}\n"));
	CHECK(reply(a)["ok"] == true);
}

TEST_CASE("a client that never reads its replies does not block the others", "[server][robustness]")
{
	ServedWorld s;
	SockClient hog(s.path());
	std::string many;
	for (int i = 0; i < 20000; i++)
		many += "{\"cmd\":\"tasks\"}\n";
	std::thread writer([&] { hog.send_all(many); });
	SockClient c(s.path());
	for (int i = 0; i < 20; i++) {
		REQUIRE(c.send_all("{\"cmd\":\"hello\",\"id\":" + std::to_string(i) + "}\n"));
		CHECK(reply(c)["id"] == i);
	}
	s.pause();	// unblock the writer: drop the hog by stopping the server
	s.server->stop();
	writer.join();
}
