#include "interactive.h"

#include "completion.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

namespace lotto::shell {

namespace {

constexpr int kHistoryMax = 1000;
const char *const kPrompt = "lotto> ";

// readline's callbacks are plain C functions: they reach the session here.
struct Session {
	Shell *shell = nullptr;
	Signals *signals = nullptr;
	std::string history;
	bool quit = false;
	bool installed = false;
	std::vector<std::string> matches;
};
Session *g_session = nullptr;

char *match_generator(const char *, int state)
{
	static size_t next;
	if (state == 0)
		next = 0;
	if (!g_session || next >= g_session->matches.size())
		return nullptr;
	return strdup(g_session->matches[next++].c_str());
}

extern "C" char **lotto_complete(const char *text, int, int)
{
	rl_attempted_completion_over = 1;	// never fall back to readline's file names
	if (!g_session)
		return nullptr;
	try {
		std::string line(rl_line_buffer, rl_end);
		Completion c = complete(line, rl_point, g_session->shell->completion_source());
		g_session->matches = std::move(c.candidates);
		rl_completion_append_character = ' ';
		if (c.is_path && g_session->matches.size() == 1 && !g_session->matches[0].empty() &&
		    g_session->matches[0].back() == '/')
			rl_completion_append_character = '\0';
		if (g_session->matches.empty())
			return nullptr;
		return rl_completion_matches(text, match_generator);
	} catch (...) {
		return nullptr;	// nothing may cross into readline
	}
}

extern "C" void lotto_on_line(char *raw)
{
	Session &s = *g_session;
	rl_callback_handler_remove();	// the terminal is ours while the command runs
	s.installed = false;
	if (!raw) {
		fputs("\n", stdout);
		s.quit = true;
		return;
	}
	std::string line(raw);
	free(raw);
	try {
		if (line.find_first_not_of(" \t") != std::string::npos) {
			add_history(line.c_str());
			if (!s.history.empty())
				append_history(1, s.history.c_str());
		}
		s.signals->drain();	// a Ctrl-C typed before Enter belongs to the old line
		if (s.shell->run_line(line, true) == Status::quit)
			s.quit = true;
	} catch (const std::exception &e) {
		fprintf(stderr, "error: %s\n", e.what());
	} catch (...) {
		fprintf(stderr, "error: unexpected failure\n");
	}
}

void load_history(Session &s)
{
	stifle_history(kHistoryMax);
	if (s.history.empty())
		return;
	struct stat st{};
	if (stat(s.history.c_str(), &st) == 0) {
		read_history(s.history.c_str());
	} else {
		// append_history() needs the file to exist; 0600: commands can name things
		int fd = open(s.history.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
}

} // namespace

std::string history_path()
{
	if (const char *p = getenv("LOTTO_HISTORY"))
		return p;
	const char *home = getenv("HOME");
	if (!home || !*home) {
		passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : nullptr;
	}
	if (!home || !*home)
		return "";
	return std::string(home) + "/.lotto_history";
}

int run_interactive(Shell &shell, Signals &signals)
{
	Session s;
	s.shell = &shell;
	s.signals = &signals;
	s.history = history_path();
	g_session = &s;

	rl_readline_name = "lotto-shell";
	rl_catch_signals = 0;	// SIGINT/SIGWINCH come through the signal pipe
	rl_catch_sigwinch = 0;
	rl_attempted_completion_function = lotto_complete;
	rl_completer_word_break_characters = " \t;";
	rl_completer_quote_characters = "'\"";
	load_history(s);

	fputs("lotto-shell: type help for the commands, Ctrl-D to leave\n", stdout);
	while (!s.quit) {
		if (!s.installed) {
			signals.drain();
			rl_callback_handler_install(kPrompt, lotto_on_line);
			s.installed = true;
		}
		pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {signals.fd(), POLLIN, 0}};
		int n = poll(fds, 2, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents & POLLIN) {
			auto p = signals.drain();
			if (p.resize)
				rl_resize_terminal();
			if (p.interrupt) {
				// Ctrl-C: drop the line being typed, stay in the shell
				rl_replace_line("", 0);
				rl_point = rl_end = 0;
				fputs("^C", stdout);
				rl_crlf();
				rl_on_new_line();
				rl_redisplay();
			}
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
			rl_callback_read_char();
	}
	if (s.installed)
		rl_callback_handler_remove();
	if (!s.history.empty())
		history_truncate_file(s.history.c_str(), kHistoryMax);
	g_session = nullptr;
	return 0;
}

} // namespace lotto::shell
