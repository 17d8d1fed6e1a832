// commands.h — the control protocol's commands: one table entry each, with
// its name, the fields a request may carry, whether it changes anything
// (then only admins may send it), what it is for, and its handler.
//
// Adding a command is one entry in commands() and one handler beside it
// (commands.cpp), and its section in docs/protocol.md. The dispatcher
// (dispatch.h) does everything else the same way for every command: the JSON
// line, `id`, `v`, unknown fields, permissions, one reply line, the count of
// errors.
#pragma once

#include "control/host_api.h"
#include "control/protocol.h"
#include "control/request.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace lotto::control {

struct DispatchConfig {
	std::string server_version;	// "0.1.0"
	std::string admin_group;	// for "permission denied" messages; "" = root only
};

// What a handler gets: the request (its fields checked against the entry's
// list), who sent it, the host.
struct Call {
	const Request &req;
	const Peer &peer;
	HostApi &host;
	const DispatchConfig &cfg;
};

// A handler's answer: a result or an error. Called exactly once, at once or
// (lua, policy load) when the host is done; the event loop runs meanwhile.
using Answer = HostResult<Body>;
using Respond = std::function<void(Answer)>;

enum class Access { read, write };

struct Command {
	const char *name;
	std::vector<const char *> fields;	// besides cmd, id and v
	Access access;
	const char *what;			// "pinning tickets": for messages and docs
	void (*run)(const Call &call, Respond done);
};

const std::vector<Command> &commands();
const Command *find_command(std::string_view name);

// protocol version 1, as an integer or a number equal to it ("v":1.0)
bool speaks_our_version(const json &v);
HostError unsupported_version(const json &v);

} // namespace lotto::control
