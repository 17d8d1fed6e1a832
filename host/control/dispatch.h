// dispatch.h — one request line in, one reply line out. No sockets here:
// the ControlServer feeds it complete lines, the tests and the fuzz target
// call it directly. It validates everything and never throws. Most replies
// are made at once; `lua` and `policy load` answer when the policy engine
// is done (the event loop runs on meanwhile).
#pragma once

#include "control/host_api.h"
#include "control/protocol.h"

#include <functional>
#include <string>
#include <string_view>

namespace lotto::control {

struct DispatchConfig {
	std::string server_version;	// "0.1.0"
	std::string admin_group;	// for "permission denied" messages; "" = root only
};

class Dispatcher {
public:
	Dispatcher(HostApi &host, DispatchConfig cfg) : host_(host), cfg_(std::move(cfg)) {}

	using Send = std::function<void(std::string)>;
	// `line` without its '\n'. `send` gets the reply line ('\n' included)
	// exactly once, maybe before handle() returns.
	void handle(std::string_view line, const Peer &peer, Send send);
	// The same for a host that answers at once (tests, the fuzz target):
	// the reply line, or an `internal` error if it was not ready.
	std::string handle(std::string_view line, const Peer &peer);

	uint64_t requests() const { return requests_; }
	uint64_t errors() const { return errors_; }

private:
	void run(const std::string &cmd, const json &req, const json &id, const Peer &peer, Send &send);
	std::string run_sync(const std::string &cmd, const json &req, const json &id, const Peer &peer);

	HostApi &host_;
	DispatchConfig cfg_;
	uint64_t requests_ = 0;
	uint64_t errors_ = 0;
};

} // namespace lotto::control
