// lotto-host — the lotto daemon: attaches the lottery core (or simulates a
// machine), runs Lua policies on timers, serves lotto-shell, and detaches
// cleanly on SIGINT/SIGTERM.
#include "core/log.h"
#include "daemon/daemon.h"
#include "lotto_version.h"

#include <cstdio>

using namespace lotto;

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

	Daemon d(std::move(*opts));
	if (auto r = d.start(); !r) {
		spdlog::error("{}", r.error().msg);
		return 1;
	}
	return d.run();
}
