// workload_tool.h — what the workload tools share (lotto-burn, lotto-rpc,
// lotto-wakebench, lotto-paper): clocks, a CPU burner, number arguments.
// Header only, no dependencies.
#pragma once

#include <charconv>
#include <cstdint>
#include <ctime>
#include <string_view>

namespace lotto::workload {

inline int64_t now_ns(clockid_t c = CLOCK_MONOTONIC)
{
	timespec ts;
	clock_gettime(c, &ts);
	return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Spin until this thread has used `ns` more CPU time (CPU time, not wall
// time: a burst is the same work however often the thread is preempted),
// or until CLOCK_MONOTONIC reaches `deadline_ns` (0: none). `step`: loop
// iterations between clock reads (more: fewer system calls, coarser end).
inline void burn_cpu(int64_t ns, int64_t deadline_ns = 0, int step = 200)
{
	volatile unsigned long sink = 1;	// per thread: no shared cache line
	int64_t until = now_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
	for (;;) {
		for (int i = 0; i < step; i++)
			sink = sink * 1103515245 + 12345;
		if (now_ns(CLOCK_THREAD_CPUTIME_ID) >= until)
			return;
		if (deadline_ns && now_ns() >= deadline_ns)
			return;
	}
}

// a whole decimal integer in [lo, hi]
inline bool parse_int(std::string_view s, long long &v, long long lo, long long hi)
{
	long long x;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
	if (ec != std::errc() || p != s.data() + s.size() || x < lo || x > hi)
		return false;
	v = x;
	return true;
}

} // namespace lotto::workload
