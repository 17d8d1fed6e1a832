// lotto-wakebench — wake-up latency and throughput of a request/worker
// pattern, under whatever scheduler runs (lotto or the kernel's default).
//
//   lotto-wakebench [--workers N] [--burst-us B] [--think-us T] [--seconds S]
//
// A dispatcher thread wakes N worker threads (one futex each), each worker
// records how long it took from its wake-up call to running (the wake-up
// latency), burns B us of its own CPU time (a request) and goes back to
// sleep; when all N are done the dispatcher sleeps T us and starts the next
// round. Printed, one line:
//
//   wakeups=W p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=.. requests_per_s=..
//
// Latency is CLOCK_MONOTONIC from just before the FUTEX_WAKE to the first
// instruction after the worker's FUTEX_WAIT returns.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <thread>
#include <vector>

#include "common/workload_tool.h"

using lotto::workload::burn_cpu;
using lotto::workload::now_ns;
using lotto::workload::parse_int;

namespace {

const char *const kUsage =
	"usage: lotto-wakebench [--workers N] [--burst-us B] [--think-us T] [--seconds S]\n"
	"\n"
	"A dispatcher wakes N workers (default: the number of CPUs); each burns B us of\n"
	"CPU (default 200) and sleeps again; the dispatcher waits for all, sleeps T us\n"
	"(default 1000) and wakes them again, for S seconds (default 10). Prints the\n"
	"wake-up latency (wake call -> worker running) percentiles and requests/s.\n";

void futex_wait(std::atomic<uint32_t> &w, uint32_t val)
{
	syscall(SYS_futex, reinterpret_cast<uint32_t *>(&w), FUTEX_WAIT_PRIVATE, val, nullptr, nullptr, 0);
}

void futex_wake(std::atomic<uint32_t> &w)
{
	syscall(SYS_futex, reinterpret_cast<uint32_t *>(&w), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

struct alignas(64) Worker {
	std::atomic<uint32_t> seq{0};	// bumped by the dispatcher to wake it
	std::atomic<int64_t> posted{0};	// when
	std::vector<int64_t> lat;	// only the worker writes, read after join
};

struct Shared {
	std::atomic<uint32_t> pending{0};	// workers still busy in this round
	std::atomic<bool> stop{false};
	int64_t burst_ns = 0;
};

void worker_loop(Worker &w, Shared &sh)
{
	uint32_t seen = 0;
	w.lat.reserve(1 << 16);
	for (;;) {
		uint32_t s;
		while ((s = w.seq.load(std::memory_order_acquire)) == seen)
			futex_wait(w.seq, seen);
		int64_t ran = now_ns();
		seen = s;
		if (sh.stop.load())
			return;
		w.lat.push_back(ran - w.posted.load(std::memory_order_relaxed));
		burn_cpu(sh.burst_ns);
		if (sh.pending.fetch_sub(1) == 1)
			futex_wake(sh.pending);
	}
}

} // namespace

int main(int argc, char **argv)
{
	long long workers = std::max(1u, std::thread::hardware_concurrency()), burst_us = 200, think_us = 1000,
		  seconds = 10;
	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "-h" || a == "--help") {
			std::fputs(kUsage, stdout);
			return 0;
		}
		long long *dst = a == "--workers"    ? &workers
				 : a == "--burst-us" ? &burst_us
				 : a == "--think-us" ? &think_us
				 : a == "--seconds"  ? &seconds
						     : nullptr;
		long long hi = a == "--workers" ? 4096 : a == "--seconds" ? 86400 : 10000000;
		long long lo = a == "--workers" || a == "--seconds" ? 1 : 0;
		if (!dst) {
			std::fprintf(stderr, "lotto-wakebench: unknown option '%s' (try --help)\n", argv[i]);
			return 2;
		}
		if (i + 1 >= argc || !parse_int(argv[i + 1], *dst, lo, hi)) {
			std::fprintf(stderr, "lotto-wakebench: %s needs a number in %lld..%lld (try --help)\n", argv[i],
				     lo, hi);
			return 2;
		}
		i++;
	}

	Shared sh;
	sh.burst_ns = burst_us * 1000;
	std::vector<Worker> ws(static_cast<size_t>(workers));
	std::vector<std::thread> threads;
	for (auto &w : ws)
		threads.emplace_back(worker_loop, std::ref(w), std::ref(sh));

	int64_t start = now_ns(), deadline = start + seconds * 1000000000LL;
	uint64_t requests = 0;
	while (now_ns() < deadline) {
		sh.pending.store(uint32_t(workers));
		for (auto &w : ws) {
			w.posted.store(now_ns(), std::memory_order_relaxed);
			w.seq.fetch_add(1, std::memory_order_release);
			futex_wake(w.seq);
		}
		uint32_t p;
		while ((p = sh.pending.load()) != 0)
			futex_wait(sh.pending, p);
		requests += uint64_t(workers);
		if (think_us) {
			timespec ts{time_t(think_us / 1000000), long(think_us % 1000000) * 1000};
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
			}
		}
	}
	double elapsed = double(now_ns() - start) / 1e9;
	sh.stop.store(true);
	for (auto &w : ws) {
		w.seq.fetch_add(1, std::memory_order_release);
		futex_wake(w.seq);
	}
	for (auto &t : threads)
		t.join();

	std::vector<int64_t> all;
	for (auto &w : ws)
		all.insert(all.end(), w.lat.begin(), w.lat.end());
	if (all.empty()) {
		std::fprintf(stderr, "lotto-wakebench: no wake-ups measured\n");
		return 1;
	}
	std::sort(all.begin(), all.end());
	auto pct = [&](double q) { return double(all[std::min(all.size() - 1, size_t(q * double(all.size())))]) / 1e3; };
	std::printf("wakeups=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f requests_per_s=%.1f\n",
		    all.size(), pct(0.5), pct(0.9), pct(0.99), pct(0.999), double(all.back()) / 1e3,
		    double(requests) / elapsed);
	return 0;
}
