// clock.h — reading a POSIX clock as seconds or nanoseconds.
#pragma once

#include <cstdint>
#include <ctime>

namespace lotto {

inline uint64_t clock_ns(clockid_t c)
{
	timespec ts;
	clock_gettime(c, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

inline double clock_s(clockid_t c)
{
	timespec ts;
	clock_gettime(c, &ts);
	return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

} // namespace lotto
