#include "control/task_query.h"

#include "control/host_api.h"
#include "control/request.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fnmatch.h>

namespace lotto::control {

bool is_task_sort_key(std::string_view key)
{
	return std::find(std::begin(kTaskSortKeys), std::end(kTaskSortKeys), key) != std::end(kTaskSortKeys);
}

void apply_query(std::vector<TaskRow> &rows, const TaskQuery &q)
{
	std::string uid_text;
	std::erase_if(rows, [&](const TaskRow &r) {
		if (q.pid && r.pid != *q.pid)
			return true;
		if (!q.comm.empty() && fnmatch(q.comm.c_str(), r.comm.c_str(), 0) != 0)
			return true;
		if (!q.user.empty() && q.user != r.user && q.user != (uid_text = std::to_string(r.uid)))
			return true;
		return false;
	});
	if (!q.sort.empty()) {
		auto by = [&](const TaskRow &a, const TaskRow &b) {
			if (q.sort == "tickets" && a.tickets != b.tickets)
				return a.tickets > b.tickets;
			if (q.sort == "wait" && a.wait_avg_ns != b.wait_avg_ns)
				return a.wait_avg_ns > b.wait_avg_ns;
			if (q.sort == "cpu" && a.delta_ns != b.delta_ns)
				return a.delta_ns > b.delta_ns;
			return a.pid < b.pid;
		};
		// the tie-break on pid (pids are unique) makes the order total, so
		// neither sort needs to be stable; only the first N need their order
		if (q.top && *q.top < rows.size())
			std::partial_sort(rows.begin(), rows.begin() + *q.top, rows.end(), by);
		else
			std::sort(rows.begin(), rows.end(), by);
	}
	if (q.top && rows.size() > *q.top)
		rows.resize(*q.top);
}

namespace {

// One field list for both directions: Out writes the fields that are set,
// In reads and checks them.
template <typename V, typename Q> void query_fields(V &v, Q &q)
{
	v.sort_key("order_by", q.sort);
	v.text("comm", q.comm);
	v.text("user", q.user);
	v.number("pid", q.pid, 1, UINT32_MAX, ErrorCode::no_such_pid);
	v.number("top", q.top, 1, UINT32_MAX, ErrorCode::out_of_range);
}

struct Out {
	nlohmann::json &j;
	void sort_key(const char *k, const std::string &s) { text(k, s); }
	void text(const char *k, const std::string &s)
	{
		if (!s.empty())
			j[k] = s;
	}
	template <typename T> void number(const char *k, const std::optional<T> &x, uint64_t, uint64_t, ErrorCode)
	{
		if (x)
			j[k] = *x;
	}
};

struct In {
	const Request &req;
	std::optional<HostError> error;

	void sort_key(const char *k, std::string &s)
	{
		text(k, s);
		if (!error && !s.empty() && !is_task_sort_key(s))
			error = HostError{ErrorCode::bad_request,
					  fmt::format("field '{}' must be one of {}, not '{}'", k, kTaskSortKeysText, s)};
	}
	void text(const char *k, std::string &s)
	{
		if (error || !req.has(k))
			return;
		auto v = req.string(k, 256);
		if (!v)
			error = v.error();
		else
			s = *v;
	}
	template <typename T>
	void number(const char *k, std::optional<T> &x, uint64_t lo, uint64_t hi, ErrorCode range)
	{
		if (error || !req.has(k))
			return;
		auto v = req.uint(k, lo, hi, range);
		if (!v)
			error = v.error();
		else
			x = T(*v);
	}
};

} // namespace

nlohmann::json query_request(const TaskQuery &q)
{
	nlohmann::json j = nlohmann::json::object();
	Out o{j};
	query_fields(o, q);
	return j;
}

HostResult<TaskQuery> query_of_request(const Request &req)
{
	TaskQuery q;
	In in{req, std::nullopt};
	query_fields(in, q);
	if (in.error)
		return *in.error;
	return q;
}

} // namespace lotto::control
