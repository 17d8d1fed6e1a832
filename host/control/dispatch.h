// dispatch.h — one request line in, one reply line out. No sockets here:
// the ControlServer feeds it complete lines, the tests and the fuzz target
// call it directly. It validates everything and never throws.
#pragma once

#include "control/host_api.h"
#include "control/protocol.h"

#include <string>
#include <string_view>

namespace lotto::control {

// Who sent a request (from SO_PEERCRED / SO_PEERGROUPS).
struct Peer {
	uint32_t uid = 0;
	uint32_t gid = 0;
	int32_t pid = 0;
	bool admin = false;	// root or a member of the admin group
};

struct DispatchConfig {
	std::string server_version;	// "0.1.0"
	std::string admin_group;	// for "permission denied" messages; "" = root only
};

class Dispatcher {
public:
	Dispatcher(HostApi &host, DispatchConfig cfg) : host_(host), cfg_(std::move(cfg)) {}

	// `line` without its '\n'. Returns the reply line, '\n' included.
	std::string handle(std::string_view line, const Peer &peer);

	uint64_t requests() const { return requests_; }
	uint64_t errors() const { return errors_; }

private:
	std::string run(const std::string &cmd, const json &req, const json &id, const Peer &peer);

	HostApi &host_;
	DispatchConfig cfg_;
	uint64_t requests_ = 0;
	uint64_t errors_ = 0;
};

} // namespace lotto::control
