// request.h — reading the fields of one control request: each reader checks
// presence, type and range and answers with the protocol error a client
// should see (bad_request for a missing or mistyped field, the caller's code
// for a value out of range). Shared by the command handlers (commands.cpp)
// and the request codecs (task_query.cpp).
#pragma once

#include "control/host_api.h"

#include <nlohmann/json.hpp>

namespace lotto::control {

class Request {
public:
	explicit Request(const nlohmann::json &body) : j_(body) {}

	bool has(const char *k) const { return j_.contains(k); }
	const nlohmann::json &body() const { return j_; }

	// an unsigned integer in lo..hi (a float equal to one counts);
	// negative or out of range: `range`
	HostResult<uint64_t> uint(const char *k, uint64_t lo, uint64_t hi, ErrorCode range) const;
	// a pid: 1..UINT32_MAX, else no_such_pid
	HostResult<uint32_t> pid(const char *k = "pid") const;
	// a non-empty string of at most max_len bytes, without NUL
	HostResult<std::string> string(const char *k, size_t max_len = 4096) const;
	HostResult<double> number(const char *k) const;
	HostResult<bool> boolean(const char *k) const;

private:
	const nlohmann::json &j_;
};

} // namespace lotto::control
