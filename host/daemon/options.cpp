#include "daemon/options.h"

#include "control/metrics_server.h"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <getopt.h>
#include <spdlog/spdlog.h>
#include <cstdlib>
#include "core/regular_file.h"

#include <sstream>
#include <unistd.h>

namespace lotto {

const char *usage()
{
	return "usage: lotto-host [OPTIONS] [POLICY.lua...]\n"
	       "\n"
	       "Run the lotto lottery scheduler: every time a CPU needs a task, the winner\n"
	       "is drawn at random with probability tickets / (sum of runnable tickets).\n"
	       "\n"
	       "Options:\n"
	       "  --backend B          kernel (sched_ext), sim (simulated machine) or auto\n"
	       "                       (kernel when this kernel has sched_ext; default)\n"
	       "  --default-tickets N  tickets of tasks nobody set (" LOTTO_TICKETS_RANGE ", default "
	       LOTTO_STR(LOTTO_TICKETS_DEFAULT) ")\n"
	       "  --slice-us N         the longest quantum in microseconds (" LOTTO_STR(LOTTO_SLICE_US_MIN) ".."
	       LOTTO_STR(LOTTO_SLICE_US_MAX) ",\n"
	       "                       default " LOTTO_STR(LOTTO_SLICE_US_DEFAULT) "); also what compensation charges against\n"
	       "  --latency-us N       quanta shrink with load: latency / (tasks waiting per\n"
	       "                       CPU + 1), so a round of them takes about N us\n"
	       "                       (default 10000; at least --min-run-us)\n"
	       "  --min-run-us N       shortest quantum, and the least a task runs before a\n"
	       "                       wake-up may make its CPU draw early (default 500 or\n"
	       "                       the slice if shorter; at least slice / 1024)\n"
	       "  --preempt MODE       how a wake-up that finds no idle CPU makes a busy CPU\n"
	       "                       draw early: kick (an IPI, now; default), tick (at its\n"
	       "                       next timer tick, no IPI) or off\n"
	       "  --handoff-us N       a task woken by a running task first waits up to N us\n"
	       "                       for its waker's CPU even if another CPU is idle (a\n"
	       "                       waker often blocks right after handing work over)\n"
	       "                       (0.." LOTTO_STR(LOTTO_HANDOFF_US_MAX) ", default " LOTTO_STR(LOTTO_HANDOFF_US_DEFAULT) ": off, an idle CPU first,\n"
	       "                       else the waker's CPU)\n"
	       "  --transfers          a task woken by a task that then sleeps runs on its\n"
	       "                       waker's tickets too, until it sleeps or wakes that\n"
	       "                       waker (client-server ticket transfers; same group\n"
	       "                       only unless the receiving group accepts others)\n"
	       "  --no-cgroups         put every task in the root group: cgroup cpu.weight\n"
	       "                       is ignored (policy groups still apply)\n"
	       "  --no-catchup         do not credit running tasks with the draws they missed\n"
	       "                       on other CPUs (shares are then per decision, not\n"
	       "                       tickets / sum; for experiments)\n"
	       "  --starve-ms N        no runnable task waits longer than this (" LOTTO_STR(LOTTO_STARVE_MS_MIN) ".."
	       LOTTO_STR(LOTTO_STARVE_MS_MAX) ",\n"
	       "                       default " LOTTO_STR(LOTTO_STARVE_MS_DEFAULT) "); bends the lottery only past the bound\n"
	       "  --no-compensation    disable compensation tickets (for experiments)\n"
	       "  --workload FILE      sim backend: the simulated tasks (see docs/sim.md)\n"
	       "  --sim-cpus N         sim backend: number of simulated CPUs\n"
	       "  --sim-speed X        sim backend: simulated seconds per real second\n"
	       "                       (default 1; 0 = as fast as possible)\n"
	       "  --policy-dir DIR     load every *.lua in DIR and watch it for new files\n"
	       "  --policy-budget F    a tick may take F x its interval (0.01..1, default 0.5;\n"
	       "                       never more than 1 s) before the policy is stopped\n"
	       "  --policy-mem-mb N    memory cap of each policy's Lua state (default 64)\n"
	       "  --unsafe-policies    give policies io, os, ffi, require, debug (trusted\n"
	       "                       scripts only)\n"
	       "  --socket PATH        control socket for lotto-shell\n"
	       "                       (default /run/lotto/lotto.sock)\n"
	       "  --admin-group G      members of group G (a name or a number) may change\n"
	       "                       tickets and policies (root always may; everyone else\n"
	       "                       is read-only)\n"
	       "  --max-clients N      control-socket connections of non-admins in all\n"
	       "                       (1..4096, default 64; admins get 8 more)\n"
	       "  --max-clients-per-user N\n"
	       "                       connections one non-root user may hold (1..4096,\n"
	       "                       default 8)\n"
	       "  --client-timeout-s S close a connection that makes no request for S\n"
	       "                       seconds (0.1..86400, default 60)\n"
	       "  --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	       "                       (off by default; read-only; e.g. 127.0.0.1:9477)\n"
	       "  --metrics-top N      tasks with series of their own: the N with the most\n"
	       "                       CPU time in the last second (0..1000, default 10)\n"
	       "  --state-file PATH    pins and policies survive restarts here\n"
	       "                       (default /var/lib/lotto/state.json)\n"
	       "  --no-state           do not read or write a state file\n"
	       "  --config FILE        read settings from FILE first (default\n"
	       "                       /etc/lotto/lotto.conf if it exists): one `option = value`\n"
	       "                       or `option` per line, names as the long options above,\n"
	       "                       `policy = FILE` for policies, # comments\n"
	       "  --log-level L        trace, debug, info, warn, error (default info)\n"
	       "  -v, --verbose        debug logging, including libbpf's own output\n"
	       "  -h, --help           this text\n"
	       "  -V, --version        print the version\n";
}

template <typename T>
static Result<T> parse_num(const char *flag, const char *s, T lo, T hi)
{
	T v{};
	const char *end = s + std::char_traits<char>::length(s);
	auto [p, ec] = std::from_chars(s, end, v);
	if (ec != std::errc() || p != end || v < lo || v > hi)
		return err(std::string(flag) + ": '" + s + "' is not a number in " + std::to_string(lo) + ".." +
			   std::to_string(hi));
	return v;
}

// a number option into `out`: an integer (parse_num) or, for double, any
// number in lo..hi
template <typename T> static Result<void> set_num(const char *flag, const char *s, T lo, T hi, T &out)
{
	if constexpr (std::is_floating_point_v<T>) {
		char *end = nullptr;
		double x = strtod(s, &end);
		if (!end || *end || !(x >= lo && x <= hi))
			return err(fmt::format("{}: '{}' is not a number in {:.10g}..{:.10g}", flag, s, lo, hi));
		out = x;
	} else {
		auto v = parse_num<T>(flag, s, lo, hi);
		if (!v)
			return v.error();
		out = *v;
	}
	return {};
}

static Result<void> parse_args(int argc, char **argv, Options &o)
{
	enum { O_BACKEND = 256, O_TICKETS, O_SLICE, O_STARVE, O_NOCOMP, O_WORKLOAD, O_SIMCPUS, O_SIMSPEED, O_LOGLEVEL,
	       O_POLICYDIR, O_BUDGET, O_MEM, O_UNSAFE, O_SOCKET, O_ADMIN, O_STATE, O_NOSTATE, O_CONFIG, O_POLICY,
	       O_LATENCY, O_MINRUN, O_PREEMPT, O_NOCATCHUP, O_HANDOFF, O_TRANSFERS, O_NOCGROUPS, O_MAXCLIENTS, O_PERUSER,
	       O_CLIENTTIMEOUT, O_METRICS, O_METRICSTOP };
	static const option longopts[] = {
		{"backend", required_argument, nullptr, O_BACKEND},
		{"default-tickets", required_argument, nullptr, O_TICKETS},
		{"slice-us", required_argument, nullptr, O_SLICE},
		{"starve-ms", required_argument, nullptr, O_STARVE},
		{"no-compensation", no_argument, nullptr, O_NOCOMP},
		{"latency-us", required_argument, nullptr, O_LATENCY},
		{"min-run-us", required_argument, nullptr, O_MINRUN},
		{"preempt", required_argument, nullptr, O_PREEMPT},
		{"no-catchup", no_argument, nullptr, O_NOCATCHUP},
		{"handoff-us", required_argument, nullptr, O_HANDOFF},
		{"transfers", no_argument, nullptr, O_TRANSFERS},
		{"no-cgroups", no_argument, nullptr, O_NOCGROUPS},
		{"workload", required_argument, nullptr, O_WORKLOAD},
		{"sim-cpus", required_argument, nullptr, O_SIMCPUS},
		{"sim-speed", required_argument, nullptr, O_SIMSPEED},
		{"log-level", required_argument, nullptr, O_LOGLEVEL},
		{"policy-dir", required_argument, nullptr, O_POLICYDIR},
		{"policy-budget", required_argument, nullptr, O_BUDGET},
		{"policy-mem-mb", required_argument, nullptr, O_MEM},
		{"unsafe-policies", no_argument, nullptr, O_UNSAFE},
		{"socket", required_argument, nullptr, O_SOCKET},
		{"admin-group", required_argument, nullptr, O_ADMIN},
		{"max-clients", required_argument, nullptr, O_MAXCLIENTS},
		{"max-clients-per-user", required_argument, nullptr, O_PERUSER},
		{"client-timeout-s", required_argument, nullptr, O_CLIENTTIMEOUT},
		{"metrics", required_argument, nullptr, O_METRICS},
		{"metrics-top", required_argument, nullptr, O_METRICSTOP},
		{"state-file", required_argument, nullptr, O_STATE},
		{"no-state", no_argument, nullptr, O_NOSTATE},
		{"config", required_argument, nullptr, O_CONFIG},
		{"policy", required_argument, nullptr, O_POLICY},
		{"verbose", no_argument, nullptr, 'v'},
		{"help", no_argument, nullptr, 'h'},
		{"version", no_argument, nullptr, 'V'},
		{nullptr, 0, nullptr, 0},
	};
	opterr = 0;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, ":vhV", longopts, nullptr);
		if (c == -1)
			break;
		switch (c) {
		case O_BACKEND:
			o.backend = optarg;
			if (o.backend != "kernel" && o.backend != "sim" && o.backend != "auto")
				return err("--backend: '" + o.backend + "' is not one of kernel, sim, auto");
			break;
		case O_TICKETS:
			if (auto r = set_num<uint32_t>("--default-tickets", optarg, LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX, o.backend_cfg.default_tickets); !r)
				return r;
			break;
		case O_SLICE:
			if (auto r = set_num<uint32_t>("--slice-us", optarg, LOTTO_SLICE_US_MIN, LOTTO_SLICE_US_MAX, o.backend_cfg.slice_us); !r)
				return r;
			break;
		case O_STARVE:
			if (auto r = set_num<uint32_t>("--starve-ms", optarg, LOTTO_STARVE_MS_MIN, LOTTO_STARVE_MS_MAX, o.backend_cfg.starve_ms); !r)
				return r;
			break;
		case O_NOCOMP:
			o.backend_cfg.compensation = false;
			break;
		case O_LATENCY:
			if (auto r = set_num<uint32_t>("--latency-us", optarg, LOTTO_SLICE_US_MIN, LOTTO_SLICE_US_MAX, o.backend_cfg.latency_us); !r)
				return r.error();
			break;
		case O_MINRUN:
			if (auto r = set_num<uint32_t>("--min-run-us", optarg, LOTTO_SLICE_US_MIN, LOTTO_SLICE_US_MAX, o.backend_cfg.min_run_us); !r)
				return r.error();
			o.min_run_set = true;
			break;
		case O_PREEMPT: {
			auto m = preempt_from_name(optarg);
			if (!m)
				return err(std::string("--preempt: '") + optarg + "' is not one of off, tick, kick");
			o.backend_cfg.preempt = *m;
			break;
		}
		case O_NOCATCHUP:
			o.backend_cfg.catchup = false;
			break;
		case O_HANDOFF:
			if (auto r = set_num<uint32_t>("--handoff-us", optarg, 0, LOTTO_HANDOFF_US_MAX, o.backend_cfg.handoff_us); !r)
				return r.error();
			break;
		case O_TRANSFERS:
			o.backend_cfg.transfers = true;
			break;
		case O_NOCGROUPS:
			o.backend_cfg.cgroups = false;
			break;
		case O_WORKLOAD:
			o.backend_cfg.workload = optarg;
			break;
		case O_SIMCPUS:
			if (auto r = set_num<uint32_t>("--sim-cpus", optarg, 1, 1024, o.backend_cfg.sim_cpus); !r)
				return r;
			break;
		case O_SIMSPEED:
			if (auto r = set_num<double>("--sim-speed", optarg, 0, 1e6, o.backend_cfg.sim_speed); !r)
				return r;
			break;
		case O_POLICYDIR:
			o.policy_dirs.emplace_back(optarg);
			break;
		case O_POLICY:
			o.policies.emplace_back(optarg);
			break;
		case O_BUDGET:
			if (auto r = set_num<double>("--policy-budget", optarg, 0.01, 1, o.policy_budget); !r)
				return r;
			break;
		case O_MEM:
			if (auto r = set_num<uint32_t>("--policy-mem-mb", optarg, 1, 4096, o.policy_mem_mb); !r)
				return r;
			break;
		case O_UNSAFE:
			o.unsafe_policies = true;
			break;
		case O_SOCKET:
			o.socket_path = optarg;
			break;
		case O_ADMIN:
			o.admin_group = optarg;
			if (o.admin_group.empty())
				return err("--admin-group: give a group name or number");
			break;
		case O_MAXCLIENTS:
			if (auto r = set_num<uint32_t>("--max-clients", optarg, 1, 4096, o.max_clients); !r)
				return r;
			break;
		case O_PERUSER:
			if (auto r = set_num<uint32_t>("--max-clients-per-user", optarg, 1, 4096, o.max_clients_per_user); !r)
				return r;
			break;
		case O_CLIENTTIMEOUT:
			if (auto r = set_num<double>("--client-timeout-s", optarg, 0.1, 86400, o.client_timeout_s); !r)
				return r;
			break;
		case O_METRICS:
			if (auto r = control::split_host_port(optarg); !r)
				return r.error();
			o.metrics = optarg;
			break;
		case O_METRICSTOP:
			if (auto r = set_num<uint32_t>("--metrics-top", optarg, 0, limits::kMaxMetricsTasks, o.metrics_top); !r)
				return r;
			break;
		case O_STATE:
			o.state_file = optarg;
			break;
		case O_NOSTATE:
			o.state_file.clear();
			break;
		case O_CONFIG:
			break;	// read before everything else
		case O_LOGLEVEL:
			o.log_level = optarg;
			if (spdlog::level::from_str(o.log_level) == spdlog::level::off && o.log_level != "off")
				return err("--log-level: '" + o.log_level + "' is not one of trace, debug, info, warn, error, off");
			break;
		case 'v':
			o.log_level = "debug";
			o.backend_cfg.verbose = true;
			break;
		case 'h':
			o.help = true;
			break;
		case 'V':
			o.version = true;
			break;
		case ':':
			return err(std::string("option '") + argv[optind - 1] + "' needs a value (try --help)");
		default:
			return err(std::string("unknown option '") + argv[optind - 1] + "' (try --help)");
		}
	}
	for (int i = optind; i < argc; i++)
		o.policies.emplace_back(argv[i]);
	return {};
}

