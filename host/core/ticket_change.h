// ticket_change.h — one entry of a task's ticket history: kept by the
// TicketBook, shown by `show PID` (control protocol and lotto-shell).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lotto {

struct TicketChange {
	std::chrono::system_clock::time_point when;
	uint32_t tickets = 0;	// effective tickets after the change
	std::string source;	// "policy nice_weighted", "pin", "unpin", "boost x2", ...
};

} // namespace lotto
