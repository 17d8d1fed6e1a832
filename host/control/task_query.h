// task_query.h — which lotto tasks `tasks` answers with, in what order and
// how many. lotto-host applies it before it encodes the rows (so that
// `tasks --top 10` of 100,000 tasks sends ten); lotto-shell fills it from
// its flags. The request fields are in docs/protocol.md.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotto::control {

struct TaskRow;
class Request;
template <typename T> class HostResult;

struct TaskQuery {
	std::string sort;		// "" (slot order), or one of kTaskSortKeys
	std::string comm;		// glob on the command name, "" = all
	std::string user;		// user name or uid, "" = all
	std::optional<uint32_t> pid;
	std::optional<size_t> top;	// the first N rows after sorting
};

// cpu (CPU time in the last interval), tickets, wait (average), pid: the
// first three largest first, ties by pid
inline constexpr std::string_view kTaskSortKeys[] = {"cpu", "tickets", "wait", "pid"};
inline constexpr const char *kTaskSortKeysText = "cpu, tickets, wait or pid";
bool is_task_sort_key(std::string_view key);

// Filter, sort (stable) and cut `rows` as `q` says.
void apply_query(std::vector<TaskRow> &rows, const TaskQuery &q);

// The query as the fields of a `tasks` request (lotto-shell), and back
// (lotto-host): order_by, comm, user, pid, top.
nlohmann::json query_request(const TaskQuery &q);
HostResult<TaskQuery> query_of_request(const Request &req);

} // namespace lotto::control
