-- fair_share.lua — Waldspurger's currencies: every user is funded equally.
--
-- Each uid is a currency funded with F = ctx.tickets_max base tickets (the
-- most one task may hold). Inside a user, the funding is split between that
-- user's tasks by nice weight:
--
--     tickets(task) = F * weight(nice) / W(uid)
--
-- so a user's tasks hold F tickets between them however many there
-- are: a user running 8 CPU-bound processes gets the same share of a
-- contended CPU as a user running 1.
--
-- W(uid) sums the weights of the user's *active* tasks only: those that ran
-- in the last ACTIVE_S seconds (every task until the policy has run that
-- long). A task that sleeps longer does not dilute its user's running tasks
-- (Waldspurger's currencies only count active tickets); it is funded as if
-- it were active next to them, weight / (W(uid) + weight), so it competes
-- fairly the moment it wakes, and counts as active from the next tick on.
-- The window is seconds, not one tick, because a CPU-bound task may lose
-- every draw of a short interval while it is runnable all along.
local ACTIVE_S = 5

return {
	name = "fair_share",
	interval_ms = 500,
	description = "each uid funded equally; its tasks share the funding by nice weight",

	init = function(ctx)
		ctx.state.since = ctx.now	-- when the policy started watching
		ctx.state.ran = {}		-- pid -> ctx.now when it last ran
	end,

	tick = function(tasks, ctx)
		local weight = ctx.nice_to_weight
		local floor = math.floor
		local funding, least = ctx.tickets_max, ctx.tickets_min
		local now = ctx.now
		local young = now - ctx.state.since < ACTIVE_S
		local last, ran = ctx.state.ran, {}
		local active = {}	-- index -> true
		local total = {}	-- uid -> weight of its active tasks
		for i = 1, #tasks do
			local t = tasks[i]
			local pid = t.pid
			local r = last[pid]
			if t.runtime_delta_ns > 0 then r = now end
			ran[pid] = r
			if young or (r and now - r <= ACTIVE_S) then
				active[i] = true
				local uid = t.uid
				total[uid] = (total[uid] or 0) + weight(t.nice)
			end
		end
		ctx.state.ran = ran	-- tasks that are gone are forgotten
		for i = 1, #tasks do
			local t = tasks[i]
			local w = weight(t.nice)
			local W = total[t.uid] or 0
			if not active[i] then W = W + w end
			local n = floor(funding * w / W + 0.5)
			if n < least then n = least elseif n > funding then n = funding end
			t.tickets = n
		end
	end,
}
