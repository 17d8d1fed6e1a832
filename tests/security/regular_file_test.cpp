// issue 9, "Files that are not regular files" and "Reading as root on behalf
// of others", at the one place lotto-host reads a file it is told about
// (core/regular_file.h): FIFOs, devices, directories and sockets are refused
// without being opened for reading (nothing blocks, nothing is read), the
// size is checked first, and a file is read with the rights of whoever asked.
#include "core/regular_file.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace lotto;
using Catch::Matchers::ContainsSubstring;
namespace fs = std::filesystem;

namespace {

struct Dir {
	std::string path;
	Dir()
	{
		char d[] = "/tmp/lotto-rf-XXXXXX";
		REQUIRE(mkdtemp(d));
		path = d;
		chmod(d, 0755);
	}
	~Dir() { fs::remove_all(path); }
	std::string write(const std::string &name, const std::string &text, mode_t mode = 0644)
	{
		std::string p = path + "/" + name;
		std::ofstream(p) << text;
		chmod(p.c_str(), mode);
		return p;
	}
};

ReadRules policy_rules(const Credentials *as = nullptr)
{
	ReadRules r;
	r.max_bytes = 1u << 20;
	r.allow_empty = false;
	r.as = as;
	r.what = "policy file";
	return r;
}

Result<FileText> timed_read(const std::string &path, const ReadRules &r, std::chrono::milliseconds *took)
{
	auto t0 = std::chrono::steady_clock::now();
	auto f = read_regular_file(path, r);
	*took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
	return f;
}

} // namespace

TEST_CASE("a regular file is read whole, with its owner", "[security][files]")
{
	Dir d;
	auto p = d.write("p.lua", "return {}\n");
	auto f = read_regular_file(p, policy_rules());
	REQUIRE(f);
	CHECK(f->text == "return {}\n");
	CHECK(f->owner == getuid());
}

TEST_CASE("a FIFO is refused at once, without a writer, and never opened for reading", "[security][files]")
{
	Dir d;
	std::string fifo = d.path + "/fifo.lua";
	REQUIRE(mkfifo(fifo.c_str(), 0644) == 0);
	std::chrono::milliseconds took;
	auto f = timed_read(fifo, policy_rules(), &took);
	REQUIRE_FALSE(f);
	CHECK(f.error().code == Errc::not_regular);
	CHECK(f.error().msg == fifo + ": not a regular file (a FIFO); a policy file must be one");
	CHECK(took.count() < 200);
	// a symlink to it is the same
	std::string link = d.path + "/link.lua";
	REQUIRE(symlink(fifo.c_str(), link.c_str()) == 0);
	f = timed_read(link, policy_rules(), &took);
	REQUIRE_FALSE(f);
	CHECK_THAT(f.error().msg, ContainsSubstring("not a regular file (a FIFO)"));
}

TEST_CASE("devices, directories and sockets are refused by type", "[security][files]")
{
	Dir d;
	auto f = read_regular_file("/dev/zero", policy_rules());
	REQUIRE_FALSE(f);
	CHECK(f.error().msg == "/dev/zero: not a regular file (a character device); a policy file must be one");
	f = read_regular_file("/dev/null", policy_rules());
	REQUIRE_FALSE(f);
	CHECK_THAT(f.error().msg, ContainsSubstring("(a character device)"));
	f = read_regular_file(d.path, policy_rules());
	REQUIRE_FALSE(f);
	CHECK(f.error().msg == d.path + ": is a directory, not a policy file");
	std::string sock = d.path + "/s.lua";
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	strncpy(a.sun_path, sock.c_str(), sizeof(a.sun_path) - 1);
	REQUIRE(bind(s, (sockaddr *)&a, sizeof(a)) == 0);
	f = read_regular_file(sock, policy_rules());
	close(s);
	REQUIRE_FALSE(f);
	CHECK_THAT(f.error().msg, ContainsSubstring("(a socket)"));
}

TEST_CASE("the size is checked before reading, and a growing file is cut at the limit", "[security][files]")
{
	Dir d;
	auto big = d.write("big.lua", std::string((1u << 20) + 1, 'x'));
	auto f = read_regular_file(big, policy_rules());
	REQUIRE_FALSE(f);
	CHECK(f.error().code == Errc::too_large);
	CHECK(f.error().msg == big + ": policy file larger than 1 MiB (1.0 MiB)");
	auto exact = d.write("exact.lua", std::string(1u << 20, 'x'));
	CHECK(read_regular_file(exact, policy_rules()));
	// /proc files say size 0: refused as empty (never read, whatever they hold)
	f = read_regular_file("/proc/self/status", policy_rules());
	REQUIRE_FALSE(f);
	CHECK_THAT(f.error().msg, ContainsSubstring("is empty (its size is 0)"));
	auto empty = d.write("empty.lua", "");
	CHECK_FALSE(read_regular_file(empty, policy_rules()));
	ReadRules any = policy_rules();
	any.allow_empty = true;
	CHECK(read_regular_file(empty, any));
}

TEST_CASE("a missing file is not_found, with the path", "[security][files]")
{
	auto f = read_regular_file("/nonexistent/p.lua", policy_rules());
	REQUIRE_FALSE(f);
	CHECK(f.error().code == Errc::not_found);
	CHECK(f.error().msg == "/nonexistent/p.lua: cannot open: No such file or directory");
}

TEST_CASE("a file is read with the rights of whoever asked", "[security][files]")
{
	if (geteuid() != 0)
		SKIP("needs root (to act as another user)");
	Dir d;
	auto secret = d.write("secret.lua", "SECRETTOKEN", 0600);
	auto open_to_all = d.write("pub.lua", "return 1", 0644);
	Credentials nobody{65534, 65534, {}};
	auto f = read_regular_file(secret, policy_rules(&nobody));
	REQUIRE_FALSE(f);
	CHECK(f.error().code == Errc::permission);
	CHECK(f.error().msg == secret + ": cannot open: Permission denied (as uid 65534)");
	CHECK(read_regular_file(open_to_all, policy_rules(&nobody)));
	// through a symlink too, and the host's own rights come back after
	std::string link = d.path + "/link.lua";
	REQUIRE(symlink(secret.c_str(), link.c_str()) == 0);
	CHECK_FALSE(read_regular_file(link, policy_rules(&nobody)));
	CHECK(read_regular_file(secret, policy_rules()));
	// a group the user is in opens a group-readable file; one it is not in does not
	auto group = d.write("group.lua", "return 2", 0640);
	REQUIRE(chown(group.c_str(), 0, 4242) == 0);
	Credentials member{65534, 65534, {4242}};
	CHECK(read_regular_file(group, policy_rules(&member)));
	CHECK_FALSE(read_regular_file(group, policy_rules(&nobody)));
	// a directory the user cannot search hides what is in it
	std::string sub = d.path + "/private";
	fs::create_directory(sub);
	chmod(sub.c_str(), 0700);
	std::ofstream(sub + "/p.lua") << "return 3";
	chmod((sub + "/p.lua").c_str(), 0644);
	auto hidden = read_regular_file(sub + "/p.lua", policy_rules(&nobody));
	REQUIRE_FALSE(hidden);
	CHECK(hidden.error().code == Errc::permission);
}