// `option = value` / `option` lines -> "--option" "value" arguments
static Result<std::vector<std::string>> read_config(const std::string &path)
{
	ReadRules rules;
	rules.max_bytes = limits::kMaxConfigFile;
	rules.what = "config file";
	auto text = read_regular_file(path, rules);
	if (!text)
		return err("--config: " + text.error().msg);
	std::istringstream in(text->text);
	std::vector<std::string> args;
	std::string line;
	for (int n = 1; std::getline(in, line); n++) {
		auto trim = [](std::string s) {
			size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
			return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
		};
		if (auto h = line.find('#'); h != std::string::npos)
			line.resize(h);
		line = trim(line);
		if (line.empty())
			continue;
		auto eq = line.find('=');
		std::string key = trim(line.substr(0, eq));
		if (key.empty() || key.find_first_of(" \t") != std::string::npos)
			return err(path + ":" + std::to_string(n) + ": expected `option = value`");
		if (key == "config")
			return err(path + ":" + std::to_string(n) + ": a config file cannot name another");
		args.push_back("--" + key);
		if (eq != std::string::npos)
			args.push_back(trim(line.substr(eq + 1)));
	}
	return args;
}

Result<Options> parse_options(int argc, char **argv)
{
	Options o;
	std::string config;
	bool explicit_config = false;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--")
			break;
		if (a == "--config" && i + 1 < argc) {
			config = argv[i + 1];
			explicit_config = true;
		} else if (a.rfind("--config=", 0) == 0) {
			config = a.substr(9);
			explicit_config = true;
		}
	}
	if (!explicit_config && access("/etc/lotto/lotto.conf", R_OK) == 0)
		config = "/etc/lotto/lotto.conf";
	if (!config.empty()) {
		auto args = read_config(config);
		if (!args)
			return args.error();
		std::vector<char *> av{argv[0]};
		for (auto &s : *args)
			av.push_back(s.data());
		av.push_back(nullptr);
		if (auto r = parse_args(static_cast<int>(av.size()) - 1, av.data(), o); !r)
			return err(config + ": " + r.error().msg);
		o.config_file = config;
	}
	if (auto r = parse_args(argc, argv, o); !r)
		return r.error();
	// the default minimum run follows a slice set shorter than it
	if (!o.min_run_set)
		o.backend_cfg.min_run_us = std::min(o.backend_cfg.min_run_us, o.backend_cfg.slice_us);
	return o;
}

} // namespace lotto
