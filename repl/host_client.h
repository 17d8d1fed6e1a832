// host_client.h — lotto-shell's side of the control socket: connect (lazily,
// once per shell; again after the host restarted), send one request, wait
// for its reply line. Blocking with a timeout: the shell has nothing else to
// do while a command runs.
#pragma once

#include "control/protocol.h"
#include "core/fd.h"
#include "core/result.h"

#include <string>

namespace lotto::shell {

using control::json;

class HostClient {
public:
	explicit HostClient(std::string socket_path, int timeout_ms = 10000)
		: path_(std::move(socket_path)), timeout_ms_(timeout_ms)
	{
	}

	// Connect and say hello. The error is one line that tells what to do.
	Result<void> connect();
	bool connected() const { return fd_.valid(); }
	void disconnect() { fd_.reset(); }

	// Send {"cmd": cmd, ...params}; returns the reply's "result". On a host
	// error, Error.msg is the host's message and last_code() its code.
	Result<json> call(const std::string &cmd, json params = json::object());
	// The same, the result as the JSON text the host sent (not parsed:
	// `tasks --json` of 100,000 tasks is passed on as it came).
	Result<std::string> call_text(const std::string &cmd, json params = json::object());

	const std::string &path() const { return path_; }
	bool admin() const { return admin_; }
	const std::string &backend() const { return backend_; }
	const std::string &last_code() const { return last_code_; }

	// The hint printed when the host cannot be reached.
	static std::string start_hint(const std::string &path);

private:
	Result<json> roundtrip(const json &req);
	Result<std::string> request(const std::string &cmd, json params, uint64_t &id);
	Result<std::string> exchange(const json &req, uint64_t &id);
	Result<json> result_of(const std::string &line);
	std::string last_words();

	std::string path_;
	int timeout_ms_;
	Fd fd_;
	std::string in_;
	uint64_t next_id_ = 1;
	bool admin_ = false;
	std::string backend_;
	std::string last_code_;
};

} // namespace lotto::shell
