#include "daemon/state_file.h"

#include "core/fd.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace lotto {

Result<SavedState> StateFile::load() const
{
	SavedState s;
	std::ifstream in(path_);
	if (!in)
		return s;
	std::stringstream ss;
	ss << in.rdbuf();
	auto j = nlohmann::json::parse(ss.str(), nullptr, false);
	if (j.is_discarded() || !j.is_object())
		return err(path_ + ": not a lotto state file (invalid JSON); move it away to start afresh");
	if (j.value("version", 0) != 1)
		return err(path_ + ": unsupported state file version");
	try {
		if (j.contains("policies"))
			for (auto &p : j.at("policies"))
				s.policies.push_back(p.get<std::string>());
		if (j.contains("pins"))
			for (auto &[k, v] : j.at("pins").items())
				s.pins[static_cast<uint32_t>(std::stoul(k))] = v.get<uint32_t>();
	} catch (const std::exception &e) {
		return err(path_ + ": malformed state file: " + e.what());
	}
	return s;
}

Result<void> StateFile::save(const SavedState &s) const
{
	nlohmann::json j;
	j["version"] = 1;
	j["policies"] = s.policies;
	nlohmann::json pins = nlohmann::json::object();
	for (auto [pid, t] : s.pins)
		pins[std::to_string(pid)] = t;
	j["pins"] = pins;
	std::string text = j.dump(1) + "\n";

	std::error_code ec;
	auto dir = std::filesystem::path(path_).parent_path();
	if (!dir.empty())
		std::filesystem::create_directories(dir, ec);
	std::string tmp = path_ + ".tmp";
	Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	if (!fd)
		return err("cannot write " + tmp + ": " + strerror(errno));
	const char *p = text.data();
	size_t left = text.size();
	while (left) {
		ssize_t n = write(fd.get(), p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err("cannot write " + tmp + ": " + strerror(errno));
		}
		p += n;
		left -= n;
	}
	if (fsync(fd.get()) < 0)
		return err("fsync " + tmp + ": " + strerror(errno));
	fd.reset();
	if (rename(tmp.c_str(), path_.c_str()) < 0)
		return err("rename " + tmp + " -> " + path_ + ": " + strerror(errno));
	return {};
}

} // namespace lotto
