package io.handoffbroker.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** What Linux tells about a process and the machine, from /proc. */
final class Proc {

    private Proc() {
    }

    /** The numeric fields of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile, Threads, ...), sizes in KiB. */
    static Map<String, Long> status(long pid) throws IOException {
        return status(Path.of("/proc", Long.toString(pid)));
    }

    /** The same for a process's or a thread's directory under /proc. */
    private static Map<String, Long> status(Path directory) throws IOException {
        Map<String, Long> fields = new LinkedHashMap<>();
        for (String line : Files.readAllLines(directory.resolve("status"))) {
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

    /**
     * The machine's time its CPUs did not run anything so far, in clock ticks over all CPUs
     * (idle, iowait, and steal: time the hypervisor gave to another machine), and its number of
     * online CPUs: {not running, cpus}; null when {@code /proc/stat} cannot be read. A tickless
     * kernel (the usual one) keeps idle time exactly, from the moments a CPU goes idle and wakes;
     * the busy counters are sampled at each clock tick, and a virtual CPU that halts and wakes
     * thousands of times a second misses ticks: under the throughput phase they summed to about
     * 1.8 CPUs of the 2.
     * So the busy time is taken as what the CPUs had minus the time they did not run.
     */
    static long @Nullable [] machineNotRunning() {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/stat"));
            String[] fields = lines.getFirst().trim().split("\\s+");
            long notRunning = Long.parseLong(fields[4]) + Long.parseLong(fields[5]) + Long.parseLong(fields[8]);
            long cpus = lines.stream().filter(line -> line.matches("cpu\\d+ .*")).count();
            return new long[] {notRunning, cpus};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * What threads have used: time on a CPU, in nanoseconds (the first field of
     * {@code /proc/PID/task/TID/schedstat}, finer than the clock ticks of {@code stat}), the
     * part of it that was a JIT compiler thread's, and context switches. A voluntary switch
     * is a thread blocking until something wakes it: one wake-up. An involuntary one is a
     * thread preempted while it could still run.
     */
    record Usage(long cpuNanos, long compilerNanos, long wakeups, long preemptions) {

        static final Usage NONE = new Usage(0, 0, 0, 0);

        /** What each thread of the process alive now has used so far, by thread id. */
        static Map<String, Usage> byThread(long pid) throws IOException {
            Map<String, Usage> threads = new LinkedHashMap<>();
            try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
                for (Path task : tasks) {
                    try {
                        long cpu = Long.parseLong(Files.readString(task.resolve("schedstat")).trim().split("\\s+")[0]);
                        // HotSpot names them "C1 CompilerThread0", "C2 CompilerThread1", "JVMCI
                        // CompilerThread0", which the kernel cuts to 15 characters.
                        boolean compiler = Files.readString(task.resolve("comm")).contains("CompilerT");
                        Map<String, Long> status = status(task);
                        threads.put(task.getFileName().toString(), new Usage(cpu, compiler ? cpu : 0,
                                status.getOrDefault("voluntary_ctxt_switches", 0L),
                                status.getOrDefault("nonvoluntary_ctxt_switches", 0L)));
                    } catch (IOException | RuntimeException gone) {
                        // The thread ended between the listing and the read.
                    }
                }
            }
            return threads;
        }

        /**
         * What the threads alive at {@code after} used since {@code before}; a thread that
         * ended in between is left out (the JVM ends idle compiler threads, for one), since
         * what it used after {@code before} is not known any more.
         */
        static Usage between(Map<String, Usage> before, Map<String, Usage> after) {
            Usage sum = NONE;
            for (Map.Entry<String, Usage> thread : after.entrySet()) {
                Usage then = before.getOrDefault(thread.getKey(), NONE);
                Usage now = thread.getValue();
                sum = sum.plus(new Usage(now.cpuNanos - then.cpuNanos, now.compilerNanos - then.compilerNanos,
                        now.wakeups - then.wakeups, now.preemptions - then.preemptions));
            }
            return sum;
        }

        /** Whether a compiler thread that had used CPU time at {@code before} has ended by {@code after}. */
        static boolean compilerEnded(Map<String, Usage> before, Map<String, Usage> after) {
            return before.entrySet().stream()
                    .anyMatch(thread -> thread.getValue().compilerNanos() > 0 && !after.containsKey(thread.getKey()));
        }

        Usage plus(Usage more) {
            return new Usage(cpuNanos + more.cpuNanos, compilerNanos + more.compilerNanos, wakeups + more.wakeups,
                    preemptions + more.preemptions);
        }
    }

    /** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
    static final double TICKS_PER_SECOND = 100.0;

    /**
     * CPU use over a window: the broker's, this process's, and the whole machine's,
     * so that load from other work on the machine shows.
     */
    record CpuWindow(long brokerPid, long startNanos, long brokerTicks, long selfTicks, long @Nullable [] machine) {

        static CpuWindow start(long brokerPid) {
            return new CpuWindow(brokerPid, System.nanoTime(), cpuTicks(brokerPid),
                    cpuTicks(ProcessHandle.current().pid()), machineNotRunning());
        }

        /** Puts {@code PREFIX.cpu.*}: seconds of CPU of the broker, of the client, of the machine, and the window. */
        void end(Results results, String prefix) {
            double windowSeconds = (System.nanoTime() - startNanos) / 1e9;
            long[] machineNow = machineNotRunning();
            // NaN when /proc/stat could not be read: shown as such, never as a plausible figure.
            double total = machine != null && machineNow != null ? machine[1] * windowSeconds : Double.NaN;
            double notRunning = machine != null && machineNow != null
                    ? (machineNow[0] - machine[0]) / TICKS_PER_SECOND : Double.NaN;
            results.put(prefix + ".cpu.window_s", windowSeconds)
                    .put(prefix + ".cpu.broker_s", secondsBetween(brokerTicks, cpuTicks(brokerPid)))
                    .put(prefix + ".cpu.client_s", secondsBetween(selfTicks, cpuTicks(ProcessHandle.current().pid())))
                    .put(prefix + ".cpu.machine_busy_s", total - notRunning)
                    .put(prefix + ".cpu.machine_total_s", total);
        }

        // NaN when either reading failed (-1), as for the machine.
        private static double secondsBetween(long startTicks, long endTicks) {
            return startTicks < 0 || endTicks < 0 ? Double.NaN : (endTicks - startTicks) / TICKS_PER_SECOND;
        }
    }
}
