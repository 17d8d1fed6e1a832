// interactive.h — the terminal session: GNU readline's callback interface
// inside a poll loop (stdin + the signal pipe), history in ~/.lotto_history
// (LOTTO_HISTORY overrides), tab completion from the command table.
#pragma once

#include "shell.h"
#include "signals.h"

#include <string>

namespace lotto::shell {

// The history file: $LOTTO_HISTORY, else ~/.lotto_history ("" when no home).
std::string history_path();

// Runs until quit/exit/Ctrl-D. Returns the exit status (0; the last
// command's failure does not make an interactive session fail).
int run_interactive(Shell &shell, Signals &signals);

} // namespace lotto::shell
