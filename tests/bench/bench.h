// bench.h — what lotto-bench's cases share: the command line and the
// summary of a series of timings.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace lotto::bench {

struct Args {
	std::string cmd;
	uint32_t tasks = 10000;
	uint32_t iterations = 0;	// 0: the case's default
	uint32_t interval_ms = 50;
	uint32_t seconds = 10;		// control: each host-CPU window
	std::string policy;
	std::string host, shell;	// control: the binaries (default: beside lotto-bench)
	bool json = false;
	bool verbose = false;
};

struct Stats {
	double median = 0, p90 = 0, min = 0, max = 0, mean = 0;
};

inline Stats summarize(std::vector<double> v)
{
	Stats s;
	if (v.empty())
		return s;
	std::sort(v.begin(), v.end());
	s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
	s.p90 = v[std::min(v.size() - 1, size_t(double(v.size()) * 0.9))];
	s.min = v.front();
	s.max = v.back();
	for (double x : v)
		s.mean += x;
	s.mean /= double(v.size());
	return s;
}

int bench_control(const Args &a);

} // namespace lotto::bench
