// lotto-bench — how long lotto-host's policy path takes, on the real map path.
//
//   lotto-bench tick --tasks N [--iterations K] [--policy FILE] [--json]
//     The full policy tick for N tasks: the policy's worker reads the task
//     statistics out of an mmapped BPF array map (BPF_F_MMAPABLE, the exact
//     lotto_tasks layout), runs the policy (policies/nice_weighted.lua by
//     default) through LuaJIT FFI, the engine turns its output into tickets
//     and TicketBook::apply() writes the changed ones into the mmapped
//     lotto_ctl map. Each iteration 1% of the tasks change nice (so there is
//     something to write back) and every task's runtime grows.
//
//   lotto-bench control [--tasks N] [--iterations K] [--seconds S] [--json]
//     The control plane end to end (control_bench.cpp).
//
//   lotto-bench reload [--iterations K] [--interval-ms M] [--tasks N] [--json]
//     Reload latency: save a new version of a policy file in place, and time
//     until (a) the new version is compiled and initialised in its worker and
//     (b) it has run its first tick (it takes over at the policy's next tick
//     time, so (b) includes up to one interval of waiting by design).
//
// BPF maps work on a kernel without sched_ext; creating them needs root
// (CAP_BPF). Nothing is attached.
#include "bench.h"

#include "core/backend.h"
#include "core/event_loop.h"
#include "core/fd.h"
#include "core/ticket_book.h"
#include "lotto_version.h"
#include "policy/engine.h"

#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using namespace lotto;
using namespace lotto::bench;
using Ms = std::chrono::duration<double, std::milli>;
using Us = std::chrono::duration<double, std::micro>;
using SteadyClock = std::chrono::steady_clock;

namespace {

// An mmapped BPF_F_MMAPABLE array map; unmapped and closed with the object.
class MappedMap {
public:
	MappedMap() = default;
	~MappedMap()
	{
		if (p_)
			munmap(p_, len_);
	}
	MappedMap(const MappedMap &) = delete;
	MappedMap &operator=(const MappedMap &) = delete;

	Result<void> create(const char *name, uint32_t value_size, uint32_t entries)
	{
		LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
		int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(uint32_t), value_size, entries, &opts);
		if (fd < 0)
			return err(std::string("bpf_map_create(") + name + "): " + strerror(errno) +
				   (errno == EPERM ? " (run as root: BPF maps need CAP_BPF)" : ""));
		fd_.reset(fd);
		size_t page = size_t(sysconf(_SC_PAGESIZE));
		len_ = (size_t(value_size) * entries + page - 1) / page * page;
		void *p = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return err(std::string("mmap of BPF map ") + name + ": " + strerror(errno));
		p_ = p;
		return {};
	}
	template <typename T> T *as() const { return static_cast<T *>(p_); }

private:
	Fd fd_;
	void *p_ = nullptr;
	size_t len_ = 0;
};

// The kernel backend's memory path without the scheduler: the same two maps,
// filled with synthetic tasks by the benchmark instead of by BPF.
class MapBackend : public Backend {
public:
	Result<void> start() override
	{
		if (auto r = tasks_.create("lotto_tasks", sizeof(lotto_task_stat), LOTTO_MAX_TASKS); !r)
			return r;
		return ctl_.create("lotto_ctl", sizeof(lotto_ctl), LOTTO_MAX_TASKS);
	}
	void stop() override {}
	const char *name() const override { return "bench-maps"; }
	const lotto_task_stat *tasks() const override { return tasks_.as<lotto_task_stat>(); }
	lotto_ctl *ctl() override { return ctl_.as<lotto_ctl>(); }
	uint32_t slots_hw() const override { return hw_; }
	GlobalStats stats() const override { return {}; }
	uint32_t nr_cpus() const override { return uint32_t(sysconf(_SC_NPROCESSORS_ONLN)); }
	std::optional<ExitInfo> exit_info() const override { return std::nullopt; }

