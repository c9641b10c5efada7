package io.handoffbroker.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A warm-up that ends when the JIT compilers have, not after a fixed count: at least a
 * minimum of samples, then rounds of {@link #ROUND} more until, in one round, the
 * compiler threads of every process taking part used less than {@link #QUIET_SHARE} of the
 * round's wall time, or until a maximum. A fixed count short enough for the Hello path
 * left the handoff path still being compiled while it was measured: on two CPUs a
 * compiler thread takes a CPU from the processes being timed, and the figures then show
 * the compiler more than the code (P99s of several ms; see docs/performance.md).
 */
final class WarmUp {

    static final int ROUND = 1_000;
    static final double QUIET_SHARE = 0.01;

    /**
     * @param samples how many samples it took
     * @param lastShare the compilers' CPU time over the wall time of the last round
     * @param quiet whether the last round was under {@link #QUIET_SHARE}
     */
    record Outcome(int samples, double lastShare, boolean quiet) {

        void putInto(Results results, String key) {
            results.put(key + ".samples", samples)
                    .put(key + ".jit_share", lastShare)
                    .put(key + ".quiet", quiet);
        }
    }

    private WarmUp() {
    }

    /**
     * The most a warm-up of at least {@code minimum} runs to: 40,000, and at least one round
     * past the minimum, so that the compilers are always looked at once.
     */
    static int maximum(int minimum) {
        return Math.max(minimum + ROUND, 40_000);
    }

    /**
     * Runs {@code sample} until the compilers of the processes {@code pids} are quiet, see
     * above. A round in which a compiler thread that had compiled before it ended is not
     * quiet: what it did in the round is not known (HotSpot ends idle extra compiler threads).
     *
     * @throws IOException when /proc tells no CPU time for these processes at all, so that
     *     quiet could not be told from unmeasured
     */
    static Outcome run(Runnable sample, int minimum, int maximum, long... pids) throws IOException {
        int done = 0;
        for (; done < minimum; done++) {
            sample.run();
        }
        double share = Double.NaN;
        while (done < maximum) {
            List<Map<String, Proc.Usage>> before = snapshot(pids);
            long start = System.nanoTime();
            for (int i = 0; i < ROUND; i++) {
                sample.run();
            }
            long wall = System.nanoTime() - start;
            done += ROUND;
            List<Map<String, Proc.Usage>> after = snapshot(pids);
            long compiling = 0;
            long used = 0;
            boolean compilerEnded = false;
            for (int p = 0; p < pids.length; p++) {
                Proc.Usage spent = Proc.Usage.between(before.get(p), after.get(p));
                compiling += spent.compilerNanos();
                used += spent.cpuNanos();
                compilerEnded |= Proc.Usage.compilerEnded(before.get(p), after.get(p));
            }
            if (used <= 0) {
                throw new IOException("no CPU time of processes " + java.util.Arrays.toString(pids)
                        + " could be read from /proc/PID/task/*/schedstat");
            }
            share = compiling / (double) wall;
            if (share < QUIET_SHARE && !compilerEnded) {
                return new Outcome(done, share, true);
            }
        }
        return new Outcome(done, share, false);
    }

    private static List<Map<String, Proc.Usage>> snapshot(long... pids) throws IOException {
        List<Map<String, Proc.Usage>> usage = new ArrayList<>();
        for (long pid : pids) {
            usage.add(Proc.Usage.byThread(pid));
        }
        return usage;
    }
}
