// lotto-paper — the workloads of Waldspurger & Weihl's experiments (OSDI '94,
// section 5), as run by scripts/paper/*.sh on the sched_ext kernel.
//
//   lotto-paper now                          CLOCK_MONOTONIC, seconds
//   lotto-paper as UID [--nice N] CMD [ARGS...]
//                                            run CMD as user (and group) UID, at nice
//                                            N: the VM has no users to su to, and
//                                            busybox no nice
//   lotto-paper sample --every-ms MS --count N PID...
//                                            every MS ms: time and the CPU time
//                                            (ns, /proc/PID/schedstat) of each PID
//   lotto-paper frames [--every-ms MS] [--seconds S] [--frame N]
//                                            "frames" as fast as it can (N units of
//                                            work each); prints time and frames done
//   lotto-paper mc [--every-ms MS] [--seconds S] [--seed X] [--delay-ms D]
//                                            Monte-Carlo integration; its thread name
//                                            is its relative error ("mc 1.234e-03");
//                                            prints time, trials and relative error;
//                                            starts after D ms, named "mc -" meanwhile
//                                            (no estimate yet)
//   lotto-paper server --socket PATH [--work-us N]
//                                            one thread per client, N us of CPU time
//                                            per request (a fixed burst)
//   lotto-paper client --socket PATH [--every-ms MS] [--seconds S] [--delay-ms D]
//                                            requests one after the other; prints the
//                                            server thread's id, then (D ms later, if
//                                            given) time, requests done and their
//                                            summed response time
//
// Every report line is "t value..." with t in seconds of CLOCK_MONOTONIC (the
// same clock for every process of the machine), so a script can put the
// lines of several processes on one time axis. The work is counted in units
// of the program's own (trials, frames, requests), never in wall time: under
// an emulated CPU only ratios between tasks measured at the same time mean
// something.
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/workload_tool.h"

namespace {

const char *const kUsage =
	"usage: lotto-paper now\n"
	"       lotto-paper as UID [--nice N] CMD [ARGS...]\n"
	"       lotto-paper sample --every-ms MS --count N PID...\n"
	"       lotto-paper frames [--every-ms MS] [--seconds S] [--frame N]\n"
	"       lotto-paper mc [--every-ms MS] [--seconds S] [--seed X] [--delay-ms D]\n"
	"       lotto-paper server --socket PATH [--work-us N]\n"
	"       lotto-paper client --socket PATH [--every-ms MS] [--seconds S]\n"
	"\n"
	"Workloads of the lottery scheduling paper's experiments (scripts/paper/).\n"
	"Reports are lines \"t value...\", t in seconds of CLOCK_MONOTONIC. --seconds 0\n"
	"(the default) runs until killed; --every-ms defaults to 250.\n";

volatile sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

using lotto::workload::now_ns;

double secs(long long ns) { return double(ns) / 1e9; }

[[noreturn]] void die(const char *fmt, const char *arg = "")
{
	std::fprintf(stderr, "lotto-paper: ");
	std::fprintf(stderr, fmt, arg);
	std::fputc('\n', stderr);
	std::exit(2);
}

bool parse_num(std::string_view s, long long &v) { return lotto::workload::parse_int(s, v, 0, INT64_MAX); }

// Options of the form --name N (numbers) or --socket PATH; the rest are
// positional (pids for sample).
struct Opts {
	long long every_ms = 250, seconds = 0, count = 0, frame = 200000, seed = 0, work_us = 5000, delay_ms = 0;
	std::string socket;
	std::vector<long long> pids;
};

Opts parse(int argc, char **argv)
{
	Opts o;
	for (int i = 2; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "--socket" && i + 1 < argc) {
			o.socket = argv[++i];
			continue;
		}
		long long *dst = a == "--every-ms" ? &o.every_ms
				 : a == "--seconds" ? &o.seconds
				 : a == "--count"   ? &o.count
				 : a == "--frame"   ? &o.frame
				 : a == "--seed"    ? &o.seed
				 : a == "--work-us" ? &o.work_us
				 : a == "--delay-ms" ? &o.delay_ms
						    : nullptr;
		long long v;
		if (!dst) {
			if (a.starts_with("-") || !parse_num(a, v))
				die("unknown argument '%s' (try --help)", argv[i]);
			o.pids.push_back(v);
			continue;
		}
		if (i + 1 >= argc || !parse_num(argv[i + 1], *dst))
			die("%s needs a non-negative number", argv[i]);
		i++;
	}
	if (o.every_ms == 0)
		die("--every-ms must be positive");
	return o;
}

void set_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