	lotto_task_stat *stat() { return tasks_.as<lotto_task_stat>(); }
	void fill(uint32_t n)
	{
		for (uint32_t i = 0; i < n; i++) {
			auto &s = stat()[i];
			memset(&s, 0, sizeof(s));
			s.pid = 100000 + i;
			s.tgid = 100000 + i / 4 * 4;
			s.gen = 1;
			s.nice = int32_t(i % 40) - 20;
			s.uid = 1000 + i % 7;
			s.tickets = LOTTO_TICKETS_DEFAULT;
			s.comp_q10 = 1024;
			s.cgroup_id = 1 + i % 13;
			s.runtime_ns = uint64_t(i) * 1000;
			snprintf(s.comm, sizeof(s.comm), "task%u", i);
		}
		hw_ = n;
	}

private:
	MappedMap tasks_, ctl_;
	uint32_t hw_ = 0;
};

std::string default_policy(const char *argv0)
{
	// the source tree's policies/ (the binary lives in BUILD/bin)
	namespace fs = std::filesystem;
	std::error_code ec;
	fs::path self = fs::canonical("/proc/self/exe", ec);
	for (fs::path p : {fs::path(LOTTO_SOURCE_DIR) / "policies/nice_weighted.lua",
			   self.parent_path() / "../../policies/nice_weighted.lua", fs::path("policies/nice_weighted.lua")})
		if (fs::exists(p, ec))
			return p.lexically_normal().string();
	(void)argv0;
	return "policies/nice_weighted.lua";
}

const char *kUsage =
	"usage: lotto-bench tick --tasks N [--iterations K] [--policy FILE] [--json]\n"
	"       lotto-bench reload [--iterations K] [--interval-ms M] [--tasks N] [--json]\n"
	"       lotto-bench control [--tasks N] [--iterations K] [--seconds S] [--host PATH] [--shell PATH] [--json]\n"
	"  tick     time the full policy tick for N tasks over mmapped BPF array maps\n"
	"  reload   time save -> new version ready -> its first tick\n"
	"  control  lotto-shell -c 'tasks --top 10', 'tasks --json', 'stats' end to end\n"
	"           against lotto-host --backend sim with N tasks, and the host's CPU\n"
	"           while a `watch tasks` runs (S seconds each)\n"
	"  tick and reload need root (BPF maps); sched_ext is not needed\n";

