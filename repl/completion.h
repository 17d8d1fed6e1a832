// completion.h — tab completion from the command table: commands,
// subcommands, flags, flag values, live PIDs and comm names (asked from the
// host through a CompletionSource), policy names and file paths.
#pragma once

#include "command_table.h"

#include <string>
#include <string_view>
#include <vector>

namespace lotto::shell {

class CompletionSource {
public:
	virtual ~CompletionSource() = default;
	virtual std::vector<std::string> pids() = 0;		// live lotto task pids
	virtual std::vector<std::string> comms() = 0;		// their comm names
	virtual std::vector<std::string> policy_names() = 0;
	virtual std::vector<std::string> group_names() { return {}; }	// named policy groups
	// paths starting with `prefix`; directories end in '/'
	virtual std::vector<std::string> files(std::string_view prefix, bool lua_only) = 0;
};

struct Completion {
	std::vector<std::string> candidates;	// full replacements for the current word, sorted, unique
	bool is_path = false;			// do not append a space after a directory
};

// Complete the word ending at `cursor` in `line`.
Completion complete(std::string_view line, size_t cursor, CompletionSource &src);

} // namespace lotto::shell
