// test_world.h — a HostImpl over a FakeBackend and a real TicketBook, with
// an in-memory policy engine and state file, and a ControlServer on a temp socket served by a
// loop thread. Shared by the dispatch, server, fuzz and shell tests.
#pragma once

#include "fake_backend.h"

#include "control/host_impl.h"
#include "control/server.h"
#include "core/event_loop.h"
#include "core/group_book.h"
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

// The host's policy engine and state file, in memory. (World's members,
// below: they reach into it.)
struct World;
struct FakePolicies : PolicyApi {
	World &w;
	explicit FakePolicies(World &world) : w(world) {}
	std::vector<PolicyInfo> list() const override;
	std::vector<PolicyError> errors() const override;
	void load(const std::string &file, const Credentials &, Completion done, bool) override;
	Result<void> unload(const std::string &name) override;
	Result<void> reload(const std::string &name) override;
	void eval(const std::string &expr, const Credentials &, bool admin, Completion done) override;
};
struct FakeState : StateKeeper {
	World &w;
	explicit FakeState(World &world) : w(world) {}
	Result<void> save_pins(const Pins &) override;
	Result<void> add_policy(const std::string &, const Credentials &) override { return {}; }
	Result<void> remove_policy(const std::string &) override { return {}; }
	Result<void> save_group_pins(const std::map<std::string, uint32_t> &) override;
};

struct World {
	FakeBackend backend;
	TicketBook book{backend, LOTTO_TICKETS_DEFAULT};
	GroupBook groups{backend};
	std::map<std::string, FakePolicy> policies;
	std::vector<PolicyError> errors;
	FakePolicies engine{*this};
	FakeState state{*this};
	HostImpl host{backend, book, &engine, &state, "9.9.9-test", LOTTO_TICKETS_DEFAULT, &groups};
	int tickets_changed = 0;	// pins saved (before each pin change)
	std::map<std::string, uint32_t> saved_group_pins;	// the "state file"'s group pins
	bool saves_fail = false;	// the "state file" cannot be written
	bool defer_eval = false;	// `lua` is answered when the test calls deferred[i]
	std::vector<Completion> deferred;

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
};

inline std::vector<PolicyInfo> FakePolicies::list() const
{
	std::vector<PolicyInfo> v;
	for (auto &[n, p] : w.policies) {
		PolicyInfo i;
		i.name = n;
		i.path = p.file;
		i.interval_ms = 1000;
		i.running = true;
		i.ticks = 42;
		i.overruns = 1;
		v.push_back(i);
	}
	return v;
}

inline std::vector<PolicyError> FakePolicies::errors() const { return w.errors; }

inline void FakePolicies::load(const std::string &file, const Credentials &, Completion done, bool)
{
	if (!std::filesystem::exists(file))
		return done(err(Errc::not_found, file + ": cannot open: No such file or directory"));
	std::string name = std::filesystem::path(file).stem().string();
	w.add_policy(FakePolicy{name, file, "editor", 77});
	w.tick();
	done(name);
}

inline Result<void> FakePolicies::unload(const std::string &name)
{
	if (!w.policies.erase(name))
		return err(Errc::not_found, "no policy named '" + name + "' (see `policy list`)");
	w.book.drop_policy(name);
	w.tick();
	return {};
}

inline Result<void> FakePolicies::reload(const std::string &name)
{
	if (!w.policies.count(name))
		return err(Errc::not_found, "no policy named '" + name + "' (see `policy list`)");
	PolicyError e;
	e.policy = name;
	e.path = w.policies[name].file;
	e.kind = ErrorKind::Compile;
	e.message = w.policies[name].file + ":3: attempt to call a nil value";
	e.when = std::chrono::system_clock::now();
	w.errors.push_back(e);
	return {};
}

inline void FakePolicies::eval(const std::string &expr, const Credentials &, bool admin, Completion done)
{
	if (w.defer_eval)
		return w.deferred.push_back(std::move(done));
	if (expr.find('=') != std::string::npos && !admin)
		return done(err("permission denied: the policy context is read-only for you"));
	if (expr == "#tasks")
		return done(std::string("4"));
	done(err("[string \"expr\"]:1: unexpected symbol near '" + expr + "'"));
}

inline Result<void> FakeState::save_pins(const Pins &)
{
	if (w.saves_fail)
		return err(Errc::not_saved, "the state file /test/state.json could not be written");
	w.tickets_changed++;
	return {};
}

inline Result<void> FakeState::save_group_pins(const std::map<std::string, uint32_t> &pins)
{
	if (w.saves_fail)
		return err(Errc::not_saved, "the state file /test/state.json could not be written");
	w.saved_group_pins = pins;
	return {};
}

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
