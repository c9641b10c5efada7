package io.handoffbroker.bench;

import io.handoffbroker.wire.proto.Hello;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * Figure 5: Hellos per second with N concurrent clients (threads) in this one process,
 * each Hello on a fresh connection ({@link HelloProbe}).
 *
 * <ol>
 *   <li><b>Capacity, closed loop</b>: every client sends its next Hello as soon as the
 *       previous one returned, for a warm-up and then a measured window. The rate is the
 *       Hellos completed inside the window divided by its length. Its latencies are
 *       service times and hide queueing (coordinated omission): reported, not judged.</li>
 *   <li><b>Fixed rate, open loop</b>, once per rate asked for: Hellos are scheduled at
 *       a constant global rate, spread round-robin over the clients; a client waits for
 *       the intended start of its next Hello and starts it then, or at once when it is
 *       already late. Latency is measured from the <em>intended</em> start, so a stall
 *       is charged to every Hello it delayed, not only to the one that hit it
 *       (coordinated omission avoided). A run that falls behind keeps going up to a
 *       hard stop; Hellos not even started by then are counted as not sent and recorded
 *       with their wait so far (a lower bound).</li>
 * </ol>
 *
 * <p>During every measured window the CPU time of the broker, of this process and of
 * the whole machine is read from /proc: it shows where the CPU goes, and how much
 * other work on the machine took.
 *
 * <p>Arguments: {@code BROKER_SOCKET BROKER_PID SERVICE VERSION CLIENTS WARMUP_S MEASURE_S FIXED_S RATES
 * RESULT_FILE}; RATES is a comma-separated list of Hellos per second, where {@code 0.75c} means
 * 75% of the capacity just measured.
 */
final class ThroughputClient {

    private ThroughputClient() {
    }

    static int run(String[] args) throws Exception {
        HelloProbe probe = new HelloProbe(Path.of(args[0]), args[2], args[3]);
        long brokerPid = Long.parseLong(args[1]);
        int clients = Integer.parseInt(args[4]);
        long warmupNanos = seconds(args[5]);
        long measureNanos = seconds(args[6]);
        long fixedNanos = seconds(args[7]);
        String[] rates = args[8].split(",");
        Path resultFile = Path.of(args[9]);

        Results results = new Results().put("clients", clients);
        ClosedLoop closed = closedLoop(probe, clients, warmupNanos, measureNanos, brokerPid, results);
        double capacity = closed.completed * 1e9 / measureNanos;
        results.putHistogram("closed", closed.latency)
                .put("closed.completed", closed.completed)
                .put("closed.seconds", measureNanos / 1e9)
                .put("closed.rate", capacity)
                .put("closed.failures", closed.failures);

        List<String> runs = new ArrayList<>();
        for (int r = 0; r < rates.length; r++) {
            String spec = rates[r].trim();
            double rate = spec.endsWith("c") ? Double.parseDouble(spec.substring(0, spec.length() - 1)) * capacity
                    : Double.parseDouble(spec);
            Thread.sleep(2_500); // let the broker retire the previous run's connections (hello-timeout FIFO)
            long failuresBefore = probe.failureCount();
            String key = "fixed" + r;
            FixedRate fixed = fixedRate(probe, clients, rate, fixedNanos, fixedNanos + 5_000_000_000L, brokerPid,
                    results, key);
            runs.add(key);
            results.putHistogram(key + ".intended", fixed.fromIntended)
                    .putHistogram(key + ".service", fixed.service)
                    .put(key + ".spec", spec)
                    .put(key + ".offered", rate)
                    .put(key + ".scheduled", fixed.scheduled)
                    .put(key + ".completed", fixed.completed)
                    .put(key + ".completedInWindow", fixed.completedInWindow)
                    .put(key + ".notSent", fixed.notSent)
                    .put(key + ".seconds", fixed.elapsedNanos / 1e9)
                    .put(key + ".achieved", fixed.completed * 1e9 / fixed.elapsedNanos)
                    .put(key + ".failures", probe.failureCount() - failuresBefore);
        }
        results.put("fixed.runs", String.join(",", runs))
                .put("failures.detail", probe.failureSummary())
                .write(resultFile);
        return 0;
    }

    private static long seconds(String value) {
        return (long) (Double.parseDouble(value) * 1e9);
    }

    private record ClosedLoop(Histogram latency, long completed, long failures) {
    }

