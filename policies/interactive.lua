-- interactive.lua — tasks that mostly sleep get a boost, CPU hogs are trimmed.
--
-- For each task, u is the share of one CPU it used since the last tick:
--
--     u = runtime_delta_ns / (ctx.dt * 1e9)          clamped to 0..1
--
-- smoothed over ticks so one burst does not flip a task (s starts at u):
--
--     s = ALPHA * s_previous + (1 - ALPHA) * u
--
-- and its tickets are its nice weight scaled by a factor between BOOST
-- (never runs) and 1/BOOST (runs all the time), 1 at half a CPU:
--
--     tickets = weight(nice) * BOOST ^ (1 - 2 * s)    rounded, in ctx.tickets_min..ctx.tickets_max
--
-- With BOOST = 4, a nice-0 task that sleeps 95% of the time (s = 0.05) holds
-- 1024 * 4^0.9 = 3558 tickets and a nice-0 hog (s = 1) holds 256: when the
-- interactive task wakes it wins the next draw against the hog with
-- probability 3558 / (3558 + 256) = 93%.
--
-- On the first tick there is no earlier tick to measure from (ctx.dt == 0):
-- every task gets weight(nice).
local BOOST = 4
local ALPHA = 0.5

return {
	name = "interactive",
	interval_ms = 200,
	description = "sleepers boosted up to 4x, CPU hogs trimmed to 1/4 (by CPU use since the last tick)",

	init = function(ctx)
		ctx.state.s = {}	-- pid -> smoothed CPU share
	end,

	tick = function(tasks, ctx)
		local weight = ctx.nice_to_weight
		local floor = math.floor
		local lo, hi = ctx.tickets_min, ctx.tickets_max
		local prev, cur = ctx.state.s, {}
		local wall_ns = ctx.dt * 1e9
		for i = 1, #tasks do
			local t = tasks[i]
			local f = 1
			if wall_ns > 0 then
				local u = t.runtime_delta_ns / wall_ns
				if u > 1 then u = 1 end
				local p = prev[t.pid]
				local s = p and (ALPHA * p + (1 - ALPHA) * u) or u
				cur[t.pid] = s
				f = BOOST ^ (1 - 2 * s)
			end
			local n = floor(weight(t.nice) * f + 0.5)
			if n < lo then n = lo elseif n > hi then n = hi end
			t.tickets = n
		end
		ctx.state.s = cur	-- tasks that are gone are forgotten
	end,
}
