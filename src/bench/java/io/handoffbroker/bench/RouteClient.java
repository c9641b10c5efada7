package io.handoffbroker.bench;

import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.BrokerRefusedException;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;

/**
 * Figures 3 and 4, from one client process; the broker and the backend are two
 * other processes. One sample of a route is: {@link BrokerClient#connect} (Hello,
 * then the route to the backend) and one echo request/response on the connection it
 * returns, the first bytes the backend serves on it. The clock stops when the echo
 * is read; the connection is closed after.
 *
 * <ul>
 *   <li>Handoff: a client that advertises {@code CAP_HANDLE_PASSING}: Hello,
 *       Negotiated with a token, the broker passes the connection, the relay arrives,
 *       the client keeps the connection. A sample whose route is not
 *       {@link Route#HANDED_OFF} is a fallback; fallbacks are counted by reason and
 *       make the figure invalid.</li>
 *   <li>Reconnect: a client without the capability: Hello, Negotiated, close, connect
 *       to {@code backend_pipe}.</li>
 * </ul>
 * The two routes alternate sample by sample (in alternating order), so both see the
 * same load. The warm-up lasts until the JIT compilers of the broker, the backend and
 * this process are quiet ({@link WarmUp}), {@code WARMUP} pairs at least. Between
 * warm-up and measurement the client writes the marker file and
 * waits for {@code continue}, so the orchestrator can read the broker's own meters for
 * exactly the measured samples; after them it writes {@code MEASURED_MARKER} and waits
 * again, then runs {@code ACCOUNTED} connections of each route, one route at a time, and
 * reads what they cost the broker, the backend and itself ({@link #account}).
 *
 * <p>Arguments: {@code BROKER_SOCKET SERVICE VERSION WARMUP SAMPLES BROKER_PID BACKEND_PID ACCOUNTED
 * MEASURED_MARKER MARKER_FILE RESULT_FILE}.
 */
final class RouteClient {

    /** The request every sample echoes; the route floor's too, so both echo the same bytes. */
    static final byte[] REQUEST = "bench-request-16".getBytes(StandardCharsets.US_ASCII);

    private RouteClient() {
    }

    static int run(String[] args, ParentLink parent) throws Exception {
        Path broker = Path.of(args[0]);
        String service = args[1];
        String version = args[2];
        int warmup = Integer.parseInt(args[3]);
        int samples = Integer.parseInt(args[4]);
        long brokerPid = Long.parseLong(args[5]);
        long backendPid = Long.parseLong(args[6]);
        int accounted = Integer.parseInt(args[7]);
        Path measuredMarker = Path.of(args[8]);
        Path marker = Path.of(args[9]);
        Path resultFile = Path.of(args[10]);

        BrokerClient handoff = new BrokerClient(broker, Duration.ofSeconds(5), BrokerClient.DEFAULT_RELAY_WAIT, true);
        BrokerClient reconnect = new BrokerClient(broker, Duration.ofSeconds(5), BrokerClient.DEFAULT_RELAY_WAIT,
                false);
        Histogram handoffs = Results.newHistogram();
        Histogram reconnects = Results.newHistogram();
        Map<String, Integer> fallbacks = new TreeMap<>();
        Map<String, Integer> errors = new TreeMap<>();
        Results results = new Results();
        int[] pairs = {0};
        // One sample of each route, in alternating order; only measured ones are recorded.
        Consumer<Boolean> pair = measured -> {
            boolean handoffFirst = pairs[0]++ % 2 == 0;
            for (int leg = 0; leg < 2; leg++) {
                boolean isHandoff = (leg == 0) == handoffFirst;
                long nanos = sample(isHandoff ? handoff : reconnect, service, version,
                        isHandoff ? Route.HANDED_OFF : Route.RECONNECTED, measured ? fallbacks : new TreeMap<>(),
                        measured ? errors : new TreeMap<>());
                if (measured && nanos >= 0) {
                    Results.record(isHandoff ? handoffs : reconnects, nanos);
                }
            }
        };
        long self = ProcessHandle.current().pid();
        WarmUp.run(() -> pair.accept(false), warmup, WarmUp.maximum(warmup), brokerPid, backendPid, self)
                .putInto(results, "warmup");
        parent.warmedUp(marker);
        for (int i = 0; i < samples; i++) {
            pair.accept(true);
        }
        // After the second marker, so the broker's meters read for the measured samples leave these out.
        parent.warmedUp(measuredMarker);
        account(handoff, reconnect, service, version, accounted, brokerPid, backendPid, results);
        results.putHistogram("handoff", handoffs)
                .putHistogram("reconnect", reconnects)
                .put("handoff.fallbacks", fallbacks.getOrDefault(Route.HANDED_OFF.label(), 0))
                .put("reconnect.unexpected", fallbacks.getOrDefault(Route.RECONNECTED.label(), 0))
                .put("fallbacks.detail", fallbacks.toString())
                .put("errors", errors.values().stream().mapToInt(Integer::intValue).sum())
                .put("errors.detail", errors.toString())
                .write(resultFile);
        return 0;
    }

