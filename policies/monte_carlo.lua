-- monte_carlo.lua — Waldspurger & Weihl's Monte-Carlo experiment (OSDI '94,
-- section 5.2): each Monte-Carlo task is funded in proportion to the square
-- of its relative error, so a task that has just started (large error) runs
-- almost alone until it has caught up with the older ones, and tasks with
-- equal errors share the CPU equally.
--
-- How a task tells its error: it names its thread after it, "mc <error>"
-- (e.g. "mc 1.234e-03", prctl(PR_SET_NAME); `lotto-paper mc` does this after
-- every batch of trials), or "mc -" while it has no estimate yet. lotto
-- copies a task's name into its statistics each time the task starts to
-- run, so the policy reads the error as of the start of the task's current
-- run: a task that keeps winning draws in a row shows the value it had when
-- that run began. Tasks with other names are left alone.
--
-- The Monte-Carlo tasks with an estimate form one fund of FUNDING tickets,
-- divided as
--
--     tickets(i) = FUNDING * err(i)^2 / sum over them of err^2
--
-- (at least 1 each), so starting more of them does not take more of the CPU
-- from the other tasks of the machine. For a Monte-Carlo estimate err^2 is
-- proportional to 1/trials: funding by err^2 drives every task towards the
-- same number of trials. A task without an estimate ("mc -": its error is
-- unbounded) gets FUNDING outside the division, the most one task may hold:
-- it wins almost every draw from its first one on, and its first estimate
-- (a few milliseconds later) brings it into the fund. Leaving it out of the
-- division matters: counted in with a huge error it would squeeze every
-- other task to 1 ticket while it waits to start, and lotto's core keys a
-- waiting task's place in the race with the tickets it had when it was
-- enqueued, so their tickets rising back later would reach them late.
local FUNDING = 1000000

return {
	name = "monte_carlo",
	interval_ms = 100,
	description = "Monte-Carlo tasks (named \"mc <relative error>\") funded by the square of their error",

	tick = function(tasks, ctx)
		local floor, match, tonumber = math.floor, string.match, tonumber
		local err2 = {}	-- index -> squared relative error
		local sum = 0
		for i = 1, #tasks do
			local v = match(tasks[i].comm, "^mc (%S+)$")
			local e = tonumber(v)
			if v == "-" then
				tasks[i].tickets = FUNDING
			elseif e and e > 0 and e < math.huge then
				err2[i] = e * e
				sum = sum + e * e
			end
		end
		for i, e2 in pairs(err2) do
			local n = floor(FUNDING * e2 / sum + 0.5)
			if n < 1 then n = 1 end
			tasks[i].tickets = n
		end
	end,
}
