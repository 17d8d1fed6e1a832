// lotto-host — loads the lottery core (or the simulated machine), runs until
// SIGINT/SIGTERM, detaches cleanly.
#include "core/backend.h"
#include "core/log.h"
#include "daemon/options.h"
#include "lotto_version.h"

#include <csignal>
#include <cstdio>
#include <poll.h>
#include <sys/signalfd.h>

using namespace lotto;

static std::unique_ptr<Backend> pick_backend(const Options &o)
{
	if (o.backend == "kernel")
		return make_kernel_backend(o.backend_cfg);
	if (o.backend == "sim")
		return make_sim_backend(o.backend_cfg);
	if (kernel_has_sched_ext()) {
		spdlog::info("backend auto: this kernel has sched_ext, using the kernel backend");
		return make_kernel_backend(o.backend_cfg);
	}
	spdlog::info("backend auto: no sched_ext in this kernel, using the sim backend");
	return make_sim_backend(o.backend_cfg);
}

int main(int argc, char **argv)
{
	auto opts = parse_options(argc, argv);
	if (!opts) {
		fprintf(stderr, "lotto-host: %s\n", opts.error().msg.c_str());
		return 2;
	}
	if (opts->help) {
		fputs(usage(), stdout);
		return 0;
	}
	if (opts->version) {
		printf("lotto-host %s\n", LOTTO_VERSION);
		return 0;
	}
	log_init(opts->log_level);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, nullptr);
	Fd sfd(signalfd(-1, &mask, SFD_CLOEXEC));

	auto backend = pick_backend(*opts);
	if (auto r = backend->start(); !r) {
		spdlog::error("{}", r.error().msg);
		return 1;
	}

	int rc = 0;
	for (;;) {
		pollfd p{sfd.get(), POLLIN, 0};
		int n = poll(&p, 1, backend->poll_interval_ms());
		if (n > 0) {
			signalfd_siginfo si;
			if (read(sfd.get(), &si, sizeof(si)) == sizeof(si)) {
				spdlog::info("{}: detaching", strsignal(si.ssi_signo));
				break;
			}
		}
		backend->poll();
		if (auto ex = backend->exit_info()) {
			spdlog::error("the kernel stopped lotto: {} ({})", ex->reason, ex->msg);
			rc = 1;
			break;
		}
	}
	backend->stop();
	return rc;
}