    /**
     * What a connection of each route costs each process when that route runs alone: for
     * {@code count} connections per route, in two blocks each, in the order
     * handoff, reconnect, reconnect, handoff, so that a drift in the machine's speed falls on
     * both, after one block of each whose costs are not counted (its failures are). Per connection: wall time, and each process's time on a CPU (and how much of it
     * its JIT compilers took), wake-ups and preemptions (see {@link Proc.Usage}). Puts
     * {@code cost.ROUTE.*}.
     */
    private static void account(BrokerClient handoff, BrokerClient reconnect, String service, String version,
            int count, long brokerPid, long backendPid, Results results) throws IOException {
        if (count <= 0) {
            return;
        }
        Tally handoffs = new Tally(handoff, Route.HANDED_OFF);
        Tally reconnects = new Tally(reconnect, Route.RECONNECTED);
        int block = Math.max(1, count / 2);
        // A route alone makes the JIT compilers recompile what they compiled for the two routes
        // interleaved: one block of each first lets them finish; its failures still count.
        handoffs.run(block, false, service, version, brokerPid, backendPid);
        reconnects.run(block, false, service, version, brokerPid, backendPid);
        for (Tally tally : List.of(handoffs, reconnects, reconnects, handoffs)) {
            tally.run(block, true, service, version, brokerPid, backendPid);
        }
        handoffs.putInto(results);
        reconnects.putInto(results);
    }

    /** One route's share of {@link #account}: its blocks' costs, summed. */
    private static final class Tally {

        private final BrokerClient client;
        private final Route route;
        private final Map<String, Integer> fallbacks = new TreeMap<>();
        private final Map<String, Integer> errors = new TreeMap<>();
        private final Map<String, Proc.Usage> used = new LinkedHashMap<>();
        private final Histogram latencies = Results.newHistogram();
        private int connections;
        private long wallNanos;

        Tally(BrokerClient client, Route route) {
            this.client = client;
            this.route = route;
        }

        /** One block of {@code block} connections; {@code counted}: its costs count, not only its failures. */
        void run(int block, boolean counted, String service, String version, long brokerPid, long backendPid)
                throws IOException {
            Map<String, Long> pids = new LinkedHashMap<>();
            pids.put("broker", brokerPid);
            pids.put("backend", backendPid);
            pids.put("client", ProcessHandle.current().pid());
            Map<String, Map<String, Proc.Usage>> before = new LinkedHashMap<>();
            for (Map.Entry<String, Long> process : pids.entrySet()) {
                before.put(process.getKey(), Proc.Usage.byThread(process.getValue()));
            }
            long start = System.nanoTime();
            for (int i = 0; i < block; i++) {
                long nanos = sample(client, service, version, route, fallbacks, errors);
                if (counted && nanos >= 0) {
                    Results.record(latencies, nanos);
                }
            }
            if (!counted) {
                return;
            }
            wallNanos += System.nanoTime() - start;
            connections += block;
            for (Map.Entry<String, Long> process : pids.entrySet()) {
                Proc.Usage spent = Proc.Usage.between(before.get(process.getKey()),
                        Proc.Usage.byThread(process.getValue()));
                used.merge(process.getKey(), spent, Proc.Usage::plus);
            }
        }

        void putInto(Results results) {
            String key = "cost." + route.label();
            results.put(key + ".count", connections)
                    .put(key + ".failed", fallbacks.getOrDefault(route.label(), 0)
                            + errors.values().stream().mapToInt(Integer::intValue).sum())
                    .put(key + ".failed.detail", fallbacks + " " + errors)
                    .put(key + ".wall_us", wallNanos / 1e3 / connections)
                    .put(key + ".p50_us", latencies.getValueAtPercentile(50) / 1e3)
                    .put(key + ".p99_us", latencies.getValueAtPercentile(99) / 1e3);
            used.forEach((process, spent) -> results
                    .put(key + "." + process + ".cpu_us", spent.cpuNanos() / 1e3 / connections)
                    .put(key + "." + process + ".jit_us", spent.compilerNanos() / 1e3 / connections)
                    .put(key + "." + process + ".wakeups", spent.wakeups() / (double) connections)
                    .put(key + "." + process + ".preemptions", spent.preemptions() / (double) connections));
        }
    }

    /**
     * @return nanoseconds from before the Hello to the echo read, also for a fallback
     *     (which is counted); -1 when the sample failed
     */
    private static long sample(BrokerClient client, String service, String version, Route expected,
            Map<String, Integer> fallbacks, Map<String, Integer> errors) {
        long start = System.nanoTime();
        long done;
        ServiceConnection connection;
        try {
            connection = client.connect(service, version);
        } catch (BrokerRefusedException e) {
            errors.merge("refused " + e.getMessage(), 1, Integer::sum);
            return -1;
        } catch (IOException e) {
            errors.merge(e.getClass().getSimpleName() + ": " + e.getMessage(), 1, Integer::sum);
            return -1;
        }
        try (connection) {
            connection.out().write(REQUEST);
            connection.out().flush();
            readEcho(connection.in());
            done = System.nanoTime();
            if (connection.route() != expected) {
                fallbacks.merge(expected.label(), 1, Integer::sum);
                fallbacks.merge(expected.label() + ": " + connection.fallbackReason(), 1, Integer::sum);
            }
        } catch (IOException e) {
            errors.merge(e.getClass().getSimpleName() + ": " + e.getMessage(), 1, Integer::sum);
            return -1;
        }
        return done - start;
    }

    private static void readEcho(InputStream in) throws IOException {
        byte[] echo = new byte[REQUEST.length];
        int read = 0;
        while (read < echo.length) {
            int n = in.read(echo, read, echo.length - read);
            if (n < 0) {
                throw new EOFException("backend closed after " + read + " echo bytes");
            }
            read += n;
        }
        if (!Arrays.equals(echo, REQUEST)) {
            throw new IOException("echo differs from the request");
        }
    }
}