// A reporter: calls emit() at most every `every_ms` of wall time, and says
// when --seconds is over.
struct Clock {
	long long start = now_ns(), next, every, deadline;
	Clock(const Opts &o)
		: next(start), every(o.every_ms * 1000000LL), deadline(o.seconds ? start + o.seconds * 1000000000LL : 0)
	{
	}
	bool over(long long t) const { return g_stop || (deadline && t >= deadline); }
	bool due(long long t)
	{
		if (t < next)
			return false;
		next = t + every;
		return true;
	}
};

volatile uint64_t g_sink;

// One unit of CPU work: n steps of a linear congruential generator.
void work(long long n)
{
	uint64_t x = g_sink;
	for (long long i = 0; i < n; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	g_sink = x;
}

using lotto::workload::burn_cpu;

int cmd_now()
{
	std::printf("%.6f\n", secs(now_ns()));
	return 0;
}

int cmd_as(int argc, char **argv)
{
	long long uid, nice = 0;
	int cmd = 3;
	if (argc > 4 && std::string_view(argv[3]) == "--nice") {
		std::string_view n = argv[4];
		bool neg = n.starts_with("-");
		if (!parse_num(neg ? n.substr(1) : n, nice) || nice > 20)
			die("--nice needs a number in -20..19");
		nice = neg ? -nice : nice;
		cmd = 5;
	}
	if (argc <= cmd || !parse_num(argv[2], uid) || uid > 0x7fffffff)
		die("as needs a numeric UID and a command");
	if (setpriority(PRIO_PROCESS, 0, int(nice)) != 0)
		die("cannot set nice %s", std::to_string(nice).c_str());
	if (setgroups(0, nullptr) != 0 || setgid(gid_t(uid)) != 0 || setuid(uid_t(uid)) != 0)
		die("cannot become uid %s", argv[2]);
	execvp(argv[cmd], argv + cmd);
	die("cannot run %s", argv[cmd]);
}

int cmd_sample(const Opts &o)
{
	if (o.pids.empty() || o.count == 0)
		die("sample needs --count N and at least one PID");
	long long t = now_ns();
	for (long long k = 0; k <= o.count && !g_stop; k++) {
		if (k) {
			t += o.every_ms * 1000000LL;
			timespec ts{time_t(t / 1000000000LL), long(t % 1000000000LL)};
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR && !g_stop) {
			}
		}
		std::string line = std::to_string(secs(now_ns()));
		for (long long pid : o.pids) {
			std::string path = "/proc/" + std::to_string(pid) + "/schedstat";
			FILE *f = std::fopen(path.c_str(), "r");
			unsigned long long ns = 0;
			if (!f || std::fscanf(f, "%llu", &ns) != 1) {
				if (f)
					std::fclose(f);
				return 0;	// a task is gone: the experiment is over
			}
			std::fclose(f);
			line += " " + std::to_string(ns);
		}
		std::printf("%s\n", line.c_str());
		std::fflush(stdout);
	}
	return 0;
}

int cmd_frames(const Opts &o)
{
	set_name("frames");
	Clock c(o);
	long long frames = 0;
	for (;;) {
		work(o.frame);
		frames++;
		long long t = now_ns();
		bool over = c.over(t);
		if (c.due(t) || over) {
			std::printf("%.6f %lld\n", secs(t), frames);
			std::fflush(stdout);
		}
		if (over)
			return 0;
	}
}

