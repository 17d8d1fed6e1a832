// cpu_set.h — the set of CPUs a simulated task may run on (its "taskset").
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lotto::sim {

class CpuSet {
public:
	CpuSet() = default;
	static CpuSet all(uint32_t nr_cpus)
	{
		CpuSet s;
		for (uint32_t c = 0; c < nr_cpus; c++)
			s.set(c);
		return s;
	}

	void set(uint32_t cpu)
	{
		if (cpu / 64 >= bits_.size())
			bits_.resize(cpu / 64 + 1, 0);
		bits_[cpu / 64] |= 1ull << (cpu % 64);
	}
	bool test(uint32_t cpu) const
	{
		return cpu / 64 < bits_.size() && (bits_[cpu / 64] >> (cpu % 64)) & 1;
	}
	bool empty() const
	{
		for (uint64_t w : bits_)
			if (w)
				return false;
		return true;
	}
	// highest CPU in the set + 1 (0 when empty)
	uint32_t end() const
	{
		for (size_t i = bits_.size(); i-- > 0;)
			if (bits_[i])
				return uint32_t(i * 64 + 64 - __builtin_clzll(bits_[i]));
		return 0;
	}
	uint32_t count() const
	{
		uint32_t n = 0;
		for (uint64_t w : bits_)
			n += __builtin_popcountll(w);
		return n;
	}
	// the same set with no trailing zero words: equal sets compare equal
	CpuSet normalized() const
	{
		CpuSet s = *this;
		while (!s.bits_.empty() && !s.bits_.back())
			s.bits_.pop_back();
		return s;
	}
	auto operator<=>(const CpuSet &) const = default;

private:
	std::vector<uint64_t> bits_;
};

} // namespace lotto::sim
