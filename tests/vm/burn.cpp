// lotto-burn — a workload for the VM tests, the demo and the benchmark.
//
//   lotto-burn                          a CPU hog, forever
//   lotto-burn --run-ms R --sleep-ms S  R ms of CPU time, then S ms asleep, ...
//   lotto-burn --run-us R --sleep-us S  the same in microseconds
//   lotto-burn --seconds T ...          stop after T seconds of wall time
//   lotto-burn ... --report FILE        with a sleep: write how late each wake-up
//                                       ran (after the first second) to FILE at
//                                       exit (SIGTERM or --seconds)
//   lotto-burn --threads N ...          N threads doing the same (64 KiB stacks,
//                                       so that 10,000 fit in a small VM)
//   lotto-burn ... --tids FILE          write the thread ids, one a line, once
//                                       all threads exist
//   lotto-burn ... --start-file FILE    the threads wait (asleep) until FILE
//                                       exists: time to place them in groups
//
// The bursts are measured in this thread's own CPU time
// (CLOCK_THREAD_CPUTIME_ID), not in wall time: a burst is the same amount of
// work however long the scheduler makes it wait, which is what the
// compensation test needs (a task that wants R ms of CPU per S ms of sleep).
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <pthread.h>
#include <string>
#include <unistd.h>
#include <string_view>
#include <vector>

#include "common/workload_tool.h"

using lotto::workload::burn_cpu;
using lotto::workload::now_ns;

namespace {

const char *const kUsage = "usage: lotto-burn [--run-ms R --sleep-ms S | --run-us R --sleep-us S] [--seconds T]\n"
			   "                  [--report FILE] [--threads N [--tids FILE] [--start-file FILE]]\n"
			   "\n"
			   "Burn CPU: forever (a hog), or R ms (us) of CPU time then S ms (us) of sleep,\n"
			   "repeated. --seconds T stops after T seconds of wall-clock time. --report FILE:\n"
			   "at exit (also on SIGTERM) write how late the wake-ups after the first second\n"
			   "ran, past the end of their sleep: wakeups=N p50_us= p99_us= max_us=.\n"
			   "--threads N: N threads (64 KiB stacks) each doing the above; --tids FILE\n"
			   "writes their thread ids once they all exist (not with --report);\n"
			   "--start-file FILE: they start only once FILE exists.\n";

volatile sig_atomic_t g_stop = 0;

void on_term(int) { g_stop = 1; }

// spin until this thread has used `ns` more CPU time (or until the deadline)
void burn(long long ns, long long deadline) { burn_cpu(ns, deadline, 20000); }

bool parse_num(const char *s, long long &v) { return lotto::workload::parse_int(s, v, 0, 86400000LL); }

// --threads: what each thread runs (no report)
struct Loop {
	long long run_ns, sleep_ns, deadline;
};

void run_loop(const Loop &l)
{
	while (!g_stop) {
		if (l.run_ns == 0) {
			burn(1000000000LL, l.deadline);
		} else {
			burn(l.run_ns, l.deadline);
			timespec ts{time_t(l.sleep_ns / 1000000000LL), long(l.sleep_ns % 1000000000LL)};
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop) {
			}
		}
		if (l.deadline && now_ns(CLOCK_MONOTONIC) >= l.deadline)
			break;
	}
}

Loop g_loop;
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
bool g_go;
std::vector<pid_t> g_tids;

void *thread_main(void *)
{
	pid_t tid = gettid();
	pthread_mutex_lock(&g_mu);
	g_tids.push_back(tid);
	while (!g_go)	// start together: creating 10,000 threads while the
		pthread_cond_wait(&g_cv, &g_mu);	// first ones burn would take long
	pthread_mutex_unlock(&g_mu);
	run_loop(g_loop);
	return nullptr;
}

