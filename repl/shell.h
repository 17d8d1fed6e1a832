// shell.h — the one dispatcher every way of using lotto-shell goes through
// (interactive line, -c 'A; B', piped stdin): split a line into statements,
// parse each against the command table, run it against the host, print text
// or JSON. Stops at the first error unless keep_going.
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

// interrupted: Ctrl-C in a script (-c or piped): the script stops there
// (exit status 130); interactively Ctrl-C only ends the command.
enum class Status { ok, error, quit, interrupted };

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
	Status run(const ParsedCommand &pc);

	// Completion of live values through the host (cached briefly).
	CompletionSource &completion_source() { return completion_; }

private:
	class LiveCompletion : public CompletionSource {
	public:
		explicit LiveCompletion(HostClient &c) : c_(c) {}
		std::vector<std::string> pids() override;
		std::vector<std::string> comms() override;
		std::vector<std::string> policy_names() override;
		std::vector<std::string> files(std::string_view prefix, bool lua_only) override;

	private:
		void refresh_tasks();
		HostClient &c_;
		std::vector<std::string> pids_, comms_;
		std::chrono::steady_clock::time_point fetched_{};
	};

	Status fail(const ParsedCommand *pc, const std::string &msg, const std::string &code);
	Status fail_host(const ParsedCommand &pc, const Error &e);
	Status stopped_by_ctrl_c() const { return script_ ? Status::interrupted : Status::ok; }
	void print(const std::string &text);
	void print_json(const json &j);
	bool want_json(const ParsedCommand &pc) const { return pc.json || json_default_; }
	Style style() const;

	// one function per command; `pc` is validated
	Status cmd_tasks(const ParsedCommand &pc);
	Status cmd_show(const ParsedCommand &pc);
	Status cmd_tickets(const ParsedCommand &pc);
	Status cmd_unpin(const ParsedCommand &pc);
	Status cmd_boost(const ParsedCommand &pc);
	Status cmd_policy(const ParsedCommand &pc);
	Status cmd_stats(const ParsedCommand &pc);
	Status cmd_shares(const ParsedCommand &pc);
	Status cmd_draw(const ParsedCommand &pc);
	Status cmd_watch(const ParsedCommand &pc);
	Status cmd_export(const ParsedCommand &pc);
	Status cmd_lua(const ParsedCommand &pc);
	Status cmd_help(const ParsedCommand &pc);

	// The text (or JSON line) a read command prints, for `watch`.
	Result<std::string> render(const ParsedCommand &pc);
	Result<std::vector<TaskRow>> fetch_tasks();

	HostClient &client_;
	Waiter &waiter_;
	ShellIo io_;
	bool json_default_;
	bool script_ = false;
	LiveCompletion completion_{client_};
};

} // namespace lotto::shell
