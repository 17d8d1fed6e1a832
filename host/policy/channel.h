// channel.h — the messages between the engine and a policy worker.
//
// One SOCK_SEQPACKET socketpair per worker: the kernel keeps message
// boundaries, so a message is one send()/recv() of a flat little-endian
// record (u32 type, then the fields in declaration order; strings are u32
// length + bytes). Requests go one at a time; each gets exactly one reply.
//
//   worker -> engine  Ready     after compile + init (or their failure)
//   engine -> worker  Tick      run policy.tick once
//   worker -> engine  TickDone
//   engine -> worker  Eval      `lua EXPR` from the REPL
//   worker -> engine  EvalDone  (by id: a read-only evaluation runs in a
//                              child of the worker while ticks go on, so its
//                              reply may come after later TickDones)
#pragma once

#include "core/policy_api.h"
#include "core/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotto::policy {

inline constexpr size_t kMaxMessage = 60 * 1024;	// below the socket buffer
inline constexpr size_t kMaxLogLines = 100;		// per reply, the rest counted
inline constexpr size_t kMaxLogLine = 1000;		// bytes, longer lines cut
inline constexpr size_t kMaxText = 4096;		// an error message, traceback, name, description
inline constexpr size_t kMaxEvalText = kMaxMessage / 2;	// an expression or its value
inline constexpr size_t kMaxGroups = 256;		// of a requester

enum class MsgType : uint32_t { Ready = 1, Tick, TickDone, Eval, EvalDone };

using lotto::ErrorKind;	// what went wrong (core/policy_api.h); travels as a u32

struct LogLine {
	uint32_t level;		// 0 trace, 1 debug, 2 info, 3 warn, 4 error
	std::string text;
};

struct ErrorText {
	ErrorKind kind = ErrorKind::None;
	std::string message;	// "file:line: message"
	std::string traceback;	// "stack traceback:\n..." or empty
};

struct ReadyMsg {
	bool ok = false;
	ErrorText error;
	std::string name;
	uint32_t interval_ms = 0;
	double budget_ms = 0;		// 0: the engine's default
	std::string description;
	uint64_t lua_bytes = 0;
	std::vector<LogLine> logs;
	uint32_t logs_dropped = 0;
};

struct TickMsg {
	uint32_t slots_hw = 0;
	uint32_t ncpus = 0;
	uint32_t prev_idx = 0;		// snapshot to read (PolicyShm::prev)
	uint32_t prev_valid = 0;	// 0: the policy's first tick: deltas are 0
	double now = 0;			// CLOCK_MONOTONIC seconds
	double wall = 0;		// CLOCK_REALTIME seconds
	double prev_now = 0;		// `now` of the snapshot's tick
	uint64_t tick_no = 0;		// ticks sent to this worker, this one included (ctx.tick)
};

struct TickDoneMsg {
	bool ok = false;
	ErrorText error;
	uint32_t tasks = 0;		// #tasks
	uint32_t assigned = 0;		// slots the policy gave tickets to
	uint64_t worker_ns = 0;		// time in the worker, request to reply
	uint64_t lua_bytes = 0;
	bool restart = false;		// the Lua state is spent (memory cap, stack overflow)
	std::vector<LogLine> logs;
	uint32_t logs_dropped = 0;
};

struct EvalMsg {
	uint64_t id = 0;		// echoed in EvalDone
	bool admin = false;		// false: run in a disposable child with the requester's rights
	uint32_t slots_hw = 0;
	uint32_t budget_ms = 0;		// read-only evaluations: the child's time limit
	uint32_t uid = 0, gid = 0;	// the requester (read-only evaluations run as it)
	std::vector<uint32_t> groups;
	std::string expr;
};

struct EvalDoneMsg {
	uint64_t id = 0;
	bool ok = false;
	std::string text;	// the value(s) rendered, or the error
	std::vector<LogLine> logs;
	uint32_t logs_dropped = 0;
};

std::string encode(const ReadyMsg &m);
std::string encode(const TickMsg &m);
std::string encode(const TickDoneMsg &m);
std::string encode(const EvalMsg &m);
std::string encode(const EvalDoneMsg &m);

// the type of an encoded message (nullopt: too short)
std::optional<MsgType> msg_type(std::string_view buf);
Result<ReadyMsg> decode_ready(std::string_view buf);
Result<TickMsg> decode_tick(std::string_view buf);
Result<TickDoneMsg> decode_tick_done(std::string_view buf);
Result<EvalMsg> decode_eval(std::string_view buf);
Result<EvalDoneMsg> decode_eval_done(std::string_view buf);

// One message per call. send never blocks for long (seqpacket, small
// messages); recv_msg returns an empty string on EOF (the peer is gone).
Result<void> send_msg(int fd, const std::string &buf);
Result<std::string> recv_msg(int fd, bool nonblocking);

} // namespace lotto::policy
