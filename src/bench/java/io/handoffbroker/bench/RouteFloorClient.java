package io.handoffbroker.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * Figures 3f and 4f: the messages of figures 3 and 4 against {@link RouteFloorBroker}
 * and {@link RouteFloorBackend}, with plain blocking junixsocket sockets and no read
 * timeouts. The clock starts and stops where {@link RouteClient}'s does, and the two
 * routes alternate the same way, sample by sample in alternating order.
 *
 * <ul>
 *   <li>Handoff: connect to the broker, write the Hello, read the Negotiated, read the
 *       relay, then one echo on the same connection.</li>
 *   <li>Reconnect: connect to the broker, write the Hello, read the Negotiated, close,
 *       connect to {@code backend_pipe}, then one echo.</li>
 * </ul>
 * The clock stops when the echo is read; the connection is closed after. The broker
 * meters that {@link RouteClient} pauses for do not exist here, so there is no pause.
 *
 * <p>The warm-up lasts until the JIT compilers of the route floor's broker and backend and
 * of this process are quiet ({@link WarmUp}), {@code WARMUP} pairs at least.
 *
 * <p>Arguments: {@code BROKER_SOCKET BACKEND_PIPE WARMUP SAMPLES BROKER_PID BACKEND_PID RESULT_FILE}.
 */
final class RouteFloorClient {

    // Built once each: junixsocket takes longer to build an address than to connect, and a floor
    // leaves out all but the messages (the client SDK caches the broker's, not backend_pipe's).
    private final AFUNIXSocketAddress broker;
    private final AFUNIXSocketAddress backendPipe;
    private final byte[] handoffHello = RouteFloor.hello(RouteFloor.HANDOFF);
    private final byte[] reconnectHello = RouteFloor.hello(RouteFloor.RECONNECT);
    private final byte[] negotiatedHandoff = new byte[RouteFloor.NEGOTIATED_HANDOFF_BYTES];
    private final byte[] negotiatedReconnect = new byte[RouteFloor.NEGOTIATED_RECONNECT_BYTES];
    private final byte[] relay = new byte[RouteFloor.RELAY_BYTES];
    private final byte[] echo = new byte[RouteFloor.REQUEST_BYTES];

    private RouteFloorClient(Path broker, Path backendPipe) throws IOException {
        this.broker = AFUNIXSocketAddress.of(broker);
        this.backendPipe = AFUNIXSocketAddress.of(backendPipe);
    }

    static int run(String[] args) throws IOException {
        RouteFloorClient client = new RouteFloorClient(Path.of(args[0]), Path.of(args[1]));
        int warmup = Integer.parseInt(args[2]);
        int samples = Integer.parseInt(args[3]);
        long brokerPid = Long.parseLong(args[4]);
        long backendPid = Long.parseLong(args[5]);
        Path resultFile = Path.of(args[6]);

        Histogram handoffs = Results.newHistogram();
        Histogram reconnects = Results.newHistogram();
        Map<String, Integer> errors = new TreeMap<>();
        int[] pairs = {0};
        // One sample of each route, in alternating order; only measured ones are recorded.
        Consumer<Boolean> pair = measured -> {
            boolean handoffFirst = pairs[0]++ % 2 == 0;
            for (int leg = 0; leg < 2; leg++) {
                boolean isHandoff = (leg == 0) == handoffFirst;
                try {
                    long nanos = isHandoff ? client.handoff() : client.reconnect();
                    if (measured) {
                        Results.record(isHandoff ? handoffs : reconnects, nanos);
                    }
                } catch (IOException e) {
                    if (measured) {
                        errors.merge((isHandoff ? "handoff " : "reconnect ") + e, 1, Integer::sum);
                    }
                }
            }
        };
        Results results = new Results();
        WarmUp.run(() -> pair.accept(false), warmup, WarmUp.maximum(warmup), brokerPid, backendPid,
                ProcessHandle.current().pid()).putInto(results, "warmup");
        for (int i = 0; i < samples; i++) {
            pair.accept(true);
        }
        results.putHistogram("handoff-floor", handoffs)
                .putHistogram("reconnect-floor", reconnects)
                .put("errors", errors.values().stream().mapToInt(Integer::intValue).sum())
                .put("errors.detail", errors.toString())
                .write(resultFile);
        return 0;
    }

    /** @return nanoseconds from before the connect to the echo read */
    private long handoff() throws IOException {
        long start = System.nanoTime();
        try (AFUNIXSocket socket = AFUNIXSocket.connectTo(broker)) {
            InputStream in = socket.getInputStream();
            socket.getOutputStream().write(handoffHello);
            RouteFloor.readFully(in, negotiatedHandoff, "the Negotiated");
            RouteFloor.readFully(in, relay, "the relay");
            return echoOnce(in, socket.getOutputStream()) - start;
        }
    }

    /** @return nanoseconds from before the connect to the broker to the echo read */
    private long reconnect() throws IOException {
        long start = System.nanoTime();
        try (AFUNIXSocket socket = AFUNIXSocket.connectTo(broker)) {
            socket.getOutputStream().write(reconnectHello);
            RouteFloor.readFully(socket.getInputStream(), negotiatedReconnect, "the Negotiated");
        }
        try (AFUNIXSocket socket = AFUNIXSocket.connectTo(backendPipe)) {
            return echoOnce(socket.getInputStream(), socket.getOutputStream()) - start;
        }
    }

    /** @return when the echo was read, before the connection is closed */
    private long echoOnce(InputStream in, OutputStream out) throws IOException {
        out.write(RouteClient.REQUEST);
        RouteFloor.readFully(in, echo, "the echo");
        long done = System.nanoTime();
        if (!Arrays.equals(echo, RouteClient.REQUEST)) {
            throw new IOException("echo differs from the request");
        }
        return done;
    }
}