int run_threads(long long n, const char *tids_file, const char *start_file)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	std::vector<pthread_t> th;
	th.reserve(size_t(n));
	for (long long i = 0; i < n; i++) {
		pthread_t t;
		int e = pthread_create(&t, &attr, thread_main, nullptr);
		if (e != 0) {
			std::fprintf(stderr, "lotto-burn: thread %lld of %lld: %s\n", i + 1, n, std::strerror(e));
			return 1;
		}
		th.push_back(t);
	}
	for (;;) {	// until every thread has recorded its id
		pthread_mutex_lock(&g_mu);
		size_t k = g_tids.size();
		pthread_mutex_unlock(&g_mu);
		if (k == size_t(n))
			break;
		usleep(10000);
	}
	if (tids_file) {
		std::string tmp = std::string(tids_file) + ".tmp";
		FILE *f = std::fopen(tmp.c_str(), "w");
		if (!f) {
			std::fprintf(stderr, "lotto-burn: cannot write %s: %s\n", tmp.c_str(), std::strerror(errno));
			return 1;
		}
		for (pid_t t : g_tids)
			std::fprintf(f, "%d\n", int(t));
		std::fclose(f);
		if (std::rename(tmp.c_str(), tids_file) != 0) {
			std::fprintf(stderr, "lotto-burn: cannot write %s: %s\n", tids_file, std::strerror(errno));
			return 1;
		}
	}
	while (start_file && access(start_file, F_OK) != 0)
		usleep(20000);
	pthread_mutex_lock(&g_mu);
	g_go = true;
	pthread_cond_broadcast(&g_cv);
	pthread_mutex_unlock(&g_mu);
	for (pthread_t t : th)
		pthread_join(t, nullptr);
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	long long run_ms = 0, sleep_ms = 0, run_us = 0, sleep_us = 0, seconds = 0, threads = 0;
	const char *report = nullptr, *tids = nullptr, *start_file = nullptr;
	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "--report" && i + 1 < argc) {
			report = argv[++i];
			continue;
		}
		if (a == "--tids" && i + 1 < argc) {
			tids = argv[++i];
			continue;
		}
		if (a == "--start-file" && i + 1 < argc) {
			start_file = argv[++i];
			continue;
		}
		long long *dst = a == "--run-ms"     ? &run_ms
				 : a == "--sleep-ms" ? &sleep_ms
				 : a == "--run-us"   ? &run_us
				 : a == "--sleep-us" ? &sleep_us
				 : a == "--seconds"  ? &seconds
				 : a == "--threads"  ? &threads
						     : nullptr;
		if (a == "-h" || a == "--help") {
			std::fputs(kUsage, stdout);
			return 0;
		}
		if (!dst) {
			std::fprintf(stderr, "lotto-burn: unknown option '%s' (try --help)\n", argv[i]);
			return 2;
		}
		if (i + 1 >= argc || !parse_num(argv[i + 1], *dst)) {
			std::fprintf(stderr, "lotto-burn: %s needs a number (try --help)\n", argv[i]);
			return 2;
		}
		i++;
	}
	long long run_ns = run_ms * 1000000LL + run_us * 1000LL, sleep_ns = sleep_ms * 1000000LL + sleep_us * 1000LL;
	if ((run_ns == 0) != (sleep_ns == 0)) {
		std::fprintf(stderr, "lotto-burn: give both a run and a sleep time (ms or us), or neither\n");
		return 2;
	}
	if (report && sleep_ns == 0) {
		std::fprintf(stderr, "lotto-burn: --report needs a sleep (--sleep-ms or --sleep-us)\n");
		return 2;
	}
	if ((threads || tids || start_file) && (report || threads < 1 || threads > 100000)) {
		std::fprintf(stderr, "lotto-burn: --threads needs 1..100000 (and no --report); --tids, --start-file need --threads\n");
		return 2;
	}
	if (report)
		std::signal(SIGTERM, on_term);
	long long start = now_ns(CLOCK_MONOTONIC);
	long long deadline = seconds ? start + seconds * 1000000000LL : 0;
	if (threads) {
		g_loop = Loop{run_ns, sleep_ns, deadline};
		return run_threads(threads, tids, start_file);
	}
	std::vector<long long> late;
	while (!g_stop) {
		if (run_ns == 0) {
			burn(1000000000LL, deadline);
		} else {
			burn(run_ns, deadline);
			long long due = now_ns(CLOCK_MONOTONIC) + sleep_ns;
			timespec ts{time_t(sleep_ns / 1000000000LL), long(sleep_ns % 1000000000LL)};
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop) {
			}
			long long woke = now_ns(CLOCK_MONOTONIC);
			if (report && !g_stop && woke - start > 1000000000LL)
				late.push_back(woke - due);
		}
		if (deadline && now_ns(CLOCK_MONOTONIC) >= deadline)
			break;
	}
	if (report) {
		FILE *f = std::fopen(report, "w");
		if (!f) {
			std::fprintf(stderr, "lotto-burn: cannot write %s: %s\n", report, std::strerror(errno));
			return 1;
		}
		std::sort(late.begin(), late.end());
		auto pct = [&](double q) {
			return late.empty() ? 0.0 : double(late[std::min(late.size() - 1, size_t(q * double(late.size())))]) / 1e3;
		};
		std::fprintf(f, "wakeups=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f\n", late.size(), pct(0.5), pct(0.99),
			     late.empty() ? 0.0 : double(late.back()) / 1e3);
		std::fclose(f);
	}
	return 0;
}
