#include "host_client.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace lotto::shell {

std::string HostClient::start_hint(const std::string &path)
{
	std::string sock = path == control::kDefaultSocket ? "" : " --socket " + path;
	return fmt::format("is lotto-host running? start it with: sudo lotto-host{} policies/nice_weighted.lua", sock);
}

Result<void> HostClient::connect()
{
	fd_.reset();
	in_.clear();
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	if (path_.empty() || path_.size() >= sizeof(a.sun_path))
		return err(fmt::format("bad socket path '{}': empty or longer than {} bytes", path_, sizeof(a.sun_path) - 1));
	memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
	Fd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!s)
		return err(fmt::format("socket: {}", strerror(errno)));
	if (::connect(s.get(), (sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		if (e == EACCES || e == EPERM)
			return err(fmt::format("permission denied: cannot open {} ({}); ask an admin to check the "
					       "socket's permissions",
					       path_, strerror(e)));
		return err(fmt::format("cannot reach lotto-host at {} ({}): {}", path_, strerror(e), start_hint(path_)));
	}
	fd_ = std::move(s);
	auto hello = roundtrip(json{{"cmd", "hello"}, {"version", control::kProtocolVersion}, {"client", "lotto-shell"}});
	if (!hello) {
		fd_.reset();
		return hello.error();
	}
	admin_ = hello->value("admin", false);
	backend_ = hello->value("backend", "");
	return {};
}

Result<json> HostClient::roundtrip(const json &req)
{
	uint64_t id = 0;
	auto line = exchange(req, id);
	if (!line)
		return line.error();
	return result_of(*line);
}

// The reply's result, or the host's error (last_code() its code).
Result<json> HostClient::result_of(const std::string &line)
{
	json j = json::parse(line, nullptr, false);
	if (j.is_discarded() || !j.is_object())
		return err("lotto-host sent a reply that is not JSON; is the socket really lotto-host's?");
	if (j.value("ok", false)) {
		last_code_.clear();
		return j.contains("result") ? j["result"] : json::object();
	}
	const json &e = j.contains("error") && j["error"].is_object() ? j["error"] : json::object();
	last_code_ = e.value("code", "internal");
	return err(e.value("message", "lotto-host refused the request"));
}

// Send one request (with a fresh id) and wait for the reply line that
// answers it (without its '\n').
Result<std::string> HostClient::exchange(const json &req_in, uint64_t &id)
{
	using namespace std::chrono;
	json req = req_in;
	id = next_id_++;
	req["id"] = id;
	std::string line = req.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
	if (line.size() > control::kMaxLine)
		return err(fmt::format("request too long ({} bytes; the host takes at most {})", line.size(),
				       control::kMaxLine));
	size_t off = 0;
	while (off < line.size()) {
		ssize_t n = send(fd_.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			// the host may have said why it closed (busy) before it did
			if (auto said = last_words(); !said.empty()) {
				fd_.reset();
				return err(said);
			}
			fd_.reset();
			return err(fmt::format("lost the connection to lotto-host ({}): {}", strerror(e), start_hint(path_)));
		}
		off += n;
	}
	std::string ours = "{\"id\":" + std::to_string(id) + ",";
	auto deadline = steady_clock::now() + milliseconds(timeout_ms_);
	size_t scanned = 0;	// in_ has no '\n' before this (a large reply comes in many reads)
	for (;;) {
		size_t nl;
		while ((nl = in_.find('\n', scanned)) != std::string::npos) {
			std::string reply = in_.substr(0, nl);
			in_.erase(0, nl + 1);
			scanned = 0;
			if (reply.compare(0, ours.size(), ours) != 0) {
				json j = json::parse(reply, nullptr, false);
				if (j.is_object() && j.contains("id") && j["id"] != json(id))
					continue;	// a reply to an older request that timed out
			}
			return reply;
		}
		scanned = in_.size();
		int left = (int)duration_cast<milliseconds>(deadline - steady_clock::now()).count();
		if (left <= 0) {
			fd_.reset();
			return err(fmt::format("lotto-host did not answer within {} s; is it stuck? (check its log)",
					       timeout_ms_ / 1000));
		}
		pollfd p{fd_.get(), POLLIN, 0};
		int r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR) {
			last_code_ = "interrupted";
			return err("interrupted (Ctrl-C) while waiting for lotto-host");
		}
		if (r <= 0)
			continue;
		char buf[256 * 1024];
		ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fd_.reset();
			return err(fmt::format("lotto-host closed the connection: {}", start_hint(path_)));
		}
		in_.append(buf, n);
	}
}

// An error line the host sent before closing the connection (a refusal:
// too many clients), or "". Sets last_code().
std::string HostClient::last_words()
{
	pollfd p{fd_.get(), POLLIN, 0};
	while (in_.find('\n') == std::string::npos && poll(&p, 1, 200) > 0) {
		char buf[4096];
		ssize_t n = recv(fd_.get(), buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			break;
		in_.append(buf, n);
	}
	auto nl = in_.find('\n');
	if (nl == std::string::npos)
		return "";
	json j = json::parse(in_.substr(0, nl), nullptr, false);
	in_.clear();
	if (!j.is_object() || !j.contains("error") || !j["error"].is_object())
		return "";
	last_code_ = j["error"].value("code", "internal");
	return j["error"].value("message", "");
}

Result<std::string> HostClient::request(const std::string &cmd, json params, uint64_t &id)
{
	last_code_.clear();
	if (!fd_.valid()) {
		if (auto r = connect(); !r) {
			if (last_code_.empty())
				last_code_ = "unreachable";
			return r.error();
		}
	}
	json req = std::move(params);
	req["cmd"] = cmd;
	auto r = exchange(req, id);
	if (!r && !fd_.valid() && last_code_.empty()) {
		// the host may have restarted: one fresh connection, one retry
		if (auto c = connect(); c)
			r = exchange(req, id);
	}
	if (!r && last_code_.empty())
		last_code_ = "unreachable";
	return r;
}

Result<json> HostClient::call(const std::string &cmd, json params)
{
	uint64_t id = 0;
	auto line = request(cmd, std::move(params), id);
	if (!line)
		return line.error();
	return result_of(*line);
}

Result<std::string> HostClient::call_text(const std::string &cmd, json params)
{
	uint64_t id = 0;
	auto line = request(cmd, std::move(params), id);
	if (!line)
		return line.error();
	if (auto text = control::ok_result_text(*line, json(id))) {
		last_code_.clear();
		return std::string(*text);
	}
	auto r = result_of(*line);	// an error, or a reply in another layout
	if (!r)
		return r.error();
	return r->dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace lotto::shell
