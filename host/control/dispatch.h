// dispatch.h — one request line in, one reply line out. No sockets here:
// the ControlServer feeds it complete lines, the tests and the fuzz target
// call it directly. It checks what every request has in common (JSON, `id`,
// `v`, the command and its fields from the table in commands.h, the peer's
// right to write), runs the command's handler and sends exactly one reply.
// It never throws. Most replies are made at once; `lua` and `policy load`
// answer when the policy engine is done (the event loop runs on meanwhile).
#pragma once

#include "control/commands.h"

#include <functional>
#include <string>
#include <string_view>

namespace lotto::control {

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
	// the command, or the error that stops the request before its handler
	HostResult<const Command *> check(const json &req, const Peer &peer) const;

	HostApi &host_;
	DispatchConfig cfg_;
	uint64_t requests_ = 0;
	uint64_t errors_ = 0;
};

} // namespace lotto::control
