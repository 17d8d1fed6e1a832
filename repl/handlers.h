// handlers.h — every handler the command table (command_table.cpp) names.
// Views (views.cpp) are the read commands: they return what to print, text
// or a JSON line, and `watch` repeats them. Actions (actions.cpp, and the
// long-running ones in shell.cpp) do everything else.
#pragma once

#include "command_table.h"

#include <string>

namespace lotto::shell {

// ---- views (views.cpp)
Result<std::string> view_tasks(Shell &sh, const ParsedCommand &pc);
Result<std::string> view_show(Shell &sh, const ParsedCommand &pc);
Result<std::string> view_stats(Shell &sh, const ParsedCommand &pc);
Result<std::string> view_groups(Shell &sh, const ParsedCommand &pc);
Result<std::string> view_shares(Shell &sh, const ParsedCommand &pc);
Result<std::string> view_draw(Shell &sh, const ParsedCommand &pc);
Result<std::string> view_policy_list(Shell &sh, const ParsedCommand &pc);
Result<std::string> view_policy_errors(Shell &sh, const ParsedCommand &pc);

// ---- actions (actions.cpp)
Status do_tickets(Shell &sh, const ParsedCommand &pc);
Status do_unpin(Shell &sh, const ParsedCommand &pc);
Status do_boost(Shell &sh, const ParsedCommand &pc);
Status do_fund(Shell &sh, const ParsedCommand &pc);
Status do_policy_load(Shell &sh, const ParsedCommand &pc);
Status do_policy_unload(Shell &sh, const ParsedCommand &pc);
Status do_policy_reload(Shell &sh, const ParsedCommand &pc);
Status do_lua(Shell &sh, const ParsedCommand &pc);
Status do_help(Shell &sh, const ParsedCommand &pc);
Status do_quit(Shell &sh, const ParsedCommand &pc);

// ---- long-running (shell.cpp)
Status do_watch(Shell &sh, const ParsedCommand &pc);
Status do_export(Shell &sh, const ParsedCommand &pc);

} // namespace lotto::shell
