// options.h — lotto-host's command line.
#pragma once

#include "core/backend.h"
#include "core/limits.h"
#include "core/result.h"

#include <string>
#include <vector>

namespace lotto {

struct Options {
	std::string backend = "auto";	// kernel | sim | auto
	BackendConfig backend_cfg;
	std::vector<std::string> policies;
	std::vector<std::string> policy_dirs;
	std::string log_level = "info";
	std::string socket_path = "/run/lotto/lotto.sock";
	std::string admin_group;		// members may change tickets/policies
	uint32_t max_clients = limits::kMaxClients;			// non-admin connections in all
	uint32_t max_clients_per_user = limits::kMaxClientsPerUser;
	double client_timeout_s = double(limits::kClientIdleTimeout.count());	// idle connections closed
	std::string metrics;			// --metrics ADDR:PORT, "" = off
	uint32_t metrics_top = limits::kDefaultMetricsTasks;	// tasks with series of their own
	std::string state_file = "/var/lib/lotto/state.json";	// "" = none
	std::string config_file;		// the file the settings came from, if any
	bool unsafe_policies = false;		// io/os/ffi/... for policies
	double policy_budget = 0.5;		// fraction of a policy's interval
	uint32_t policy_mem_mb = 64;
	bool min_run_set = false;		// --min-run-us given (else it follows the slice)
	bool help = false;
	bool version = false;
};

// Settings come from the config file (--config FILE, else /etc/lotto/lotto.conf
// if present), then the command line, which wins.
Result<Options> parse_options(int argc, char **argv);
const char *usage();

} // namespace lotto
