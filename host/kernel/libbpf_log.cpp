#include "kernel/libbpf_log.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <deque>

namespace lotto {

namespace {

constexpr size_t kRingLines = 400;

struct LogState {
	bool verbose = false;
	std::deque<std::string> ring;
	std::string partial;	// a line libbpf printed in pieces
};

LogState &state()
{
	static LogState s;
	return s;
}

void add_line(std::string line)
{
	auto &s = state();
	if (s.verbose)
		spdlog::debug("libbpf: {}", line);
	s.ring.push_back(std::move(line));
	if (s.ring.size() > kRingLines)
		s.ring.pop_front();
}

// Called by libbpf from C: must not throw.
int print_cb(enum libbpf_print_level, const char *fmt, va_list args) noexcept
{
	try {
		char buf[4096];
		va_list copy;
		va_copy(copy, args);
		int n = vsnprintf(buf, sizeof(buf), fmt, copy);
		va_end(copy);
		if (n < 0)
			return 0;
		std::string text;
		if (static_cast<size_t>(n) < sizeof(buf)) {
			text.assign(buf, n);
		} else {	// the verifier log arrives as one large string
			text.resize(n + 1);
			vsnprintf(text.data(), text.size(), fmt, args);
			text.resize(n);
		}
		auto &s = state();
		size_t start = 0;
		for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
			s.partial.append(text, start, nl - start);
			add_line(std::move(s.partial));
			s.partial.clear();
		}
		s.partial.append(text, start, std::string::npos);
	} catch (...) {
		// out of memory while logging: drop the line, never unwind into libbpf
	}
	return 0;
}

} // namespace

void libbpf_log_install(bool verbose)
{
	state().verbose = verbose;
	libbpf_set_print(print_cb);
}

void libbpf_log_clear()
{
	state().ring.clear();
	state().partial.clear();
}

std::vector<std::string> libbpf_log_tail(size_t n)
{
	const auto &ring = state().ring;
	// libbpf frames the verifier's output with these markers
	size_t begin = 0, end = ring.size();
	for (size_t i = ring.size(); i-- > 0;) {
		if (ring[i].find("-- END PROG LOAD LOG --") != std::string::npos) {
			end = i;
			for (size_t j = i; j-- > 0;) {
				if (ring[j].find("-- BEGIN PROG LOAD LOG --") != std::string::npos) {
					begin = j + 1;
					break;
				}
			}
			break;
		}
	}
	std::vector<std::string> out;
	for (size_t i = end > begin + n ? end - n : begin; i < end; i++)
		if (!ring[i].empty())
			out.push_back(ring[i]);
	return out;
}

} // namespace lotto
