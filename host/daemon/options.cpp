#include "daemon/options.h"

#include <charconv>
#include <getopt.h>
#include <spdlog/spdlog.h>
#include <cstdlib>

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
	       "  --default-tickets N  tickets of tasks nobody set (1..1000000, default 100)\n"
	       "  --slice-us N         time slice in microseconds (100..1000000, default 20000)\n"
	       "  --starve-ms N        no runnable task waits longer than this (10..20000,\n"
	       "                       default 5000); bends the lottery only past the bound\n"
	       "  --no-compensation    disable compensation tickets (for experiments)\n"
	       "  --workload FILE      sim backend: the simulated tasks (see docs/sim.md)\n"
	       "  --sim-cpus N         sim backend: number of simulated CPUs\n"
	       "  --sim-speed X        sim backend: simulated seconds per real second\n"
	       "                       (default 1; 0 = as fast as possible)\n"
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

Result<Options> parse_options(int argc, char **argv)
{
	enum { O_BACKEND = 256, O_TICKETS, O_SLICE, O_STARVE, O_NOCOMP, O_WORKLOAD, O_SIMCPUS, O_SIMSPEED, O_LOGLEVEL };
	static const option longopts[] = {
		{"backend", required_argument, nullptr, O_BACKEND},
		{"default-tickets", required_argument, nullptr, O_TICKETS},
		{"slice-us", required_argument, nullptr, O_SLICE},
		{"starve-ms", required_argument, nullptr, O_STARVE},
		{"no-compensation", no_argument, nullptr, O_NOCOMP},
		{"workload", required_argument, nullptr, O_WORKLOAD},
		{"sim-cpus", required_argument, nullptr, O_SIMCPUS},
		{"sim-speed", required_argument, nullptr, O_SIMSPEED},
		{"log-level", required_argument, nullptr, O_LOGLEVEL},
		{"verbose", no_argument, nullptr, 'v'},
		{"help", no_argument, nullptr, 'h'},
		{"version", no_argument, nullptr, 'V'},
		{nullptr, 0, nullptr, 0},
	};
	Options o;
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
		case O_TICKETS: {
			auto v = parse_num<uint32_t>("--default-tickets", optarg, LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX);
			if (!v)
				return v.error();
			o.backend_cfg.default_tickets = *v;
			break;
		}
		case O_SLICE: {
			auto v = parse_num<uint32_t>("--slice-us", optarg, LOTTO_SLICE_US_MIN, LOTTO_SLICE_US_MAX);
			if (!v)
				return v.error();
			o.backend_cfg.slice_us = *v;
			break;
		}
		case O_STARVE: {
			auto v = parse_num<uint32_t>("--starve-ms", optarg, LOTTO_STARVE_MS_MIN, LOTTO_STARVE_MS_MAX);
			if (!v)
				return v.error();
			o.backend_cfg.starve_ms = *v;
			break;
		}
		case O_NOCOMP:
			o.backend_cfg.compensation = false;
			break;
		case O_WORKLOAD:
			o.backend_cfg.workload = optarg;
			break;
		case O_SIMCPUS: {
			auto v = parse_num<uint32_t>("--sim-cpus", optarg, 1, 1024);
			if (!v)
				return v.error();
			o.backend_cfg.sim_cpus = *v;
			break;
		}
		case O_SIMSPEED: {
			char *end = nullptr;
			double x = strtod(optarg, &end);
			if (!end || *end || !(x >= 0 && x <= 1e6))
				return err(std::string("--sim-speed: '") + optarg + "' is not a number in 0..1000000");
			o.backend_cfg.sim_speed = x;
			break;
		}
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
	return o;
}

} // namespace lotto
