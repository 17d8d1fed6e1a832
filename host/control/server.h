// server.h — the control socket: a Unix stream socket on the host's event
// loop, JSON lines in and out (protocol.h, docs/protocol.md). Non-blocking;
// each client has its own input and output buffers; a client that sends an
// oversized line gets a `too_long` error and its line is skipped; a client
// that stops reading is stopped being read from (its replies queue up to a
// cap, then it is dropped). Nothing a client sends can stop the server.
//
// Permissions come from SO_PEERCRED/SO_PEERGROUPS at accept time: root and
// members of the admin group may write, everyone else reads.
#pragma once

#include "control/dispatch.h"
#include "core/event_loop.h"
#include "core/fd.h"
#include "core/result.h"

#include <map>
#include <optional>
#include <string>
#include <sys/types.h>

namespace lotto::control {

struct ServerConfig {
	std::string socket_path = kDefaultSocket;
	std::string admin_group;		// "" = root only; must exist when set
	std::string server_version;		// reported by `hello`
	size_t max_clients = 64;
	size_t max_pending_output = 8u << 20;	// bytes queued for one client before it is dropped
	mode_t socket_mode = 0666;		// everyone may connect (and read)
};

class ControlServer {
public:
	ControlServer(EventLoop &loop, HostApi &host, ServerConfig cfg);
	~ControlServer();
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;

	// Resolve the admin group, create the socket's directory (0755), bind,
	// listen and register with the loop. Refuses when another live server
	// already answers on the path; removes a stale socket file.
	Result<void> start();
	// Close every client and the listening socket; unlink the socket file.
	void stop();

	const std::string &path() const { return cfg_.socket_path; }
	size_t clients() const { return clients_.size(); }
	uint64_t requests() const { return dispatcher_.requests(); }

	// Decide admin rights from credentials (public for tests).
	static bool is_admin(uid_t uid, gid_t gid, const std::vector<gid_t> &groups, std::optional<gid_t> admin_gid);

private:
	struct Client {
		Fd fd;
		EventLoop::Id id = 0;
		Peer peer;
		std::string in;
		std::string out;
		bool skipping = false;	// inside an oversized line: drop bytes up to '\n'
		bool want_out = false;	// registered for EPOLLOUT
		bool closing = false;	// flush `out`, then close
	};

	void on_accept();
	void on_client(uint64_t key, uint32_t events);
	void process(Client &c);
	void flush(uint64_t key, Client &c);
	void rearm(uint64_t key, Client &c);
	void drop(uint64_t key);

	EventLoop &loop_;
	ServerConfig cfg_;
	Dispatcher dispatcher_;
	std::optional<gid_t> admin_gid_;
	Fd listen_;
	EventLoop::Id listen_id_ = 0;
	bool bound_ = false;
	dev_t sock_dev_ = 0;
	ino_t sock_ino_ = 0;
	uint64_t next_key_ = 1;
	std::map<uint64_t, Client> clients_;
};

} // namespace lotto::control
