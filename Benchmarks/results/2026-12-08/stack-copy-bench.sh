#!/bin/sh
# Same-run, interleaved: the fixed-work bench unprofiled, with the agent
# without copies (-DUP_COPY_WINDOW=0), with 2 KiB and 8 KiB windows; 99 and 999 Hz.
UP=/work/wt-cpu/.build/debug/unwind-profile
for rep in 1 2 3; do
  echo "rep $rep none: $(./bench)"
  for hz in 99 999; do
    for cfg in b0:/tmp/cpuexp/b0/libunwind_profile_agent.so w2k:/tmp/cpuexp/b2k/libunwind_profile_agent.so w8k:/tmp/cpuexp/agent-8k.so; do
      name=${cfg%%:*}; lib=${cfg#*:}
      out=$($UP record --agent $lib -o /tmp/cpuexp/bench-$name-$hz.data -F $hz -- ./bench 2>/dev/null)
      summary=$($UP report /tmp/cpuexp/bench-$name-$hz.data --format folded 2>&1 >/dev/null | sed 's/unwind-profile report: //' | cut -d, -f1-2)
      echo "rep $rep $name ${hz}Hz: $out | $summary | file $(stat -c %s /tmp/cpuexp/bench-$name-$hz.data) B"
    done
  done
done