int bench_tick(const Args &a)
{
	if (a.tasks == 0 || a.tasks > LOTTO_MAX_TASKS) {
		fprintf(stderr, "lotto-bench: --tasks must be in 1..%u\n", LOTTO_MAX_TASKS);
		return 2;
	}
	MapBackend b;
	if (auto r = b.start(); !r) {
		fprintf(stderr, "lotto-bench: %s\n", r.error().msg.c_str());
		return 1;
	}
	b.fill(a.tasks);
	TicketBook book(b, LOTTO_TICKETS_DEFAULT);
	EventLoop loop;
	policy::EngineOptions o;
	o.timers = false;
	o.budget_fraction = 2;	// the 1 s hard limit: a busy machine must not fail the run
	policy::Engine e(loop, b, book, o);
	size_t written = 0;
	double apply_us = 0;
	policy::TickReport last;
	e.set_after_tick([&](const policy::TickReport &r) {
		auto t0 = SteadyClock::now();
		written = book.apply();
		apply_us = Us(SteadyClock::now() - t0).count();
		last = r;
	});
	auto name = e.load(a.policy);
	if (!name) {
		fprintf(stderr, "lotto-bench: %s\n", name.error().msg.c_str());
		return 1;
	}
	uint32_t iters = a.iterations ? a.iterations : 200;
	uint32_t warmup = 5;
	std::vector<double> total, worker, fill, output, apply;
	std::vector<double> writes;
	uint32_t step = std::max(1u, a.tasks / 100);
	for (uint32_t k = 0; k < iters + warmup; k++) {
		// the core's side of an interval: runtimes grow, 1% change nice
		for (uint32_t i = 0; i < a.tasks; i++)
			b.stat()[i].runtime_ns += 1000 + i % 5000;
		for (uint32_t i = k % step; i < a.tasks; i += step)
			b.stat()[i].nice = int32_t((uint32_t(b.stat()[i].nice + 20) + 1) % 40) - 20;
		auto t0 = SteadyClock::now();
		auto r = e.tick_now(*name);
		double us = Us(SteadyClock::now() - t0).count();
		if (!r) {
			fprintf(stderr, "lotto-bench: tick failed: %s\n", r.error().msg.c_str());
			return 1;
		}
		if (k < warmup)
			continue;
		total.push_back(us);
		worker.push_back(r->worker_us);
		fill.push_back(last.fill_us);
		output.push_back(last.output_us);
		apply.push_back(apply_us);
		writes.push_back(double(written));
	}
	// check the output really landed in the mmapped ctl map
	uint32_t wrong = 0;
	for (uint32_t i = 0; i < a.tasks; i++) {
		static const uint32_t w[40] = {88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
					       9548,  7620,  6100,  4904,  3906,  3121,  2501,  1991,  1586,  1277,
					       1024,  820,   655,   526,   423,   335,   272,   215,   172,   137,
					       110,   87,    70,    56,    45,    36,    29,    23,    18,    15};
		auto c = b.ctl()[i];
		if (a.policy.find("nice_weighted") != std::string::npos &&
		    (c.pid != b.stat()[i].pid || c.tickets != w[b.stat()[i].nice + 20]))
			wrong++;
	}
	auto t = summarize(total), wk = summarize(worker), wr = summarize(writes);
	auto fi = summarize(fill), ou = summarize(output), ap = summarize(apply);
	if (a.json) {
		printf("{\"bench\": \"tick\", \"tasks\": %u, \"iterations\": %u, \"policy\": \"%s\", "
		       "\"median_us\": %.1f, \"p90_us\": %.1f, \"min_us\": %.1f, \"max_us\": %.1f, \"mean_us\": %.1f, "
		       "\"worker_median_us\": %.1f, \"fill_input_median_us\": %.1f, \"policy_output_median_us\": %.1f, "
		       "\"apply_median_us\": %.1f, \"written_per_tick\": %.0f, \"ctl_mismatches\": %u}\n",
		       a.tasks, iters, name->c_str(), t.median, t.p90, t.min, t.max, t.mean, wk.median, fi.median,
		       ou.median, ap.median, wr.median, wrong);
	} else {
		printf("tick, %u tasks, policy %s, %u iterations (after %u warm-up)\n", a.tasks, name->c_str(), iters,
		       warmup);
		printf("  full tick   median %8.1f us   p90 %8.1f us   min %8.1f us   max %8.1f us\n", t.median,
		       t.p90, t.min, t.max);
		printf("  of which    worker %.1f us, fill_input %.1f us, policy_output %.1f us, apply %.1f us "
		       "(medians)\n",
		       wk.median, fi.median, ou.median, ap.median);
		printf("  ctl writes  %.0f per tick; ctl map %s\n", wr.median,
		       wrong ? "WRONG" : "holds the policy's tickets");
	}
	return wrong ? 1 : 0;
}

std::string version_src(int v, uint32_t interval_ms)
{
	return "-- lotto-bench reload, version " + std::to_string(v) +
	       "\nreturn { name = 'bench_reload', interval_ms = " + std::to_string(interval_ms) +
	       ",\n  init = function(ctx) ctx.state.v = " + std::to_string(v) +
	       " end,\n  tick = function(tasks, ctx)\n"
	       "    for i = 1, #tasks do tasks[i].tickets = " + std::to_string(100 + v) + " end\n  end }\n";
}

