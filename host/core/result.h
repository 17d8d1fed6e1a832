// result.h — errors as values at every boundary (libbpf, Lua, sockets, files).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace lotto {

// What kind of failure, for callers that react to it (map it to a protocol
// error code, undo a change): decided where the error is made, never
// recovered from the message text.
enum class Errc {
	failed,		// anything else
	not_found,	// no such file, policy, task
	permission,	// the requester may not (read the file, ...)
	not_regular,	// a FIFO, device, directory, ... where a regular file was needed
	too_large,	// over its size limit
	invalid,	// bad content: a field out of range, bad JSON, ...
	busy,		// a limit on concurrent requests
	not_saved,	// the state file could not be written
};

struct Error {
	std::string msg;
	Errc code = Errc::failed;
};

inline Error err(std::string msg) { return Error{std::move(msg)}; }
inline Error err(Errc code, std::string msg) { return Error{std::move(msg), code}; }

template <typename T> class [[nodiscard]] Result {
public:
	Result(T v) : v_(std::move(v)) {}
	Result(Error e) : v_(std::move(e)) {}

	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }
	T &value() & { return std::get<0>(v_); }
	T &&value() && { return std::get<0>(std::move(v_)); }
	const T &value() const & { return std::get<0>(v_); }
	T *operator->() { return &std::get<0>(v_); }
	T &operator*() { return std::get<0>(v_); }
	const Error &error() const { return std::get<1>(v_); }

private:
	std::variant<T, Error> v_;
};

template <> class [[nodiscard]] Result<void> {
public:
	Result() = default;
	Result(Error e) : e_(std::move(e)), ok_(false) {}

	bool ok() const { return ok_; }
	explicit operator bool() const { return ok_; }
	const Error &error() const { return e_; }

private:
	Error e_;
	bool ok_ = true;
};

} // namespace lotto
