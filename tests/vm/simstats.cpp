// lotto-simstats — run a workload on the sim backend (as fast as possible)
// and print what lotto-ctl prints for the kernel: the counters
// (`name=value`, deltas over the measured seconds) and each named task's
// CPU time and wins. tests/vm/parity.sh runs the same workload on the real
// kernel and compares the two: the sim and the BPF core share their
// decision rules (bpf/lotto_rules.h) and must agree where docs/sim.md says
// they do.
//
//   lotto-simstats --workload FILE --seconds S [--warmup S] [--transfers] [--seed N] [--preempt-off] [--no-catchup]
#include "sim/sim_machine.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

using namespace lotto;
using namespace lotto::sim;

namespace {

int usage(const char *why)
{
	std::fprintf(stderr, "lotto-simstats: %s\nusage: lotto-simstats --workload FILE --seconds S [--warmup S] [--transfers] [--seed N] [--preempt-off] [--no-catchup]\n",
		     why);
	return 2;
}

bool seconds(std::string_view s, double &out)
{
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
	return ec == std::errc() && p == s.data() + s.size() && out >= 0 && out <= 3600;
}

} // namespace

int main(int argc, char **argv)
{
	std::string file;
	double secs = -1, warmup = 1;
	BackendConfig cfg;
	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		bool has = i + 1 < argc;
		if (a == "--workload" && has)
			file = argv[++i];
		else if (a == "--seconds" && has) {
			if (!seconds(argv[++i], secs) || secs <= 0)
				return usage("--seconds needs a number in (0, 3600]");
		} else if (a == "--warmup" && has) {
			if (!seconds(argv[++i], warmup))
				return usage("--warmup needs a number in [0, 3600]");
		} else if (a == "--transfers")
			cfg.transfers = true;
		else if (a == "--preempt-off")
			cfg.preempt = LOTTO_PREEMPT_OFF;
		else if (a == "--no-catchup")
			cfg.catchup = false;
		else if (a == "--seed" && has) {
			std::string_view v = argv[++i];
			auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), cfg.sim_seed);
			if (ec != std::errc() || p != v.data() + v.size() || !cfg.sim_seed)
				return usage("--seed needs a positive integer");
		}
		else if (a == "-h" || a == "--help") {
			std::printf("usage: lotto-simstats --workload FILE --seconds S [--warmup S] [--transfers] [--seed N] [--preempt-off] [--no-catchup]\n"
				    "run a sim workload as fast as possible; print the counters and each task's\n"
				    "CPU time and wins over S seconds after a warm-up (default 1 s); --seed: the\n"
				    "sim's random seed (default 1), for many independent runs; --preempt-off,\n"
				    "--no-catchup: as lotto-host's --preempt off, --no-catchup\n");
			return 0;
		}
		else
			return usage(("unknown or incomplete option '" + std::string(a) + "'").c_str());
	}
	if (file.empty() || secs < 0)
		return usage("--workload and --seconds are needed");
	auto w = load_workload(file);	// the sim backend's own reader: regular files only, size-checked
	if (!w) {
		std::fprintf(stderr, "lotto-simstats: %s\n", w.error().msg.c_str());
		return 1;
	}
	auto m = SimMachine::create(*w, cfg);
	if (!m) {
		std::fprintf(stderr, "lotto-simstats: %s: %s\n", file.c_str(), m.error().msg.c_str());
		return 1;
	}
	SimMachine &sim = **m;
	sim.run_for(uint64_t(warmup * 1e9));
	GlobalStats before = sim.stats();
	std::vector<ThreadReport> start;
	for (uint32_t pid : sim.pids())
		start.push_back(*sim.thread(pid));
	sim.run_for(uint64_t(secs * 1e9));
	GlobalStats after = sim.stats();
	for (int s = 0; s < LOTTO_STAT_NR; s++)
		std::printf("%s=%llu\n", lotto_stat_names[s], (unsigned long long)(after.total[s] - before.total[s]));
	size_t i = 0;
	for (uint32_t pid : sim.pids()) {
		ThreadReport r = *sim.thread(pid);
		std::printf("task %s pid=%u runtime_ns=%llu wins=%llu waits=%llu\n", r.comm.c_str(), pid,
			    (unsigned long long)(r.runtime_ns - start[i].runtime_ns),
			    (unsigned long long)(r.wins - start[i].wins), (unsigned long long)(r.waits - start[i].waits));
		i++;
	}
	return 0;
}
