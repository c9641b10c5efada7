package io.handoffbroker.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** What Linux tells about a process and the machine, from /proc. */
final class Proc {

    private Proc() {
    }

    /** The numeric fields of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile, Threads, ...), sizes in KiB. */
    static Map<String, Long> status(long pid) throws IOException {
        Map<String, Long> fields = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String[] value = line.substring(colon + 1).trim().split("\\s+");
            if (value.length >= 1 && value[0].matches("\\d+")) {
                fields.put(line.substring(0, colon), Long.parseLong(value[0]));
            }
        }
        return fields;
    }

    /** Open descriptors of the process. */
    static int descriptors(long pid) throws IOException {
        int count = 0;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path ignored : fds) {
                count++;
            }
        }
        return count;
    }

    /** The soft limit of open files of the process, or -1 if unknown. */
    static long openFilesLimit(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "limits"))) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // Unknown.
        }
        return -1;
    }

    /** The first line of a /proc file, or "?" */
    static String firstLine(String file) {
        try {
            return Files.readAllLines(Path.of(file)).stream().findFirst().orElse("?").trim();
        } catch (IOException e) {
            return "?";
        }
    }

    /** A field of /proc/cpuinfo or /proc/meminfo ({@code "model name"}, {@code "MemTotal"}), or "?". */
    static String field(String file, String name) {
        try {
            for (String line : Files.readAllLines(Path.of(file))) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
        } catch (IOException ignored) {
            // Unknown.
        }
        return "?";
    }

    /** CPU time used so far by the process (user + system), in clock ticks; -1 when unknown. */
    static long cpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // The command name is in parentheses and may contain spaces: fields start after the last ')'.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
            return Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime (fields 14, 15)
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The machine's CPU time so far, in clock ticks: {busy, total} over all CPUs (busy excludes idle and iowait). */
    static long[] machineTicks() {
        try {
            String[] fields = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
            long total = 0;
            for (int i = 1; i < fields.length && i <= 8; i++) {
                total += Long.parseLong(fields[i]);
            }
            long idle = Long.parseLong(fields[4]) + Long.parseLong(fields[5]);
            return new long[] {total - idle, total};
        } catch (IOException | RuntimeException e) {
            return new long[] {-1, -1};
        }
    }

    /** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
    static final double TICKS_PER_SECOND = 100.0;

    /**
     * CPU use over a window: the broker's, this process's, and the whole machine's,
     * so that load from other work on the machine shows.
     */
    record CpuWindow(long brokerPid, long startNanos, long brokerTicks, long selfTicks, long[] machine) {

        static CpuWindow start(long brokerPid) {
            return new CpuWindow(brokerPid, System.nanoTime(), cpuTicks(brokerPid),
                    cpuTicks(ProcessHandle.current().pid()), machineTicks());
        }

        /** Puts {@code PREFIX.cpu.*}: seconds of CPU of the broker, of the client, of the machine, and the window. */
        void end(Results results, String prefix) {
            long seconds = System.nanoTime() - startNanos;
            long[] machineNow = machineTicks();
            results.put(prefix + ".cpu.window_s", seconds / 1e9)
                    .put(prefix + ".cpu.broker_s", (cpuTicks(brokerPid) - brokerTicks) / TICKS_PER_SECOND)
                    .put(prefix + ".cpu.client_s",
                            (cpuTicks(ProcessHandle.current().pid()) - selfTicks) / TICKS_PER_SECOND)
                    .put(prefix + ".cpu.machine_busy_s", (machineNow[0] - machine[0]) / TICKS_PER_SECOND)
                    .put(prefix + ".cpu.machine_total_s", (machineNow[1] - machine[1]) / TICKS_PER_SECOND);
        }
    }
}
