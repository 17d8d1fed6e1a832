# Why compensation tickets matter: a task that gives up the CPU after 2 ms
# of every 20 ms slice (run=2ms with no sleep = sched_yield) next to a hog,
# both with the same tickets, with 4 ms ticks as under HZ=250.
#   lotto-host --backend sim --workload compensation.wl               ~1:1
#   lotto-host --backend sim --workload compensation.wl --no-compensation
#                                                                     ~10:1
cpus 1
tick 4ms
task name=hog cpu=100%
task name=yielder run=2ms