    private static ClosedLoop closedLoop(HelloProbe probe, int clients, long warmupNanos, long measureNanos,
            long brokerPid, Results results) throws InterruptedException {
        long begin = System.nanoTime() + 50_000_000L;
        long measureFrom = begin + warmupNanos;
        long measureTo = measureFrom + measureNanos;
        Histogram[] latencies = new Histogram[clients];
        long[] completed = new long[clients];
        long[] failures = new long[clients];
        CountDownLatch done = new CountDownLatch(clients);
        for (int c = 0; c < clients; c++) {
            int client = c;
            latencies[c] = Results.newHistogram();
            Thread.ofPlatform().name("closed-" + c).daemon(true).start(() -> {
                try {
                    waitUntil(begin);
                    while (true) {
                        Hello hello = probe.hello();
                        long start = System.nanoTime();
                        if (start - measureTo >= 0) {
                            break;
                        }
                        long end = probe.exchange(hello);
                        if (end < 0) {
                            if (start - measureFrom >= 0) {
                                failures[client]++;
                            }
                            continue;
                        }
                        if (end - measureFrom >= 0 && end - measureTo < 0) {
                            completed[client]++;
                            Results.record(latencies[client], end - start);
                        }
                    }
                } finally {
                    done.countDown();
                }
            });
        }
        waitUntil(measureFrom);
        Proc.CpuWindow cpu = Proc.CpuWindow.start(brokerPid);
        waitUntil(measureTo);
        cpu.end(results, "closed");
        done.await();
        Histogram all = Results.newHistogram();
        long total = 0;
        long failed = 0;
        for (int c = 0; c < clients; c++) {
            all.add(latencies[c]);
            total += completed[c];
            failed += failures[c];
        }
        return new ClosedLoop(all, total, failed);
    }

    private record FixedRate(Histogram fromIntended, Histogram service, long scheduled, long completed,
            long completedInWindow, long notSent, long elapsedNanos) {
    }

    private static FixedRate fixedRate(HelloProbe probe, int clients, double rate, long durationNanos,
            long hardStopAfterNanos, long brokerPid, Results results, String key) throws InterruptedException {
        double interval = 1e9 / rate;
        long begin = System.nanoTime() + 50_000_000L;
        long hardStop = begin + hardStopAfterNanos;
        Histogram[] fromIntended = new Histogram[clients];
        Histogram[] service = new Histogram[clients];
        long[] scheduled = new long[clients];
        long[] completed = new long[clients];
        long[] inWindow = new long[clients];
        long[] notSent = new long[clients];
        long[] lastEnd = new long[clients];
        CountDownLatch done = new CountDownLatch(clients);
        for (int c = 0; c < clients; c++) {
            int client = c;
            fromIntended[c] = Results.newHistogram();
            service[c] = Results.newHistogram();
            // Hello number k*clients + client is this client's; all of them start before begin + duration.
            long mine = 0;
            while ((mine * clients + client) * interval < durationNanos) {
                mine++;
            }
            scheduled[c] = mine;
            long count = mine;
            Thread.ofPlatform().name("fixed-" + c).daemon(true).start(() -> {
                try {
                    for (long k = 0; k < count; k++) {
                        long intended = begin + (long) ((k * clients + client) * interval);
                        long now = waitUntil(intended);
                        if (now - hardStop >= 0) {
                            for (long late = k; late < count; late++) {
                                long lateIntended = begin + (long) ((late * clients + client) * interval);
                                Results.record(fromIntended[client], now - lateIntended);
                            }
                            notSent[client] = count - k;
                            break;
                        }
                        Hello hello = probe.hello();
                        long start = System.nanoTime();
                        long end = probe.exchange(hello);
                        if (end < 0) {
                            continue;
                        }
                        completed[client]++;
                        if (end - (begin + durationNanos) < 0) {
                            inWindow[client]++;
                        }
                        lastEnd[client] = end;
                        Results.record(fromIntended[client], end - intended);
                        Results.record(service[client], end - start);
                    }
                } finally {
                    done.countDown();
                }
            });
        }
        waitUntil(begin);
        Proc.CpuWindow cpu = Proc.CpuWindow.start(brokerPid);
        waitUntil(begin + durationNanos);
        cpu.end(results, key);
        done.await();
        Histogram intendedAll = Results.newHistogram();
        Histogram serviceAll = Results.newHistogram();
        long totalScheduled = 0;
        long totalCompleted = 0;
        long totalInWindow = 0;
        long totalNotSent = 0;
        long last = begin + durationNanos;
        for (int c = 0; c < clients; c++) {
            intendedAll.add(fromIntended[c]);
            serviceAll.add(service[c]);
            totalScheduled += scheduled[c];
            totalCompleted += completed[c];
            totalInWindow += inWindow[c];
            totalNotSent += notSent[c];
            if (lastEnd[c] - last > 0) {
                last = lastEnd[c];
            }
        }
        return new FixedRate(intendedAll, serviceAll, totalScheduled, totalCompleted, totalInWindow, totalNotSent,
                last - begin);
    }

    /** Parks until {@code deadline} ({@link System#nanoTime()}); returns the time it woke. */
    private static long waitUntil(long deadline) {
        long now;
        while ((now = System.nanoTime()) - deadline < 0) {
            LockSupport.parkNanos(deadline - now);
        }
        return now;
    }
}
