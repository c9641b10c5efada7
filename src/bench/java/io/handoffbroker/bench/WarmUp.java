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

    /** The most a warm-up of at least {@code minimum} runs to: 40,000, or the minimum if that is more. */
    static int maximum(int minimum) {
        return Math.max(minimum, 40_000);
    }

    /** Runs {@code sample} until the compilers of the processes {@code pids} are quiet, see above. */
    static Outcome run(Runnable sample, int minimum, int maximum, long... pids) throws IOException {
        int done = 0;
        for (; done < minimum; done++) {
            sample.run();
        }
        double share = Double.NaN;
        while (done < maximum) {
            List<Map<String, Proc.Usage>> before = snapshot(pids);
            long start = System.nanoTime();
            int round = Math.min(ROUND, maximum - done);
            for (int i = 0; i < round; i++) {
                sample.run();
            }
            long wall = System.nanoTime() - start;
            done += round;
            List<Map<String, Proc.Usage>> after = snapshot(pids);
            long compiling = 0;
            for (int p = 0; p < pids.length; p++) {
                compiling += Proc.Usage.between(before.get(p), after.get(p)).compilerNanos();
            }
            share = compiling / (double) wall;
            if (share < QUIET_SHARE) {
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
