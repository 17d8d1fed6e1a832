// command_table.h — the one table lotto-shell is driven by: parsing,
// validation, `help` text, tab completion and what runs all read it (like
// sqlite3's shell.c azHelp/do_meta_command or redis-cli's command docs).
//
// Adding a command is one entry in commands() (command_table.cpp) naming its
// handler, and the handler: a view (views.cpp) for a read command, whose text
// `watch` can repeat, or an action (actions.cpp); handlers.h declares them.
#pragma once

#include "core/result.h"

#include <string>
#include <string_view>
#include <vector>

namespace lotto::shell {

class Shell;
struct ParsedCommand;

// interrupted: Ctrl-C in a script (-c or piped): the script stops there
// (exit status 130); interactively Ctrl-C only ends the command.
enum class Status { ok, error, quit, interrupted };

// What a command does. A view prints what it returns (text or a JSON line)
// and can be repeated by `watch`; an action does the rest (writes, long
// commands, help).
struct Handler {
	Result<std::string> (*view)(Shell &, const ParsedCommand &) = nullptr;
	Status (*run)(Shell &, const ParsedCommand &) = nullptr;
};

// What a positional argument or a flag value is; decides validation and completion.
enum class ArgKind {
	none,		// flag without a value
	pid,		// 1..4294967295, completes live PIDs
	pid_or_all,	// PID or the word "all"
	pid_or_comm,	// PID or a comm glob pattern, completes PIDs and comm names
	comm,		// a comm glob pattern, completes comm names
	user,		// user name or uid
	tickets,	// LOTTO_TICKETS_MIN..LOTTO_TICKETS_MAX (bpf/lotto_limits.h)
	group,		// a policy group's name or gid, completes names from `groups`
	funding,	// LOTTO_FUNDING_MIN..LOTTO_FUNDING_MAX, or off
	factor,		// xF: x2, x0.5, 3
	duration,	// 30s, 500ms, 2m, 1h, or plain seconds
	seconds,	// positive number of seconds (0.1..3600)
	count,		// positive integer
	seed,		// unsigned 64-bit integer
	sort_key,	// cpu|tickets|wait|pid
	file,		// a path, completes files
	policy_file,	// a path, completes *.lua and directories
	policy_name,	// a loaded policy's name, completes from the host
	command,	// a lotto-shell command line (watch)
	lua,		// the rest of the line, raw
	help_topic,	// a command name
};

struct ArgSpec {
	const char *name = "";	// "PID", "N", ...
	ArgKind kind = ArgKind::none;
	bool optional = false;
};

struct FlagSpec {
	const char *name = "";	// "--sort"
	ArgKind value = ArgKind::none;	// ArgKind::none: boolean flag
	const char *help = "";
};

struct SubSpec {
	const char *name = "";
	std::vector<ArgSpec> args = {};
	const char *summary = "";
	bool write = false;	// needs the admin permission on the host
	Handler handler = {};
};

struct CommandSpec {
	const char *name = "";
	std::vector<const char *> aliases = {};
	std::vector<SubSpec> subs = {};		// empty: no subcommand
	std::vector<ArgSpec> args = {};		// positionals (commands without subs)
	std::vector<FlagSpec> flags = {};	// --json is added to every command
	const char *synopsis = "";
	const char *summary = "";
	const char *help = "";			// details, examples
	bool write = false;		// needs the admin permission on the host
	bool needs_host = true;
	Handler handler = {};		// commands with subcommands: theirs
};

const std::vector<CommandSpec> &commands();
// `watch` repeats views: a command is watchable when it or one of its
// subcommands has one; the list as text: "tasks, show, ..., policy list"
bool watchable(const CommandSpec &c);
std::string watchable_names();

// by name or alias
const CommandSpec *find_command(std::string_view name);
const SubSpec *find_sub(const CommandSpec &c, std::string_view name);
const FlagSpec *find_flag(const CommandSpec &c, std::string_view name);

// The flag every command takes.
extern const FlagSpec kJsonFlag;

// Closest command name within edit distance 2 (for "did you mean"), or "".
std::string suggest_command(std::string_view word);
std::string suggest(std::string_view word, const std::vector<std::string> &choices);

// `help` with no argument / `help CMD`
std::string help_overview();
std::string help_for(const CommandSpec &c);

} // namespace lotto::shell
