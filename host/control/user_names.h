// user_names.h — uid -> user name, cached (getpwuid_r is a file read per call).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace lotto::control {

class UserNames {
public:
	// The login name, or the uid as decimal text when there is none.
	const std::string &name(uint32_t uid);

private:
	std::unordered_map<uint32_t, std::string> cache_;
};

} // namespace lotto::control
