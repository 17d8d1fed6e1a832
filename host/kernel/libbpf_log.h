// libbpf_log.h — libbpf's print callback: every line goes into a ring (so a
// failed load can show the verifier's last lines) and, with -v, into spdlog
// at debug level.
#pragma once

#include <string>
#include <vector>

namespace lotto {

void libbpf_log_install(bool verbose);
void libbpf_log_clear();
// The last `n` lines of the most recent verifier log if libbpf printed one
// since the last clear, else the last `n` lines libbpf printed.
std::vector<std::string> libbpf_log_tail(size_t n);

} // namespace lotto
