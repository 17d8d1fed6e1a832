# CPU hogs at several nice levels, all pinned to CPU 0, plus an unpinned
# batch job on CPU 1. Under policies/nice_weighted.lua the pinned hogs' CPU
# shares follow the kernel's weights: 1024 : 820 : 335 : 110 (nice 0/1/5/10).
cpus 2
task name=n0 nice=0 cpu=100% pin=0
task name=n1 nice=1 cpu=100% pin=0
task name=n5 nice=5 cpu=100% pin=0
task name=n10 nice=10 cpu=100% pin=0
task name=batch nice=19 cpu=100% pin=1
