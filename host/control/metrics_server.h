// metrics_server.h — the --metrics endpoint: `GET /metrics` over HTTP/1.x on
// a TCP socket of the host's event loop, answered with render_metrics()
// (metrics.h). Off unless --metrics ADDR:PORT is given.
//
// Only what a scraper needs is understood: the request line of a GET or HEAD
// and the end of the headers (which are otherwise ignored); every answer
// closes the connection. Read-only, and bounded like the control socket
// (limits.h): the request line and headers at most kMaxMetricsRequest bytes
// (431 otherwise), at most kMaxMetricsConnections open (more are answered 503
// and closed at once), each connection lives at most kMetricsTimeout (then it
// is closed, whatever it was doing), and nothing ever blocks: reads and
// writes are non-blocking, a reply the client does not read is dropped with
// its connection.
#pragma once

#include "control/host_api.h"
#include "core/event_loop.h"
#include "core/fd.h"
#include "core/limits.h"

#include <chrono>
#include <map>
#include <string>

namespace lotto::control {

struct MetricsConfig {
	std::string address;	// "127.0.0.1:9477", "[::1]:9477", "localhost:9477"
	size_t top_tasks = limits::kDefaultMetricsTasks;
	size_t max_connections = limits::kMaxMetricsConnections;
	std::chrono::milliseconds timeout = limits::kMetricsTimeout;
};

// "HOST:PORT" or "[V6]:PORT" with a port in 1..65535; the error names --metrics
Result<std::pair<std::string, std::string>> split_host_port(const std::string &address);

class MetricsServer {
public:
	MetricsServer(EventLoop &loop, HostApi &host, MetricsConfig cfg);
	~MetricsServer();
	MetricsServer(const MetricsServer &) = delete;
	MetricsServer &operator=(const MetricsServer &) = delete;

	// Resolve, bind, listen, register with the loop.
	Result<void> start();
	void stop();
	// the port bound (useful with port 0 in tests)
	uint16_t port() const { return port_; }
	size_t connections() const { return conns_.size(); }
	uint64_t scrapes() const { return scrapes_; }

private:
	struct Conn {
		Fd fd;
		EventLoop::Id id = 0;
		std::string in, out;
		bool answered = false;
		bool want_out = false;	// registered for EPOLLOUT only
		std::chrono::steady_clock::time_point deadline;
	};
	void on_accept();
	void on_conn(uint64_t key, uint32_t events);
	void answer(Conn &c);
	void flush(uint64_t key, Conn &c);
	void drop(uint64_t key);
	void sweep();

	EventLoop &loop_;
	HostApi &host_;
	MetricsConfig cfg_;
	Fd listen_;
	EventLoop::Id listen_id_ = 0, sweep_id_ = 0;
	uint16_t port_ = 0;
	uint64_t next_key_ = 1;
	uint64_t scrapes_ = 0;
	std::map<uint64_t, Conn> conns_;
};

} // namespace lotto::control
