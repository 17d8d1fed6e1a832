// command_parser.h — one statement's words into a validated command, using
// the command table. Every error is one line that says what was wrong and
// what to type instead.
#pragma once

#include "command_table.h"
#include "line_split.h"

#include "core/result.h"

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lotto::shell {

struct ParsedCommand {
	const CommandSpec *spec = nullptr;
	const SubSpec *sub = nullptr;
	std::vector<std::string> args;			// positionals, as typed
	std::map<std::string, std::string> flags;	// "--sort" -> "cpu"; boolean flags -> ""
	bool json = false;
	std::string raw_rest;				// lua: the expression text
	// boost
	std::optional<std::chrono::milliseconds> duration;
	// watch
	std::shared_ptr<ParsedCommand> inner;
	double seconds = 2.0;

	// the subcommand's handler, or the command's (export csv: export's)
	const Handler &handler() const
	{
		return sub && (sub->handler.view || sub->handler.run) ? sub->handler : spec->handler;
	}
	bool has(const std::string &flag) const { return flags.count(flag) != 0; }
	std::string flag(const std::string &f, std::string def = "") const
	{
		auto it = flags.find(f);
		return it == flags.end() ? def : it->second;
	}
};

Result<ParsedCommand> parse_command(const Statement &st);
// Convenience for tests: one statement from text.
Result<ParsedCommand> parse_command(std::string_view text);

// The shell's own bounds: counts (--top, --count, draw N), and draws
inline constexpr uint64_t kMaxCount = 1000000000;
inline constexpr uint64_t kMaxDraws = 100000000;

// Value parsers shared with the executors; messages are complete sentences.
Result<uint32_t> parse_pid(std::string_view s);
Result<uint32_t> parse_tickets(std::string_view s);
Result<uint32_t> parse_funding(std::string_view s);	// LOTTO_FUNDING_MIN..MAX
Result<double> parse_factor(std::string_view s);
Result<std::chrono::milliseconds> parse_duration(std::string_view s);
Result<double> parse_seconds(std::string_view s, std::string_view what);
Result<uint64_t> parse_count(std::string_view s, std::string_view what, uint64_t max);
Result<uint64_t> parse_seed(std::string_view s);

} // namespace lotto::shell
