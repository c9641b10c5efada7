package io.handoffbroker.testing;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * This JVM's open descriptors, from {@code /proc/self/fd}. Jar files are left out:
 * the class loader opens them lazily the first time a class is needed from one and
 * keeps them open, which is not a leak of the code under test.
 */
public final class OpenDescriptors {

    private static final Path FD_DIR = Path.of("/proc/self/fd");

    /** The descriptors open at one moment: descriptor number to link target. */
    public record Snapshot(Map<Integer, String> targets) {

        public int count() {
            return targets.size();
        }

        /** Counts by kind: {@code socket}, {@code pipe}, or the file path. */
        public Map<String, Integer> kinds() {
            Map<String, Integer> kinds = new TreeMap<>();
            targets.values().forEach(t -> kinds.merge(kindOf(t), 1, Integer::sum));
            return kinds;
        }

        /** What is open now and was not then, sockets described from /proc/net/unix. */
        public Map<Integer, String> newSince(Snapshot before) {
            Map<String, String> unix = unixSocketPaths();
            Map<Integer, String> grown = new TreeMap<>();
            targets.forEach((fd, target) -> {
                if (!target.equals(before.targets().get(fd))) {
                    String inode = target.startsWith("socket:[") ? target.substring(8, target.length() - 1) : null;
                    grown.put(fd, inode == null ? target : target + " " + unix.getOrDefault(inode, "(no path)"));
                }
            });
            return grown;
        }
    }

    private OpenDescriptors() {
    }

    /** Open descriptors now, jar files excluded. */
    public static int count() {
        return snapshot().count();
    }

    public static Map<String, Integer> byKind() {
        return snapshot().kinds();
    }

    public static Snapshot snapshot() {
        Map<Integer, String> targets = new TreeMap<>();
        String[] names = new File(FD_DIR.toString()).list();
        if (names == null) {
            throw new IllegalStateException("/proc/self/fd is not readable on this system");
        }
        for (String name : names) {
            String target;
            try {
                target = Files.readSymbolicLink(FD_DIR.resolve(name)).toString();
            } catch (IOException e) {
                continue; // closed while we listed, or the listing's own descriptor
            }
            if (target.endsWith(".jar") || target.startsWith("/proc/") && target.endsWith("/fd")) {
                continue;
            }
            targets.put(Integer.parseInt(name), target);
        }
        return new Snapshot(targets);
    }

    private static String kindOf(String target) {
        return target.startsWith("socket:") ? "socket" : target.startsWith("pipe:") ? "pipe" : target;
    }

    /** Unix socket inode to bound path (listeners and the connections they accepted carry the path). */
    static Map<String, String> unixSocketPaths() {
        Map<String, String> paths = new HashMap<>();
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/net/unix"));
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.trim().split("\\s+");
                if (f.length >= 7) {
                    String state = f[5];
                    paths.put(f[6], "st=" + state + (f.length >= 8 ? " " + f[7] : ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            // diagnostics only
        }
        return paths;
    }

    /** A snapshot taken once the count held still for {@code settle}, sampled for at most {@code timeout}. */
    public static Snapshot stable(Duration settle, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Snapshot last = snapshot();
        long stableSince = System.nanoTime();
        while (System.nanoTime() - deadline < 0) {
            sleep(20);
            Snapshot now = snapshot();
            if (now.count() != last.count()) {
                stableSince = System.nanoTime();
            } else if (System.nanoTime() - stableSince >= settle.toNanos()) {
                return now;
            }
            last = now;
        }
        return last;
    }

    /**
     * Waits until at most as many descriptors are open as in {@code baseline}; fails
     * naming what was opened since when that does not happen within {@code timeout}.
     */
    public static void awaitAtMost(Snapshot baseline, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Snapshot now;
        while ((now = snapshot()).count() > baseline.count()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("open descriptors did not return to the baseline of " + baseline.count()
                        + " within " + timeout.toMillis() + " ms: now " + now.count() + " " + now.kinds()
                        + ", baseline " + baseline.kinds() + "; opened since the baseline: "
                        + now.newSince(baseline));
            }
            sleep(20);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
