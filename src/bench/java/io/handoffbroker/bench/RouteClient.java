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
import java.util.Map;
import java.util.TreeMap;
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
 * same load. Between warm-up and measurement the client writes the marker file and
 * waits for {@code continue}, so the orchestrator can read the broker's own meters for
 * exactly the measured samples.
 *
 * <p>Arguments: {@code BROKER_SOCKET SERVICE VERSION WARMUP SAMPLES MARKER_FILE RESULT_FILE}.
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
        Path marker = Path.of(args[5]);
        Path resultFile = Path.of(args[6]);

        BrokerClient handoff = new BrokerClient(broker, Duration.ofSeconds(5), BrokerClient.DEFAULT_RELAY_WAIT, true);
        BrokerClient reconnect = new BrokerClient(broker, Duration.ofSeconds(5), BrokerClient.DEFAULT_RELAY_WAIT,
                false);
        Histogram handoffs = Results.newHistogram();
        Histogram reconnects = Results.newHistogram();
        Map<String, Integer> fallbacks = new TreeMap<>();
        Map<String, Integer> errors = new TreeMap<>();
        for (int i = 0; i < warmup + samples; i++) {
            if (i == warmup) {
                parent.warmedUp(marker);
            }
            boolean measured = i >= warmup;
            boolean handoffFirst = i % 2 == 0;
            for (int leg = 0; leg < 2; leg++) {
                boolean isHandoff = (leg == 0) == handoffFirst;
                long nanos = sample(isHandoff ? handoff : reconnect, service, version,
                        isHandoff ? Route.HANDED_OFF : Route.RECONNECTED, measured ? fallbacks : new TreeMap<>(),
                        measured ? errors : new TreeMap<>());
                if (measured && nanos >= 0) {
                    Results.record(isHandoff ? handoffs : reconnects, nanos);
                }
            }
        }
        new Results()
                .putHistogram("handoff", handoffs)
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
