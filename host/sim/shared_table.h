// shared_table.h — an array of T in MAP_SHARED|MAP_ANONYMOUS memory: the sim's
// stand-in for the mmap-able BPF array maps. Processes forked after it is
// made (policy workers) see every later write, as they would with the maps.
#pragma once

#include "core/result.h"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <type_traits>
#include <utility>

namespace lotto::sim {

template <typename T> class SharedTable {
	static_assert(std::is_trivially_copyable_v<T>);

public:
	SharedTable() = default;
	~SharedTable() { reset(); }
	SharedTable(SharedTable &&o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
	SharedTable &operator=(SharedTable &&o) noexcept
	{
		if (this != &o) {
			reset();
			p_ = std::exchange(o.p_, nullptr);
			n_ = std::exchange(o.n_, 0);
		}
		return *this;
	}
	SharedTable(const SharedTable &) = delete;
	SharedTable &operator=(const SharedTable &) = delete;

	// n zero-filled elements (untouched pages cost nothing)
	static Result<SharedTable> make(size_t n)
	{
		void *p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return err("sim: cannot map " + std::to_string(n * sizeof(T)) + " bytes of shared memory: " +
				   strerror(errno));
		SharedTable t;
		t.p_ = static_cast<T *>(p);
		t.n_ = n;
		return t;
	}

	T *data() { return p_; }
	const T *data() const { return p_; }
	T &operator[](size_t i) { return p_[i]; }
	const T &operator[](size_t i) const { return p_[i]; }
	size_t size() const { return n_; }

private:
	void reset()
	{
		if (p_)
			munmap(p_, n_ * sizeof(T));
		p_ = nullptr;
		n_ = 0;
	}

	T *p_ = nullptr;
	size_t n_ = 0;
};

} // namespace lotto::sim
