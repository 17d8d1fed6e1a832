#include "csv_export.h"

#include <fmt/format.h>
#include <numeric>

namespace lotto::shell {

std::string CsvSampler::header()
{
	return "iteration,timestamp,pid,comm,runtime_ns,delta_ns,rolling_runtime_ms,wins,nice,tickets,ticket_share,"
	       "cpu_share\n";
}

std::string CsvSampler::escape(const std::string &f)
{
	if (f.find_first_of(",\"\n\r") == std::string::npos)
		return f;
	std::string o = "\"";
	for (char c : f) {
		if (c == '"')
			o += '"';
		o += c;
	}
	return o + "\"";
}

std::string unix_time(std::chrono::system_clock::time_point t)
{
	auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
	return fmt::format("{}.{:03}", ms / 1000, ms % 1000);
}

void CsvSampler::baseline(const std::vector<control::TaskRow> &rows)
{
	prev_.clear();
	window_.clear();
	for (auto &r : rows)
		prev_[r.pid] = r.runtime_ns;
}

std::string CsvSampler::sample(uint64_t iteration, std::chrono::system_clock::time_point when,
			       const std::vector<control::TaskRow> &rows)
{
	std::vector<uint64_t> delta(rows.size());
	uint64_t sum_delta = 0, sum_tickets = 0;
	for (size_t i = 0; i < rows.size(); i++) {
		auto it = prev_.find(rows[i].pid);
		uint64_t before = it == prev_.end() ? 0 : it->second;	// new task: all its runtime is new
		delta[i] = rows[i].runtime_ns >= before ? rows[i].runtime_ns - before : rows[i].runtime_ns;
		sum_delta += delta[i];
		sum_tickets += rows[i].tickets;
	}
	std::string ts = unix_time(when), out;
	std::unordered_map<uint32_t, uint64_t> next;
	std::unordered_map<uint32_t, std::deque<uint64_t>> next_window;
	for (size_t i = 0; i < rows.size(); i++) {
		const auto &r = rows[i];
		auto w = std::move(window_[r.pid]);
		w.push_back(delta[i]);
		while (w.size() > kRollingWindow)
			w.pop_front();
		uint64_t rolling = std::accumulate(w.begin(), w.end(), uint64_t(0));
		out += fmt::format("{},{},{},{},{},{},{:.3f},{},{},{},{:.6f},{:.6f}\n", iteration, ts, r.pid,
				   escape(r.comm), r.runtime_ns, delta[i], rolling / 1e6, r.wins, r.nice, r.tickets,
				   sum_tickets ? (double)r.tickets / (double)sum_tickets : 0.0,
				   sum_delta ? (double)delta[i] / (double)sum_delta : 0.0);
		next[r.pid] = r.runtime_ns;
		next_window[r.pid] = std::move(w);
	}
	prev_ = std::move(next);		// tasks that are gone are forgotten
	window_ = std::move(next_window);
	return out;
}

std::string GroupCsvSampler::header()
{
	return "iteration,timestamp,gid,kind,name,funding,tasks,active,runtime_ns,delta_ns,ticket_share,cpu_share\n";
}

void GroupCsvSampler::baseline(const std::vector<control::GroupRow> &rows)
{
	prev_.clear();
	for (auto &g : rows)
		prev_[g.gid] = Prev{g.runtime_ns, g.kind, g.name};
}

std::string GroupCsvSampler::sample(uint64_t iteration, std::chrono::system_clock::time_point when,
				    const std::vector<control::GroupRow> &rows)
{
	std::vector<uint64_t> delta(rows.size());
	uint64_t sum = 0;
	for (size_t i = 0; i < rows.size(); i++) {
		const auto &g = rows[i];
		auto it = prev_.find(g.gid);
		bool same = it != prev_.end() && it->second.kind == g.kind && it->second.name == g.name &&
			    g.runtime_ns >= it->second.runtime_ns;
		delta[i] = same ? g.runtime_ns - it->second.runtime_ns : g.runtime_ns;
		sum += delta[i];
	}
	std::string ts = unix_time(when), out;
	std::unordered_map<uint32_t, Prev> next;
	for (size_t i = 0; i < rows.size(); i++) {
		const auto &g = rows[i];
		out += fmt::format("{},{},{},{},{},{},{},{},{},{},{:.6f},{:.6f}\n", iteration, ts, g.gid, g.kind,
				   CsvSampler::escape(g.name), g.funding, g.tasks, g.active, g.runtime_ns, delta[i], g.ticket_share,
				   sum ? (double)delta[i] / (double)sum : 0.0);
		next[g.gid] = Prev{g.runtime_ns, g.kind, g.name};
	}
	prev_ = std::move(next);	// groups that are gone are forgotten
	return out;
}

} // namespace lotto::shell