int bench_reload(const Args &a)
{
	MapBackend b;
	if (auto r = b.start(); !r) {
		fprintf(stderr, "lotto-bench: %s\n", r.error().msg.c_str());
		return 1;
	}
	uint32_t n = a.tasks ? a.tasks : 1000;
	b.fill(n);
	TicketBook book(b, LOTTO_TICKETS_DEFAULT);
	EventLoop loop;
	policy::EngineOptions o;
	o.timers = true;
	policy::Engine e(loop, b, book, o);
	uint64_t version = 0;
	e.set_after_tick([&](const policy::TickReport &r) {
		version = r.version;
		book.apply();
	});
	char dir_tmpl[] = "/tmp/lotto-bench-XXXXXX";
	if (!mkdtemp(dir_tmpl)) {
		perror("lotto-bench: mkdtemp");
		return 1;
	}
	std::string dir = dir_tmpl, path = dir + "/bench_reload.lua";
	auto write = [&](int v) {
		std::ofstream f(path, std::ios::trunc);
		f << version_src(v, a.interval_ms);
	};
	write(1);
	auto name = e.load(path);
	int rc = 0;
	std::vector<double> ready, first_tick;
	uint32_t iters = a.iterations ? a.iterations : 20;
	if (!name) {
		fprintf(stderr, "lotto-bench: %s\n", name.error().msg.c_str());
		rc = 1;
	}
	auto run_until = [&](auto pred, double limit_ms) {
		auto t0 = SteadyClock::now();
		while (!pred()) {
			if (Ms(SteadyClock::now() - t0).count() > limit_ms)
				return false;
			loop.run_once(1);
		}
		return true;
	};
	for (uint32_t k = 0; rc == 0 && k < iters; k++) {
		run_until([&] { return false; }, double(a.interval_ms) * 0.37 + 10);	// save at varying phases
		uint64_t want = e.list()[0].version + 1;
		auto t0 = SteadyClock::now();
		write(int(want));
		double t_ready = -1;
		bool ok = run_until(
			[&] {
				if (t_ready < 0 && e.list()[0].reload_pending)
					t_ready = Ms(SteadyClock::now() - t0).count();
				return version >= want;
			},
			5000);
		if (!ok) {
			fprintf(stderr, "lotto-bench: version %lu did not take over within 5 s\n", (unsigned long)want);
			rc = 1;
			break;
		}
		double t_tick = Ms(SteadyClock::now() - t0).count();
		first_tick.push_back(t_tick);
		ready.push_back(t_ready >= 0 ? t_ready : t_tick);
	}
	std::filesystem::remove_all(dir);
	if (rc)
		return rc;
	auto r = summarize(ready), f = summarize(first_tick);
	if (a.json) {
		printf("{\"bench\": \"reload\", \"tasks\": %u, \"iterations\": %u, \"interval_ms\": %u, "
		       "\"ready_median_ms\": %.1f, \"ready_max_ms\": %.1f, \"median_ms\": %.1f, \"p90_ms\": %.1f, "
		       "\"max_ms\": %.1f, \"median_us\": %.0f}\n",
		       n, iters, a.interval_ms, r.median, r.max, f.median, f.p90, f.max, f.median * 1000);
	} else {
		printf("reload, %u tasks, policy interval %u ms, %u saves\n", n, a.interval_ms, iters);
		printf("  save -> new version ready     median %6.1f ms   max %6.1f ms\n", r.median, r.max);
		printf("  save -> its first tick        median %6.1f ms   p90 %6.1f ms   max %6.1f ms\n", f.median,
		       f.p90, f.max);
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	Args a;
	for (int i = 1; i < argc; i++) {
		std::string s = argv[i];
		auto next = [&](const char *what) -> const char * {
			if (i + 1 >= argc) {
				fprintf(stderr, "lotto-bench: %s needs a value\n%s", what, kUsage);
				exit(2);
			}
			return argv[++i];
		};
		if (s == "--help" || s == "-h") {
			fputs(kUsage, stdout);
			return 0;
		} else if (s == "--version") {
			printf("lotto-bench %s\n", LOTTO_VERSION);
			return 0;
		} else if (s == "--tasks") {
			a.tasks = uint32_t(strtoul(next("--tasks"), nullptr, 10));
		} else if (s == "--iterations") {
			a.iterations = uint32_t(strtoul(next("--iterations"), nullptr, 10));
		} else if (s == "--interval-ms") {
			a.interval_ms = std::max(10u, uint32_t(strtoul(next("--interval-ms"), nullptr, 10)));
		} else if (s == "--policy") {
			a.policy = next("--policy");
		} else if (s == "--seconds") {
			a.seconds = std::max(1u, uint32_t(strtoul(next("--seconds"), nullptr, 10)));
		} else if (s == "--host") {
			a.host = next("--host");
		} else if (s == "--shell") {
			a.shell = next("--shell");
		} else if (s == "--json") {
			a.json = true;
		} else if (s == "--verbose" || s == "-v") {
			a.verbose = true;
		} else if (a.cmd.empty() && s[0] != '-') {
			a.cmd = s;
		} else {
			fprintf(stderr, "lotto-bench: unknown argument %s\n%s", s.c_str(), kUsage);
			return 2;
		}
	}
	spdlog::set_level(a.verbose ? spdlog::level::info : spdlog::level::warn);
	if (a.policy.empty())
		a.policy = default_policy(argv[0]);
	if (a.cmd == "tick")
		return bench_tick(a);
	if (a.cmd == "reload")
		return bench_reload(a);
	if (a.cmd == "control")
		return bench_control(a);
	fputs(kUsage, stderr);
	return 2;
}
