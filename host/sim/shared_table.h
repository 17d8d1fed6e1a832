// shared_table.h — an array of T in MAP_SHARED|MAP_ANONYMOUS memory: the sim's
// stand-in for the mmap-able BPF array maps. Processes forked after it is
// made (policy workers) see every later write, as they would with the maps.
#pragma once

#include "core/mapping.h"

#include <cstddef>
#include <type_traits>
#include <utility>

namespace lotto::sim {

template <typename T> class SharedTable {
	static_assert(std::is_trivially_copyable_v<T>);

public:
	SharedTable() = default;

	// n zero-filled elements (untouched pages cost nothing)
	static Result<SharedTable> make(size_t n)
	{
		auto m = Mapping::shared(n * sizeof(T), "sim shared memory");
		if (!m)
			return m.error();
		SharedTable t;
		t.m_ = std::move(*m);
		t.n_ = n;
		return t;
	}

	T *data() { return m_.as<T>(); }
	const T *data() const { return m_.as<T>(); }
	T &operator[](size_t i) { return data()[i]; }
	const T &operator[](size_t i) const { return data()[i]; }
	size_t size() const { return n_; }

private:
	Mapping m_;
	size_t n_ = 0;
};

} // namespace lotto::sim
