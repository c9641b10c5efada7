package io.handoffbroker.testing;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * The threads of this JVM, to check that a test stopped every thread it started.
 * Threads are compared by identity, so threads other tests left behind never count.
 */
public final class LiveThreads {

    private LiveThreads() {
    }

    /** The live thread of that name; fails when there is none. */
    public static Thread named(String name) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no live thread named " + name));
    }

    /** The CPU time the thread has used so far. */
    public static long cpuNanos(Thread thread) {
        return ManagementFactory.getThreadMXBean().getThreadCpuTime(thread.threadId());
    }

    public static Set<Thread> snapshot() {
        return Set.copyOf(Thread.getAllStackTraces().keySet());
    }

    /**
     * Waits until no thread whose name starts with one of {@code namePrefixes} and that
     * was not alive in {@code before} is alive any more; fails naming them otherwise.
     */
    public static void awaitGone(Set<Thread> before, Duration timeout, String... namePrefixes) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> left;
        while (!(left = startedSince(before, namePrefixes)).isEmpty()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("threads still alive " + timeout.toMillis() + " ms after the test closed "
                        + "what it opened: " + left);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
    }

    private static List<String> startedSince(Set<Thread> before, String... namePrefixes) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && !before.contains(t))
                .filter(t -> {
                    for (String prefix : namePrefixes) {
                        if (t.getName().startsWith(prefix)) {
                            return true;
                        }
                    }
                    return false;
                })
                .map(Thread::getName)
                .sorted()
                .toList();
    }
}