// splitmix64: a small, good generator for the Monte-Carlo trials
uint64_t next_random(uint64_t &s)
{
	uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sleep_ns(long long ns)
{
	timespec ts{time_t(ns / 1000000000LL), long(ns % 1000000000LL)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop) {
	}
}

// Estimates pi = integral over [0,1] of 4 / (1 + x^2) from uniform samples.
// Its relative error after n trials is s / (mean * sqrt(n)), s the sample
// standard deviation: it falls as 1/sqrt(n), and the thread's name shows it
// ("mc 1.234e-03", read by policies/monte_carlo.lua from lotto's task table).
// A task that has no estimate yet is named "mc -". lotto copies a name when
// the task starts to run, so a delayed task naps once briefly after naming
// itself: by its real start the scheduler has seen the name and the policy
// has funded it.
int cmd_mc(const Opts &o)
{
	uint64_t seed = o.seed ? uint64_t(o.seed) : uint64_t(now_ns()) ^ (uint64_t(getpid()) << 32);
	set_name("mc -");
	if (o.delay_ms) {
		long long start = now_ns() + o.delay_ms * 1000000LL;
		sleep_ns(std::min(20000000LL, o.delay_ms * 1000000LL));
		sleep_ns(std::max(0LL, start - now_ns()));
	}
	Clock c(o);
	long long n = 0;
	double mean = 0, m2 = 0;	// Welford's running mean and sum of squares
	char name[16];
	std::printf("%.6f 0 1.0\n", secs(c.start));
	for (;;) {
		for (int i = 0; i < 5000; i++) {
			double x = double(next_random(seed) >> 11) * 0x1.0p-53;
			double f = 4.0 / (1.0 + x * x);
			n++;
			double d = f - mean;
			mean += d / double(n);
			m2 += d * (f - mean);
		}
		double err = std::sqrt(m2 / double(n - 1) / double(n)) / mean;
		std::snprintf(name, sizeof name, "mc %.3e", err);
		set_name(name);
		long long t = now_ns();
		bool over = c.over(t);
		if (c.due(t) || over) {
			std::printf("%.6f %lld %.6e\n", secs(t), n, err);
			std::fflush(stdout);
		}
		if (over)
			return 0;
	}
}

int unix_socket(const std::string &path, sockaddr_un &a)
{
	if (path.empty() || path.size() >= sizeof a.sun_path)
		die("--socket needs a path shorter than %s characters", std::to_string(sizeof a.sun_path).c_str());
	std::memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	std::memcpy(a.sun_path, path.data(), path.size());
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket: %s", std::strerror(errno));
	return fd;
}

// read (out = false) or write exactly n bytes, across short transfers and
// signals; false at end of file or on an error
bool transfer(bool out, int fd, void *buf, size_t n)
{
	auto *p = static_cast<char *>(buf);
	while (n) {
		ssize_t r = out ? write(fd, p, n) : read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= size_t(r);
	}
	return true;
}

// The server: one thread per client (like the paper's multithreaded server),
// which tells the client its thread id, then for each request byte burns a
// fixed amount of CPU time and answers with one byte. A server thread holds
// whatever tickets it is given; with ticket transfers it would run on its
// client's while the client waits.
void serve(int fd, long long work_us)
{
	set_name("server");
	int32_t tid = int32_t(syscall(SYS_gettid));
	if (!transfer(true, fd, &tid, sizeof tid)) {
		close(fd);
		return;
	}
	char b;
	while (transfer(false, fd, &b, 1)) {
		burn_cpu(work_us * 1000LL);
		if (!transfer(true, fd, &b, 1))
			break;
	}
	close(fd);
}

int cmd_server(const Opts &o)
{
	sockaddr_un a;
	int ls = unix_socket(o.socket, a);
	unlink(o.socket.c_str());
	if (bind(ls, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(ls, 16) != 0)
		die("cannot listen on %s", o.socket.c_str());
	set_name("server");
	for (;;) {
		int fd = accept(ls, nullptr, nullptr);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			die("accept: %s", std::strerror(errno));
		}
		std::thread(serve, fd, o.work_us).detach();
	}
}

int cmd_client(const Opts &o)
{
	set_name("client");
	sockaddr_un a;
	int fd = unix_socket(o.socket, a);
	long long give_up = now_ns() + 30000000000LL;
	while (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
		if (now_ns() > give_up)
			die("cannot connect to %s", o.socket.c_str());
		usleep(10000);
	}
	int32_t tid;
	if (!transfer(false, fd, &tid, sizeof tid))
		die("the server closed the connection");
	std::printf("server %d\n", tid);
	std::fflush(stdout);
	// a script sets the tickets of the client and its server thread while
	// both sleep, before the first request
	if (o.delay_ms)
		sleep_ns(o.delay_ms * 1000000LL);
	Clock c(o);
	long long done = 0, resp_ns = 0;
	for (;;) {
		long long t0 = now_ns();
		char b = 'q';
		if (!transfer(true, fd, &b, 1) || !transfer(false, fd, &b, 1))
			die("the server closed the connection");
		long long t = now_ns();
		done++;
		resp_ns += t - t0;
		bool over = c.over(t);
		if (c.due(t) || over) {
			std::printf("%.6f %lld %.6f\n", secs(t), done, secs(resp_ns));
			std::fflush(stdout);
		}
		if (over)
			return 0;
	}
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 2 || std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help") {
		std::fputs(kUsage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	std::string_view cmd = argv[1];
	if (cmd == "as")
		return cmd_as(argc, argv);
	std::signal(SIGPIPE, SIG_IGN);
	// the measuring commands print their last line on SIGTERM; the server
	// and the clients simply end
	if (cmd == "sample" || cmd == "frames" || cmd == "mc")
		std::signal(SIGTERM, on_term);
	Opts o = parse(argc, argv);
	if (cmd == "now")
		return cmd_now();
	if (cmd == "sample")
		return cmd_sample(o);
	if (cmd == "frames")
		return cmd_frames(o);
	if (cmd == "mc")
		return cmd_mc(o);
	if (cmd == "server")
		return cmd_server(o);
	if (cmd == "client")
		return cmd_client(o);
	die("unknown command '%s' (try --help)", argv[1]);
}
