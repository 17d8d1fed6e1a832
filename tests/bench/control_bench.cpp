// control_bench.cpp — lotto-bench control: the control plane end to end, as
// an operator meets it. A lotto-host on the sim backend with N tasks (8 CPUs,
// each task wanting 10% of one), then:
//   * K runs each of `lotto-shell -c 'tasks --top 10'`, `-c 'tasks --json'`,
//     `-c stats` (a fresh process each: start, connect, hello, request, reply,
//     output to /dev/null), wall time per run;
//   * lotto-host's CPU use (utime + stime from /proc) over S seconds with no
//     client, with a `watch tasks --top 40 1` (what a 44-line terminal asks
//     for) and with a `watch tasks 1` (every row, as off a terminal).
// --host and --shell take other binaries (an older build, for a before/after).
#include "bench.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace lotto::bench {

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// fork + exec, stdout and stderr to `out` (a file name, /dev/null)
pid_t spawn(const std::vector<std::string> &argv, const std::string &out)
{
	pid_t p = fork();
	if (p != 0)
		return p;
	int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	std::vector<char *> av;
	for (auto &s : argv)
		av.push_back(const_cast<char *>(s.c_str()));
	av.push_back(nullptr);
	execv(av[0], av.data());
	_exit(127);
}

int wait_for(pid_t p)
{
	int st = 0;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// CPU time of a process so far, seconds
double cpu_seconds(pid_t p)
{
	std::ifstream f("/proc/" + std::to_string(p) + "/stat");
	std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	auto close = all.rfind(')');	// comm may hold spaces
	if (close == std::string::npos)
		return 0;
	std::istringstream in(all.substr(close + 2));
	std::string field;
	unsigned long long utime = 0, stime = 0;
	for (int i = 3; i <= 15 && in >> field; i++) {
		if (i == 14)
			utime = std::stoull(field);
		if (i == 15)
			stime = std::stoull(field);
	}
	return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

struct Case {
	const char *what;
	std::string command;
	Stats ms;
};

struct Load {
	const char *what;
	std::string watch;	// "" : no client
	double cpu_pct = 0;
};

} // namespace

int bench_control(const Args &a)
{
	if (a.tasks == 0 || a.tasks > 100000) {
		fprintf(stderr, "lotto-bench: --tasks must be in 1..100000 for control\n");
		return 2;
	}
	std::error_code ec;
	fs::path bin = fs::canonical("/proc/self/exe", ec).parent_path();
	std::string host = a.host.empty() ? (bin / "lotto-host").string() : a.host;
	std::string shell = a.shell.empty() ? (bin / "lotto-shell").string() : a.shell;
	char tmpl[] = "/tmp/lotto-bench-XXXXXX";
	if (!mkdtemp(tmpl)) {
		fprintf(stderr, "lotto-bench: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	fs::path dir = tmpl;
	std::string sock = (dir / "lotto.sock").string(), wl = (dir / "w.wl").string();
	std::ofstream(wl) << "cpus 8\ntask name=w cpu=10% count=" << a.tasks << "\n";

	pid_t hp = spawn({host, "--backend", "sim", "--workload", wl, "--socket", sock, "--no-state", "--log-level", "warn"},
			 (dir / "host.log").string());
	auto cleanup = [&] {
		kill(hp, SIGTERM);
		wait_for(hp);
		fs::remove_all(dir, ec);
	};
	auto run_shell = [&](const std::string &cmd) {
		return wait_for(spawn({shell, "--socket", sock, "-c", cmd}, "/dev/null"));
	};
	bool up = false;
	for (int i = 0; i < 300 && !up; i++) {
		up = fs::exists(sock, ec) && run_shell("stats") == 0;
		if (!up)
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	if (!up) {
		fprintf(stderr, "lotto-bench: %s did not serve %s within 30 s (see %s/host.log)\n", host.c_str(),
			sock.c_str(), dir.c_str());
		cleanup();
		return 1;
	}
	std::this_thread::sleep_for(std::chrono::seconds(2));	// the sampler's intervals

	uint32_t iters = a.iterations ? a.iterations : 20;
	std::vector<Case> cases = {{"tasks --top 10", "tasks --top 10", {}},
				   {"tasks --json", "tasks --json", {}},
				   {"stats", "stats", {}}};
	for (auto &c : cases) {
		std::vector<double> ms;
		for (uint32_t i = 0; i < iters; i++) {
			auto t0 = SteadyClock::now();
			int rc = run_shell(c.command);
			ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
			if (rc != 0) {
				fprintf(stderr, "lotto-bench: lotto-shell -c '%s' exited %d\n", c.command.c_str(), rc);
				cleanup();
				return 1;
			}
		}
		c.ms = summarize(ms);
	}

	std::vector<Load> loads = {{"no client", ""}, {"watch tasks --top 40 1", "watch tasks --top 40 1"},
				   {"watch tasks 1", "watch tasks 1"}};
	for (auto &l : loads) {
		pid_t w = l.watch.empty() ? 0 : spawn({shell, "--socket", sock, "-c", l.watch}, "/dev/null");
		std::this_thread::sleep_for(std::chrono::milliseconds(500));
		double c0 = cpu_seconds(hp);
		auto t0 = SteadyClock::now();
		std::this_thread::sleep_for(std::chrono::seconds(a.seconds));
		double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
		l.cpu_pct = 100 * (cpu_seconds(hp) - c0) / secs;
		if (w) {
			kill(w, SIGINT);
			wait_for(w);
		}
	}
	cleanup();

	if (a.json) {
		printf("{\"bench\": \"control\", \"tasks\": %u, \"iterations\": %u", a.tasks, iters);
		for (auto &c : cases)
			printf(", \"%s\": {\"median_ms\": %.1f, \"p90_ms\": %.1f, \"min_ms\": %.1f}", c.what, c.ms.median,
			       c.ms.p90, c.ms.min);
		for (auto &l : loads)
			printf(", \"host_cpu_pct %s\": %.1f", l.what, l.cpu_pct);
		printf("}\n");
	} else {
		printf("control plane, %u tasks (sim, 8 CPUs), %u runs of each lotto-shell -c\n", a.tasks, iters);
		for (auto &c : cases)
			printf("  %-16s median %7.1f ms   p90 %7.1f ms   min %7.1f ms\n", c.what, c.ms.median, c.ms.p90,
			       c.ms.min);
		printf("lotto-host CPU over %u s (the simulated machine included)\n", a.seconds);
		for (auto &l : loads)
			printf("  %-24s %5.1f%% of one CPU\n", l.what, l.cpu_pct);
	}
	return 0;
}

} // namespace lotto::bench
