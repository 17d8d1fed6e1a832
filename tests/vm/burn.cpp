// lotto-burn — a workload for the VM tests, the demo and the benchmark.
//
//   lotto-burn                          a CPU hog, forever
//   lotto-burn --run-ms R --sleep-ms S  R ms of CPU time, then S ms asleep, ...
//   lotto-burn --seconds T ...          stop after T seconds of wall time
//
// The bursts are measured in this thread's own CPU time
// (CLOCK_THREAD_CPUTIME_ID), not in wall time: a burst is the same amount of
// work however long the scheduler makes it wait, which is what the
// compensation test needs (a task that wants R ms of CPU per S ms of sleep).
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>

namespace {

const char *const kUsage = "usage: lotto-burn [--run-ms R --sleep-ms S] [--seconds T]\n"
			   "\n"
			   "Burn CPU: forever (a hog), or R ms of CPU time then S ms of sleep, repeated.\n"
			   "--seconds T stops after T seconds of wall-clock time.\n";

long long now_ns(clockid_t c)
{
	timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

volatile unsigned long sink;

// spin until this thread has used `ns` more CPU time (or until the deadline)
void burn(long long ns, long long deadline)
{
	long long until = now_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
	for (;;) {
		for (int i = 0; i < 20000; i++)
			sink = sink * 1103515245 + 12345;
		if (now_ns(CLOCK_THREAD_CPUTIME_ID) >= until)
			return;
		if (deadline && now_ns(CLOCK_MONOTONIC) >= deadline)
			return;
	}
}

bool parse_ms(const char *s, long long &v)
{
	std::string_view sv(s);
	auto [p, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), v);
	return ec == std::errc() && p == sv.data() + sv.size() && v >= 0 && v <= 86400000LL;
}

} // namespace

int main(int argc, char **argv)
{
	long long run_ms = 0, sleep_ms = 0, seconds = 0;
	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		long long *dst = a == "--run-ms" ? &run_ms : a == "--sleep-ms" ? &sleep_ms : a == "--seconds" ? &seconds : nullptr;
		if (a == "-h" || a == "--help") {
			std::fputs(kUsage, stdout);
			return 0;
		}
		if (!dst) {
			std::fprintf(stderr, "lotto-burn: unknown option '%s' (try --help)\n", argv[i]);
			return 2;
		}
		if (i + 1 >= argc || !parse_ms(argv[i + 1], *dst)) {
			std::fprintf(stderr, "lotto-burn: %s needs a number (try --help)\n", argv[i]);
			return 2;
		}
		i++;
	}
	if ((run_ms == 0) != (sleep_ms == 0)) {
		std::fprintf(stderr, "lotto-burn: give both --run-ms and --sleep-ms, or neither\n");
		return 2;
	}
	long long deadline = seconds ? now_ns(CLOCK_MONOTONIC) + seconds * 1000000000LL : 0;
	for (;;) {
		if (run_ms == 0) {
			burn(1000000000LL, deadline);
		} else {
			burn(run_ms * 1000000LL, deadline);
			timespec ts{time_t(sleep_ms / 1000), long(sleep_ms % 1000) * 1000000L};
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
			}
		}
		if (deadline && now_ns(CLOCK_MONOTONIC) >= deadline)
			return 0;
	}
}
