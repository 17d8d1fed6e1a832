#include "control/user_names.h"

#include <pwd.h>
#include <vector>

namespace lotto::control {

const std::string &UserNames::name(uint32_t uid)
{
	auto it = cache_.find(uid);
	if (it != cache_.end())
		return it->second;
	std::vector<char> buf(4096);
	passwd pw{}, *res = nullptr;
	std::string n;
	if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res && res->pw_name)
		n = res->pw_name;
	else
		n = std::to_string(uid);
	if (cache_.size() > 4096)
		cache_.clear();
	return cache_.emplace(uid, std::move(n)).first->second;
}

} // namespace lotto::control
