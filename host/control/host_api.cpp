#include "control/host_api.h"

namespace lotto::control {

const char *to_string(ErrorCode c)
{
	switch (c) {
	case ErrorCode::bad_json: return "bad_json";
	case ErrorCode::bad_request: return "bad_request";
	case ErrorCode::unknown_command: return "unknown_command";
	case ErrorCode::too_long: return "too_long";
	case ErrorCode::unsupported_version: return "unsupported_version";
	case ErrorCode::permission_denied: return "permission_denied";
	case ErrorCode::no_such_pid: return "no_such_pid";
	case ErrorCode::not_pinned: return "not_pinned";
	case ErrorCode::no_match: return "no_match";
	case ErrorCode::no_such_group: return "no_such_group";
	case ErrorCode::out_of_range: return "out_of_range";
	case ErrorCode::no_such_policy: return "no_such_policy";
	case ErrorCode::policy_error: return "policy_error";
	case ErrorCode::eval_error: return "eval_error";
	case ErrorCode::unavailable: return "unavailable";
	case ErrorCode::not_saved: return "not_saved";
	case ErrorCode::busy: return "busy";
	case ErrorCode::internal: return "internal";
	}
	return "internal";
}

const char *stat_name(int idx)
{
	if (idx < 0 || idx >= LOTTO_STAT_NR)
		return "?";
	return lotto_stat_names[idx];
}

} // namespace lotto::control
