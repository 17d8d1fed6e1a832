// sock_client.h — a bare Unix-socket client for the server tests: raw bytes
// out, reply lines in, with a deadline so a broken server fails the test
// instead of hanging it.
#pragma once

#include "core/fd.h"

#include <chrono>
#include <cstring>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>

namespace lotto::test {

class SockClient {
public:
	explicit SockClient(const std::string &path)
	{
		sockaddr_un a{};
		a.sun_family = AF_UNIX;
		strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
		fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (::connect(fd_.get(), (sockaddr *)&a, sizeof(a)) < 0)
			fd_.reset();
	}
	bool ok() const { return fd_.valid(); }
	int fd() const { return fd_.get(); }
	bool send_all(const std::string &s)
	{
		size_t off = 0;
		while (off < s.size()) {
			ssize_t n = ::send(fd_.get(), s.data() + off, s.size() - off, MSG_NOSIGNAL);
			if (n <= 0)
				return false;
			off += n;
		}
		return true;
	}
	void shut_write() { shutdown(fd_.get(), SHUT_WR); }
	// next line without '\n'; nullopt on timeout or EOF
	std::optional<std::string> line(int timeout_ms = 5000)
	{
		auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
		for (;;) {
			if (auto nl = buf_.find('\n'); nl != std::string::npos) {
				std::string l = buf_.substr(0, nl);
				buf_.erase(0, nl + 1);
				return l;
			}
			int left = (int)std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
			if (left <= 0)
				return std::nullopt;
			pollfd p{fd_.get(), POLLIN, 0};
			if (poll(&p, 1, left) <= 0)
				continue;
			char b[65536];
			ssize_t n = recv(fd_.get(), b, sizeof(b), 0);
			if (n <= 0)
				return std::nullopt;
			buf_.append(b, n);
		}
	}
	bool eof(int timeout_ms = 2000)
	{
		pollfd p{fd_.get(), POLLIN, 0};
		if (poll(&p, 1, timeout_ms) <= 0)
			return false;
		char b;
		return recv(fd_.get(), &b, 1, MSG_PEEK) == 0;
	}

private:
	Fd fd_;
	std::string buf_;
};

} // namespace lotto::test
