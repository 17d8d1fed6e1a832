#include "daemon/state_file.h"

#include "core/fd.h"
#include "core/group_book.h"
#include "core/limits.h"
#include "core/regular_file.h"
#include "core/strict_json.h"

extern "C" {
#include "bpf/lotto_abi.h"
}

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>

namespace lotto {

namespace {

using json = nlohmann::json;

// a value as the file has it, for messages
std::string show(const json &v)
{
	if (v.is_number_float())
		return fmt::format("{:g}", v.get<double>());
	return shown(v.dump(-1, ' ', false, json::error_handler_t::replace), 40);
}

// an integer in lo..hi (an integral float like 5.0 too); nothing else
std::optional<uint64_t> integer_in(const json &v, uint64_t lo, uint64_t hi)
{
	if (v.is_number_unsigned()) {
		uint64_t x = v.get<uint64_t>();
		return x >= lo && x <= hi ? std::optional(x) : std::nullopt;
	}
	if (v.is_number_float()) {
		double d = v.get<double>();
		if (std::isfinite(d) && d == std::floor(d) && d >= double(lo) && d <= double(hi))
			return uint64_t(d);
	}
	return std::nullopt;
}

// a pid as a pins key: decimal digits, 1..4294967295
std::optional<uint32_t> pid_key(const std::string &k)
{
	if (k.empty() || k.size() > 10 || k.find_first_not_of("0123456789") != std::string::npos || k[0] == '0')
		return std::nullopt;
	uint64_t x = std::stoull(k);
	return x <= UINT32_MAX ? std::optional(uint32_t(x)) : std::nullopt;
}

struct Parser {
	const std::string &name;
	Error bad(const std::string &where, const std::string &what) const
	{
		return err(Errc::invalid, fmt::format("{}: {}: {} (fix or remove it, or move the file away to start afresh)",
						      name, where, what));
	}

