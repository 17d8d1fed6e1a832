// state_fuzz.cpp — libFuzzer target for the state file reader (issue 9).
//
// The input is a state file as it might be found on disk (written by an
// older or newer lotto-host, edited by hand, cut short by a full disk).
// StateFile::parse must never crash or hit undefined behaviour, and:
//  * an error is one line that starts with the file's name;
//  * a state it accepts holds only what restore can use as it is: pids in
//    1..4294967295, tickets in LOTTO_TICKETS_MIN..MAX, absolute paths
//    without NUL (nothing is left to be dropped or rounded later);
//  * what it accepts, written back (serialize) and read again, is the same
//    state, and serializing is stable.
// Built by tests/fuzz/clang/CMakeLists.txt with clang++-19
// -fsanitize=fuzzer,address,undefined; run by ctest as fuzz.state.
#include "daemon/state_file.h"

extern "C" {
#include "bpf/lotto_abi.h"
}

#include <cstdio>
#include <cstdlib>
#include <string_view>

using namespace lotto;

namespace {

[[noreturn]] void fail(const char *what, std::string_view in, const std::string &detail)
{
	fprintf(stderr, "state_fuzz: %s\n  input (first 300 bytes): %.*s\n  %s\n", what, int(std::min<size_t>(in.size(), 300)),
		in.data(), detail.substr(0, 600).c_str());
	abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string_view in(reinterpret_cast<const char *>(data), size);
	auto s = StateFile::parse(in, "/var/lib/lotto/state.json");
	if (!s) {
		const std::string &m = s.error().msg;
		if (m.rfind("/var/lib/lotto/state.json: ", 0) != 0 || m.find('\n') != std::string::npos)
			fail("an error that is not one line naming the file", in, m);
		return 0;
	}
	for (auto [pid, t] : s->pins)
		if (pid == 0 || t < LOTTO_TICKETS_MIN || t > LOTTO_TICKETS_MAX)
			fail("a pin restore cannot use was accepted", in, std::to_string(pid) + " " + std::to_string(t));
	for (auto &p : s->policies)
		if (p.file.empty() || p.file[0] != '/' || p.file.find('\0') != std::string::npos)
			fail("a policy path that is not absolute was accepted", in, p.file);
	std::string text = StateFile::serialize(*s);
	auto back = StateFile::parse(text, "/var/lib/lotto/state.json");
	if (!back)
		fail("what was accepted does not read back", in, back.error().msg);
	if (!(*back == *s))
		fail("what was accepted reads back different", in, text);
	if (StateFile::serialize(*back) != text)
		fail("serializing is not stable", in, text);
	return 0;
}
