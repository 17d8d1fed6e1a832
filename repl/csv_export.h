// csv_export.h — `export csv`: the CSV rows of one sampling iteration. The
// columns are fixed (docs/shell.md):
//   iteration,timestamp,pid,comm,runtime_ns,delta_ns,rolling_runtime_ms,
//   wins,nice,tickets,ticket_share,cpu_share
// delta_ns is the runtime since the previous iteration (the baseline sample
// taken before iteration 1 for the first), rolling_runtime_ms the runtime
// over the last kRollingWindow iterations, the shares are among the rows of
// the iteration (ticket_share = tickets / sum, cpu_share = delta / sum).
#pragma once

#include "control/host_api.h"

#include <chrono>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace lotto::shell {

class CsvSampler {
public:
	static constexpr size_t kRollingWindow = 5;
	static std::string header();	// with '\n'
	static std::string escape(const std::string &field);

	// Remember runtimes without writing anything (before iteration 1).
	void baseline(const std::vector<control::TaskRow> &rows);
	// The lines of one iteration, '\n' terminated.
	std::string sample(uint64_t iteration, std::chrono::system_clock::time_point when,
			   const std::vector<control::TaskRow> &rows);

private:
	std::unordered_map<uint32_t, uint64_t> prev_;		// pid -> runtime at the last sample
	std::unordered_map<uint32_t, std::deque<uint64_t>> window_;	// pid -> last deltas
};

// `export csv --groups`: one row per group per iteration (docs/shell.md):
//   iteration,timestamp,gid,kind,name,funding,tasks,active,runtime_ns,
//   delta_ns,ticket_share,cpu_share
// runtime_ns is the core's count for the group; delta_ns its change since the
// previous iteration (a group first seen, or whose gid now names another
// group: all of it); ticket_share is the host's (among the active groups),
// cpu_share = delta / sum of the iteration's deltas.
class GroupCsvSampler {
public:
	static std::string header();	// with '\n'
	void baseline(const std::vector<control::GroupRow> &rows);
	std::string sample(uint64_t iteration, std::chrono::system_clock::time_point when,
			   const std::vector<control::GroupRow> &rows);

private:
	struct Prev {
		uint64_t runtime_ns;
		std::string kind, name;
	};
	std::unordered_map<uint32_t, Prev> prev_;	// gid -> at the last sample
};

// unix time with milliseconds: 1718000000.123
std::string unix_time(std::chrono::system_clock::time_point t);

} // namespace lotto::shell
