# Four CPU hogs with different tickets on two CPUs: the README demo's sim
# twin. Expect CPU shares near 1:2:3:4 of the machine (each task is capped at
# one CPU; lotto-shell `top` shows tickets next to the measured shares).
cpus 2
task name=hog100 cpu=100% tickets=100
task name=hog200 cpu=100% tickets=200
task name=hog300 cpu=100% tickets=300
task name=hog400 cpu=100% tickets=400
