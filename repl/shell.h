// shell.h — the one dispatcher every way of using lotto-shell goes through
// (interactive line, -c 'A; B', piped stdin): split a line into statements,
// parse each against the command table, run its handler (handlers.h), print
// text or JSON. Stops at the first error unless keep_going.
#pragma once

#include "command_parser.h"
#include "completion.h"
#include "host_client.h"
#include "views.h"

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

namespace lotto::shell {

// How the shell waits and reports while a long command (watch, export) runs.
struct Waiter {
	virtual ~Waiter() = default;
	// Sleep up to `seconds`; false when Ctrl-C arrived (the command stops).
	virtual bool wait(double seconds) = 0;
	// Ctrl-C arrived since the last look (consumes it).
	virtual bool interrupted() { return false; }
};

struct ShellIo {
	FILE *out = stdout;
	FILE *err = stderr;
	bool out_tty = false;	// stdout is a terminal: colors, fit to width, full-screen watch
	bool err_tty = false;	// stderr is a terminal: \r progress lines
	std::function<int()> width;	// terminal columns now (0: unlimited)
	std::function<int()> height;	// terminal rows now (0: unknown)
};

class Shell {
public:
	Shell(HostClient &client, Waiter &waiter, ShellIo io, bool json_default)
		: client_(client), waiter_(waiter), io_(std::move(io)), json_default_(json_default)
	{
	}

	// Every statement of `line`; first error stops the rest unless keep_going;
	// Ctrl-C in a script stops it whatever keep_going says.
	Status run_line(std::string_view line, bool keep_going);
	// -c and piped commands: Ctrl-C ends the script, not just the command
	void set_script(bool script) { script_ = script; }
	// One parsed command: its handler from the command table.
	Status run(const ParsedCommand &pc);

	// Completion of live values through the host (cached briefly).
	CompletionSource &completion_source() { return completion_; }

	// ---- for the handlers (views.cpp, actions.cpp)
	HostClient &client() { return client_; }
	Waiter &waiter() { return waiter_; }
	const ShellIo &io() const { return io_; }
	bool want_json(const ParsedCommand &pc) const { return pc.json || json_default_; }
	Style style() const;
	void print(const std::string &text);
	void print_json(const json &j);
	// one error line (or JSON error object); Status::error
	Status fail(const ParsedCommand *pc, const std::string &msg, const std::string &code);
	// a failed request: the host's message and code
	Status fail_host(const ParsedCommand &pc, const Error &e);
	// how a command that Ctrl-C ended ends: ok interactively, the end of a script
	Status stopped_by_ctrl_c() const { return script_ ? Status::interrupted : Status::ok; }

private:
	class LiveCompletion : public CompletionSource {
	public:
		explicit LiveCompletion(HostClient &c) : c_(c) {}
		std::vector<std::string> pids() override;
		std::vector<std::string> comms() override;
		std::vector<std::string> policy_names() override;
		std::vector<std::string> group_names() override;
		std::vector<std::string> files(std::string_view prefix, bool lua_only) override;

	private:
		void refresh_tasks();
		HostClient &c_;
		std::vector<std::string> pids_, comms_;
		std::chrono::steady_clock::time_point fetched_{};
	};

	HostClient &client_;
	Waiter &waiter_;
	ShellIo io_;
	bool json_default_;
	bool script_ = false;
	LiveCompletion completion_{client_};
};

} // namespace lotto::shell
