#include "control/request.h"

#include <cmath>
#include <fmt/format.h>

namespace lotto::control {

namespace {

HostError missing(const char *k) { return HostError{ErrorCode::bad_request, fmt::format("missing field '{}'", k)}; }

HostError wrong_type(const char *k, const char *want, const nlohmann::json &v)
{
	return HostError{ErrorCode::bad_request, fmt::format("field '{}' must be {}, not {}", k, want, v.type_name())};
}

} // namespace

HostResult<uint64_t> Request::uint(const char *k, uint64_t lo, uint64_t hi, ErrorCode range) const
{
	auto it = j_.find(k);
	if (it == j_.end())
		return missing(k);
	const nlohmann::json &v = *it;
	if (v.is_number_unsigned()) {
		uint64_t x = v.get<uint64_t>();
		if (x < lo || x > hi)
			return HostError{range, fmt::format("{} out of range: {} (use {}..{})", k, x, lo, hi)};
		return x;
	}
	if (v.is_number_integer())	// negative
		return HostError{range, fmt::format("{} out of range: {} (use {}..{})", k, v.get<int64_t>(), lo, hi)};
	if (v.is_number_float()) {
		double d = v.get<double>();
		if (std::isfinite(d) && d == std::floor(d) && d >= (double)lo && d <= (double)hi)
			return (uint64_t)d;
		return HostError{range, fmt::format("{} out of range: {} (use an integer {}..{})", k, v.dump(), lo, hi)};
	}
	return wrong_type(k, "an integer", v);
}

HostResult<uint32_t> Request::pid(const char *k) const
{
	auto p = uint(k, 1, UINT32_MAX, ErrorCode::no_such_pid);
	if (!p)
		return p.error();
	return uint32_t(*p);
}

HostResult<std::string> Request::string(const char *k, size_t max_len) const
{
	auto it = j_.find(k);
	if (it == j_.end())
		return missing(k);
	if (!it->is_string())
		return wrong_type(k, "a string", *it);
	const std::string &s = it->get_ref<const std::string &>();
	if (s.empty())
		return HostError{ErrorCode::bad_request, fmt::format("field '{}' must not be empty", k)};
	if (s.size() > max_len)
		return HostError{ErrorCode::bad_request, fmt::format("field '{}' is longer than {} bytes", k, max_len)};
	if (s.find('\0') != std::string::npos)
		return HostError{ErrorCode::bad_request, fmt::format("field '{}' contains a NUL byte", k)};
	return s;
}

HostResult<double> Request::number(const char *k) const
{
	auto it = j_.find(k);
	if (it == j_.end() || !it->is_number())
		return HostError{ErrorCode::bad_request, fmt::format("field '{}' must be a number", k)};
	return it->get<double>();
}

HostResult<bool> Request::boolean(const char *k) const
{
	auto it = j_.find(k);
	if (it == j_.end())
		return missing(k);
	if (!it->is_boolean())
		return wrong_type(k, "true or false", *it);
	return it->get<bool>();
}

} // namespace lotto::control
