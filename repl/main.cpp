// lotto-shell — talk to a running lotto-host: look at who gets the CPU and
// why, and change tickets on the spot. Interactive (readline), -c 'CMD; CMD',
// or commands piped on stdin; all three go through Shell::run_line.
#include "interactive.h"
#include "shell.h"
#include "signals.h"

#include "lotto_version.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <getopt.h>
#include <iostream>
#include <sys/ioctl.h>
#include <unistd.h>

using namespace lotto;
using namespace lotto::shell;

static const char *usage()
{
	return "usage: lotto-shell [OPTIONS]\n"
	       "       lotto-shell [OPTIONS] -c 'CMD; CMD...'\n"
	       "       COMMANDS | lotto-shell [OPTIONS]\n"
	       "\n"
	       "Inspect a running lotto-host and change tickets live. Without -c and with a\n"
	       "terminal on stdin, an interactive shell (type help); otherwise one command\n"
	       "per line (or separated by ';'), stopping at the first error.\n"
	       "\n"
	       "Options:\n"
	       "  -s, --socket PATH   the host's control socket (default $LOTTO_SOCKET or\n"
	       "                      /run/lotto/lotto.sock)\n"
	       "  -c, --command CMDS  run CMDS and exit\n"
	       "  -j, --json          print every result as JSON (see docs/shell.md)\n"
	       "  -k, --keep-going    do not stop at the first failing command\n"
	       "  -h, --help          this text\n"
	       "  -V, --version       print the version\n"
	       "\n"
	       "Exit status: 0 when every command succeeded, 1 when one failed, 2 for bad\n"
	       "options, 130 when Ctrl-C stopped a -c or piped script (the commands after\n"
	       "it do not run). History is kept in ~/.lotto_history ($LOTTO_HISTORY).\n";
}

// the terminal's columns or rows: the window size, else $COLUMNS / $LINES, else `dflt`
static int terminal_size(bool rows, int dflt)
{
	winsize ws{};
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && (rows ? ws.ws_row : ws.ws_col) > 0)
		return rows ? ws.ws_row : ws.ws_col;
	if (const char *c = getenv(rows ? "LINES" : "COLUMNS"))
		if (int v = atoi(c); v > 0)
			return v;
	return dflt;
}

int main(int argc, char **argv)
{
	static const option longopts[] = {
		{"socket", required_argument, nullptr, 's'},
		{"command", required_argument, nullptr, 'c'},
		{"json", no_argument, nullptr, 'j'},
		{"keep-going", no_argument, nullptr, 'k'},
		{"help", no_argument, nullptr, 'h'},
		{"version", no_argument, nullptr, 'V'},
		{nullptr, 0, nullptr, 0},
	};
	std::string socket = getenv("LOTTO_SOCKET") ? getenv("LOTTO_SOCKET") : control::kDefaultSocket;
	std::string commands;
	bool have_commands = false, json = false, keep_going = false;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":s:c:jkhV", longopts, nullptr);
		if (c == -1)
			break;
		switch (c) {
		case 's':
			socket = optarg;
			break;
		case 'c':
			commands += std::string(have_commands ? "; " : "") + optarg;
			have_commands = true;
			break;
		case 'j':
			json = true;
			break;
		case 'k':
			keep_going = true;
			break;
		case 'h':
			fputs(usage(), stdout);
			return 0;
		case 'V':
			printf("lotto-shell %s (protocol %d)\n", LOTTO_VERSION, control::kProtocolVersion);
			return 0;
		case ':':
			fprintf(stderr, "lotto-shell: option '%s' needs a value (try --help)\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "lotto-shell: unknown option '%s' (try --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lotto-shell: unexpected argument '%s'; to run a command use -c '%s' (try --help)\n",
			argv[optind], argv[optind]);
		return 2;
	}

	Signals signals;
	HostClient client(socket);
	ShellIo io;
	io.out_tty = isatty(STDOUT_FILENO);
	io.err_tty = isatty(STDERR_FILENO);
	io.width = [tty = io.out_tty] { return tty ? terminal_size(false, 80) : 0; };
	io.height = [tty = io.out_tty] { return tty ? terminal_size(true, 0) : 0; };
	Shell shell(client, signals, io, json);

	constexpr int kInterrupted = 128 + SIGINT;	// as a shell reports a script stopped by Ctrl-C
	if (have_commands) {
		shell.set_script(true);
		Status s = shell.run_line(commands, keep_going);
		return s == Status::interrupted ? kInterrupted : s == Status::error ? 1 : 0;
	}
	if (isatty(STDIN_FILENO))
		return run_interactive(shell, signals);

	// piped stdin: one line at a time through the same dispatcher
	shell.set_script(true);
	int rc = 0;
	std::string line;
	while (std::getline(std::cin, line)) {
		Status s = shell.run_line(line, keep_going);
		if (s == Status::interrupted)
			return kInterrupted;
		if (s == Status::quit)
			break;
		if (s == Status::error) {
			rc = 1;
			if (!keep_going)
				break;
		}
	}
	return rc;
}
