#include "signals.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace lotto::shell {

static int g_signal_wr = -1;

extern "C" void lotto_shell_on_signal(int sig)
{
	int saved = errno;
	char c = sig == SIGINT ? 'i' : 'w';
	if (g_signal_wr >= 0)
		(void)!write(g_signal_wr, &c, 1);
	errno = saved;
}

Signals::Signals()
{
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
		rd_.reset(p[0]);
		wr_.reset(p[1]);
		g_signal_wr = p[1];
	}
	struct sigaction sa{};
	sa.sa_handler = lotto_shell_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	// no SA_RESTART: a blocking poll returns EINTR
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGWINCH, &sa, nullptr);
}

Signals::~Signals()
{
	signal(SIGINT, SIG_DFL);
	signal(SIGWINCH, SIG_DFL);
	g_signal_wr = -1;
}

Signals::Pending Signals::drain()
{
	Pending p;
	char buf[64];
	ssize_t n;
	while ((n = read(rd_.get(), buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == 'i')
				p.interrupt = true;
			else
				p.resize = true;
		}
	return p;
}

bool Signals::wait(double seconds)
{
	using namespace std::chrono;
	auto until = steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(seconds));
	for (;;) {
		int left = (int)duration_cast<milliseconds>(until - steady_clock::now()).count();
		if (left <= 0)
			return !drain().interrupt;
		pollfd p{rd_.get(), POLLIN, 0};
		int r = poll(&p, 1, left);
		if (r > 0 || (r < 0 && errno == EINTR)) {
			if (drain().interrupt)
				return false;
		}
	}
}

} // namespace lotto::shell