	Result<SavedPolicy> policy(const json &e, size_t i, int version) const
	{
		std::string where = fmt::format("policies[{}]", i);
		SavedPolicy p;
		const json *file = &e;
		if (e.is_object() && version >= 2) {
			for (auto &[k, v] : e.items())
				if (k != "file" && k != "uid" && k != "gid")
					return bad(where, fmt::format("unknown field \"{}\"", shown(k)));
			if (!e.contains("file"))
				return bad(where, "missing field \"file\"");
			file = &e.at("file");
			for (auto [k, out] : {std::pair{"uid", &p.uid}, std::pair{"gid", &p.gid}}) {
				if (!e.contains(k))
					return bad(where, fmt::format("missing field \"{}\"", k));
				auto x = integer_in(e.at(k), 0, UINT32_MAX);
				if (!x)
					return bad(where + "." + k, fmt::format("{} is not an integer in 0..4294967295", show(e.at(k))));
				*out = uint32_t(*x);
			}
		} else if (!e.is_string()) {
			return bad(where, fmt::format("{} is not {}", show(e),
						      version >= 2 ? "an object {\"file\", \"uid\", \"gid\"}" : "a path"));
		}
		if (!file->is_string())
			return bad(where + ".file", fmt::format("{} is not a path", show(*file)));
		p.file = file->get<std::string>();
		if (p.file.empty() || p.file[0] != '/' || p.file.find('\0') != std::string::npos)
			return bad(where + ".file", fmt::format("{} is not an absolute path", show(*file)));
		return p;
	}
};

} // namespace

Result<SavedState> StateFile::parse(std::string_view text, const std::string &name)
{
	Parser ps{name};
	auto j = parse_json_strict(text);
	if (!j)
		return err(Errc::invalid, fmt::format("{}: not a lotto state file ({}); move it away to start afresh", name,
						      j.error().msg == "not valid JSON" ? "invalid JSON" : j.error().msg));
	if (!j->is_object())
		return err(Errc::invalid, fmt::format("{}: not a lotto state file (not a JSON object); move it away to "
						      "start afresh", name));
	for (auto &[k, v] : j->items())
		if (k != "version" && k != "policies" && k != "pins" && k != "group_pins")
			return ps.bad("the top level", fmt::format("unknown field \"{}\"", shown(k)));
	if (!j->contains("version"))
		return ps.bad("version", "missing");
	auto version = integer_in(j->at("version"), 1, UINT32_MAX);
	if (!version || *version > 3)
		return err(Errc::invalid, fmt::format("{}: version {} is not one this lotto-host reads (1 to 3); was it "
						      "written by a newer lotto-host?", name, show(j->at("version"))));
	SavedState s;
	if (auto it = j->find("policies"); it != j->end()) {
		if (!it->is_array())
			return ps.bad("policies", fmt::format("{} is not a list", show(*it)));
		for (size_t i = 0; i < it->size(); i++) {
			auto p = ps.policy((*it)[i], i, int(*version));
			if (!p)
				return p.error();
			s.policies.push_back(std::move(*p));
		}
	}
	if (auto it = j->find("pins"); it != j->end()) {
		if (!it->is_object())
			return ps.bad("pins", fmt::format("{} is not an object {{\"PID\": TICKETS}}", show(*it)));
		for (auto &[k, v] : it->items()) {
			auto pid = pid_key(k);
			if (!pid)
				return ps.bad("pins", fmt::format("\"{}\" is not a pid (an integer 1..4294967295)", shown(k, 24)));
			auto t = integer_in(v, LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX);
			if (!t)
				return ps.bad(fmt::format("pins.\"{}\"", k),
					      fmt::format("tickets {} is not an integer in {}..{}", show(v), LOTTO_TICKETS_MIN,
							  LOTTO_TICKETS_MAX));
			s.pins[*pid] = uint32_t(*t);
		}
	}
	if (auto it = j->find("group_pins"); it != j->end()) {
		if (!it->is_object())
			return ps.bad("group_pins", fmt::format("{} is not an object {{\"GROUP\": FUNDING}}", show(*it)));
		for (auto &[k, v] : it->items()) {
			if (auto r = check_group_name(k); !r)
				return ps.bad("group_pins", fmt::format("\"{}\" is not a group name: {}", shown(k, 24),
									r.error().msg));
			auto f = integer_in(v, LOTTO_FUNDING_MIN, LOTTO_FUNDING_MAX);
			if (!f)
				return ps.bad(fmt::format("group_pins.\"{}\"", k),
					      fmt::format("funding {} is not an integer in {}..{}", show(v), LOTTO_FUNDING_MIN,
							  LOTTO_FUNDING_MAX));
			s.group_pins[k] = uint32_t(*f);
		}
	}
	return s;
}

std::string StateFile::serialize(const SavedState &s)
{
	json j;
	j["version"] = s.group_pins.empty() ? 2 : 3;
	json pols = json::array();
	for (auto &p : s.policies)
		pols.push_back(json{{"file", p.file}, {"uid", p.uid}, {"gid", p.gid}});
	j["policies"] = std::move(pols);
	json pins = json::object();
	for (auto [pid, t] : s.pins)
		pins[std::to_string(pid)] = t;
	j["pins"] = std::move(pins);
	if (!s.group_pins.empty())
		j["group_pins"] = s.group_pins;
	return j.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<SavedState> StateFile::load() const
{
	ReadRules rules;
	rules.max_bytes = limits::kMaxStateFile;
	rules.what = "state file";
	auto f = read_regular_file(path_, rules);
	if (!f) {
		if (f.error().code == Errc::not_found)
			return SavedState{};
		return err(f.error().code, f.error().msg + " (--state-file; move it away to start afresh)");
	}
	return parse(f->text, path_);
}

Result<void> StateFile::save(const SavedState &s) const
{
	std::string text = serialize(s);
	std::error_code ec;
	auto dir = std::filesystem::path(path_).parent_path();
	if (!dir.empty())
		std::filesystem::create_directories(dir, ec);
	std::string tmp = path_ + ".tmp";
	auto fail = [&](const std::string &what) {
		return err(Errc::not_saved, fmt::format("the state file {} could not be written ({}: {})", path_, what,
							strerror(errno)));
	};
	Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
	if (!fd)
		return fail("open " + tmp);
	const char *p = text.data();
	size_t left = text.size();
	while (left) {
		ssize_t n = write(fd.get(), p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail("write " + tmp);
		}
		p += n;
		left -= size_t(n);
	}
	if (fsync(fd.get()) < 0)
		return fail("fsync " + tmp);
	fd.reset();
	if (rename(tmp.c_str(), path_.c_str()) < 0)
		return fail("rename to " + path_);
	// the rename itself must reach the disk too
	Fd d(open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (d && fsync(d.get()) < 0)
		return fail("fsync " + dir.string());
	return {};
}

} // namespace lotto
