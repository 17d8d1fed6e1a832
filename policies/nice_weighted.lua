-- nice_weighted.lua — tickets follow nice the way CFS/EEVDF weights do.
--
-- Each task holds the kernel's weight for its nice value
-- (sched_prio_to_weight: nice 0 -> 1024, each step ~1.25x), so two CPU-bound
-- tasks at nice 0 and nice 5 share a CPU about 1024 : 335, as under CFS.
--
--   lotto-host policies/nice_weighted.lua
return {
	name = "nice_weighted",
	interval_ms = 500,
	description = "tickets = the CFS weight of the task's nice (nice 0 -> 1024)",

	tick = function(tasks, ctx)
		local weight = ctx.nice_to_weight
		for i = 1, #tasks do
			local t = tasks[i]
			t.tickets = weight(t.nice)
		end
	end,
}
