// result.h — errors as values at every boundary (libbpf, Lua, sockets, files).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace lotto {

struct Error {
	std::string msg;
};

inline Error err(std::string msg) { return Error{std::move(msg)}; }

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
