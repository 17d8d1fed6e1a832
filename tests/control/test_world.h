// test_world.h — a HostImpl over a FakeBackend and a real TicketBook, with
// in-memory policy hooks, and a ControlServer on a temp socket served by a
// loop thread. Shared by the dispatch, server, fuzz and shell tests.
#pragma once

#include "fake_backend.h"

#include "control/host_impl.h"
#include "control/server.h"
#include "core/event_loop.h"
#include "core/ticket_book.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>
#include <unistd.h>

namespace lotto::test {

using namespace lotto::control;

// A "policy" here gives every task of `comm` a fixed number of tickets.
struct FakePolicy {
	std::string name, file, comm;
	uint32_t tickets = 0;
};

struct World {
	FakeBackend backend;
	TicketBook book{backend, LOTTO_TICKETS_DEFAULT};
	std::map<std::string, FakePolicy> policies;
	std::vector<PolicyErrorInfo> errors;
	HostImpl host{backend, book, hooks(), "9.9.9-test"};
	int tickets_changed = 0;	// pins saved (before each pin change)
	bool saves_fail = false;	// the "state file" cannot be written
	bool defer_eval = false;	// `lua` is answered when the test calls deferred[i]
	std::vector<Reply<std::string>> deferred;

	World()
	{
		backend.add(100, "stress", 0, 0);
		backend.add(101, "stress", 0, 5);
		backend.add(200, "editor", 1000, 0);
		backend.add(300, "db worker", 0, -5);
		add_policy(FakePolicy{"busy", "/policies/busy.lua", "stress", 300});
		tick();
	}
	void add_policy(FakePolicy p)
	{
		policies[p.name] = p;
		std::vector<std::string> names;
		for (auto &[n, x] : policies)
			names.push_back(n);
		book.set_policy_order(names);
	}
	// one policy tick: every policy writes its tickets, then apply
	void tick()
	{
		uint32_t n = backend.slots_hw();
		for (auto &[name, p] : policies) {
			std::vector<uint32_t> out(n, 0);
			for (uint32_t i = 0; i < n; i++)
				if (backend.tasks()[i].pid && p.comm == backend.tasks()[i].comm)
					out[i] = p.tickets;
			book.policy_output(name, out.data(), n);
		}
		book.apply();
	}
	PolicyHooks hooks()
	{
		PolicyHooks h;
		h.list = [this]() -> HostResult<std::vector<PolicyInfo>> {
			std::vector<PolicyInfo> v;
			for (auto &[n, p] : policies)
				v.push_back(PolicyInfo{n, p.file, 1000, true, 42, 1, 0, ""});
			return v;
		};
		h.errors = [this]() -> HostResult<std::vector<PolicyErrorInfo>> { return errors; };
		h.load = [this](const std::string &file, const Peer &, Reply<std::string> done) {
			if (!std::filesystem::exists(file))
				return done(HostError{ErrorCode::policy_error, file + ": cannot open: No such file or directory"});
			std::string name = std::filesystem::path(file).stem().string();
			add_policy(FakePolicy{name, file, "editor", 77});
			tick();
			done(name);
		};
		h.unload = [this](const std::string &name) -> HostResult<Ok> {
			if (!policies.erase(name))
				return HostError{ErrorCode::no_such_policy, "no policy named '" + name + "' (see `policy list`)"};
			book.drop_policy(name);
			tick();
			return Ok{};
		};
		h.reload = [this](const std::string &name) -> HostResult<Ok> {
			if (!policies.count(name))
				return HostError{ErrorCode::no_such_policy, "no policy named '" + name + "' (see `policy list`)"};
			errors.push_back(PolicyErrorInfo{name, policies[name].file,
							 policies[name].file + ":3: attempt to call a nil value",
							 std::chrono::system_clock::now()});
			return Ok{};
		};
		h.eval = [this](const std::string &expr, const Peer &peer, Reply<std::string> done) {
			if (defer_eval)
				return deferred.push_back(std::move(done));
			if (expr.find('=') != std::string::npos && !peer.admin)
				return done(HostError{ErrorCode::eval_error,
						      "permission denied: the policy context is read-only for you"});
			if (expr == "#tasks")
				return done(std::string("4"));
			done(HostError{ErrorCode::eval_error, "[string \"expr\"]:1: unexpected symbol near '" + expr + "'"});
		};
		h.save_pins = [this](const Pins &) -> HostResult<Ok> {
			if (saves_fail)
				return HostError{ErrorCode::not_saved, "the state file /test/state.json could not be written"};
			tickets_changed++;
			return Ok{};
		};
		return h;
	}
};

// All of a test process's sockets and files go under one directory that is
// removed when the process exits.
inline const std::filesystem::path &temp_base()
{
	struct Base {
		std::filesystem::path dir = std::filesystem::temp_directory_path() /
					    ("lotto-ctl-test-" + std::to_string(getpid()));
		~Base()
		{
			std::error_code ec;
			std::filesystem::remove_all(dir, ec);
		}
	};
	static Base b;
	return b.dir;
}

inline std::string temp_socket_path(const char *tag)
{
	static std::atomic<int> n{0};
	auto dir = temp_base() / std::to_string(n++);
	std::filesystem::create_directories(dir);
	return (dir / (std::string(tag) + ".sock")).string();
}

// The server on its own thread; the test talks to it through the socket.
// pause() stops the thread so the test may look at the World directly.
class ServedWorld {
public:
	explicit ServedWorld(ServerConfig cfg = {})
	{
		if (cfg.socket_path == kDefaultSocket)
			cfg.socket_path = temp_socket_path("host");
		cfg.server_version = "9.9.9-test";
		server = std::make_unique<ControlServer>(loop, world.host, cfg);
		auto r = server->start();
		if (!r)
			throw std::runtime_error(r.error().msg);
		resume();
	}
	~ServedWorld()
	{
		pause();
		server.reset();
	}
	void pause()
	{
		stop = true;
		if (th.joinable())
			th.join();
	}
	void resume()
	{
		stop = false;
		th = std::thread([this] {
			while (!stop)
				loop.run_once(20);
		});
	}
	const std::string &path() const { return server->path(); }

	World world;
	EventLoop loop;
	std::unique_ptr<ControlServer> server;
	std::atomic<bool> stop{false};
	std::thread th;
};

} // namespace lotto::test
