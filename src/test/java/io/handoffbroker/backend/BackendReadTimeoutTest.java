package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.backend.RawOffers.Pair;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.wire.proto.HandoffAck;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * {@link BackendServer#readTimeout}: on both routes, for both kinds of handler, a read that waits
 * longer for the client fails as a socket's timed-out read does, and a client that went silent
 * gives its handler slot back. Real sockets and real descriptor passing.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BackendReadTimeoutTest {

    private static final Duration TIMEOUT = Duration.ofMillis(300);

    @TempDir
    Path dir;

    enum Route { HANDED_OFF, RECONNECTING }

    enum Kind { STREAMS, SOCKET }

    static Stream<Arguments> routesAndHandlers() {
        return Stream.of(Route.values()).flatMap(route -> Stream.of(Kind.values()).map(kind -> Arguments.of(route, kind)));
    }

    @ParameterizedTest
    @MethodSource("routesAndHandlers")
    void aSilentClientsReadFailsAfterTheTimeoutAndItsSlotServesTheNextClient(Route route, Kind kind)
            throws Exception {
        BlockingQueue<Object> reads = new LinkedBlockingQueue<>();
        try (BackendServer server = server(kind, reads).readTimeout(TIMEOUT).start();
                Client silent = connect(server, route)) {
            long connected = System.nanoTime();
            Object first = reads.poll(10, TimeUnit.SECONDS);
            long waited = System.nanoTime() - connected;
            assertThat(first).as("what the handler's first read gave").isInstanceOf(SocketTimeoutException.class);
            assertThat(Duration.ofNanos(waited)).as("the read waited out the timeout")
                    .isGreaterThanOrEqualTo(TIMEOUT.minusMillis(50));
            assertThat(silent.socket().getInputStream().read()).as("the handler let it propagate: the end")
                    .isEqualTo(-1);

            // One slot in all: the next client is served only because the silent one's was given back.
            try (Client next = connect(server, route)) {
                next.socket().getOutputStream().write('x');
                assertThat(next.socket().getInputStream().read()).isEqualTo('x');
                assertThat(reads.poll(5, TimeUnit.SECONDS)).isEqualTo((int) 'x');
            }
        }
    }

    @ParameterizedTest
    @MethodSource("routesAndHandlers")
    void withoutATimeoutAReadWaitsForTheClientHoweverLong(Route route, Kind kind) throws Exception {
        BlockingQueue<Object> reads = new LinkedBlockingQueue<>();
        try (BackendServer server = server(kind, reads).start(); Client slow = connect(server, route)) {
            assertThat(reads.poll(TIMEOUT.multipliedBy(2).toMillis(), TimeUnit.MILLISECONDS))
                    .as("the read still waits").isNull();
            slow.socket().getOutputStream().write('y');
            assertThat(reads.poll(5, TimeUnit.SECONDS)).isEqualTo((int) 'y');
            assertThat(slow.socket().getInputStream().read()).isEqualTo('y');
        }
    }

    @ParameterizedTest
    @MethodSource("routesAndHandlers")
    void aTimedOutReadConsumesNothingAndTheHandlerMayReadOn(Route route, Kind kind) throws Exception {
        BlockingQueue<Object> reads = new LinkedBlockingQueue<>();
        ConnectionHandler patient = handler(kind, (in, out) -> {
            try {
                in.read();
                reads.add("no timeout");
            } catch (SocketTimeoutException expected) {
                reads.add(expected);
                int b = in.read(new byte[1], 0, 1) == 1 ? 'z' : -1;
                reads.add(b);
                out.write(b);
            }
        });
        try (BackendServer server = bothRoutes(patient).readTimeout(TIMEOUT).start(); Client client = connect(server, route)) {
            assertThat(reads.poll(10, TimeUnit.SECONDS)).isInstanceOf(SocketTimeoutException.class);
            client.socket().getOutputStream().write('z');
            assertThat(reads.poll(5, TimeUnit.SECONDS)).isEqualTo((int) 'z');
            assertThat(client.socket().getInputStream().read()).as("the connection stayed open").isEqualTo('z');
        }
    }

    @ParameterizedTest
    @MethodSource("routesAndHandlers")
    void aReadIntoAnArrayIsBoundedToo(Route route, Kind kind) throws Exception {
        BlockingQueue<Object> reads = new LinkedBlockingQueue<>();
        ConnectionHandler readsARecord = handler(kind, (in, out) -> {
            try {
                reads.add(in.read(new byte[8], 0, 8)); // as a BufferedReader or readNBytes reads
            } catch (SocketTimeoutException e) {
                reads.add(e);
            }
        });
        try (BackendServer server = bothRoutes(readsARecord).readTimeout(TIMEOUT).start();
                Client silent = connect(server, route)) {
            assertThat(reads.poll(10, TimeUnit.SECONDS)).isInstanceOf(SocketTimeoutException.class);
        }
    }

    @ParameterizedTest
    @MethodSource("routesAndHandlers")
    void aSkipIsBoundedAndSkipsWhatCame(Route route, Kind kind) throws Exception {
        BlockingQueue<Object> reads = new LinkedBlockingQueue<>();
        ConnectionHandler skipping = handler(kind, (in, out) -> {
            try {
                in.skip(4);
                reads.add("skipped without bytes");
            } catch (SocketTimeoutException e) {
                reads.add(e);
                long skipped = in.skip(2); // waits, bounded, for the client's "abc"
                reads.add(skipped);
                out.write(in.read());
            }
        });
        try (BackendServer server = bothRoutes(skipping).readTimeout(TIMEOUT).start();
                Client client = connect(server, route)) {
            assertThat(reads.poll(10, TimeUnit.SECONDS)).isInstanceOf(SocketTimeoutException.class);
            client.socket().getOutputStream().write("abc".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertThat(reads.poll(5, TimeUnit.SECONDS)).isIn(1L, 2L);
            int next = client.socket().getInputStream().read();
            assertThat(next).as("the byte after what was skipped").isIn((int) 'b', (int) 'c');
        }
    }

    @Test
    void aSkipOnAHandedOffStreamTakesWhatCameAndWaitsForNoMore() throws Exception {
        BlockingQueue<Object> reads = new LinkedBlockingQueue<>();
        java.util.concurrent.CountDownLatch written = new java.util.concurrent.CountDownLatch(1);
        ConnectionHandler skipping = (StreamHandler) (in, out) -> {
            try {
                written.await();
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException();
            }
            reads.add(in.skip(5)); // 3 have come
            out.write(in.read());
        };
        try (BackendServer server = bothRoutes(skipping).readTimeout(Duration.ofSeconds(20)).start();
                Client client = connect(server, Route.HANDED_OFF)) {
            // A write to a Unix socket has put its bytes in the peer's queue when it returns.
            client.socket().getOutputStream().write("abc".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            written.countDown();
            assertThat(reads.poll(5, TimeUnit.SECONDS)).as("skipped, well before the 20 s timeout").isEqualTo(3L);
            client.socket().getOutputStream().write('d');
            assertThat(client.socket().getInputStream().read()).isEqualTo('d');
        }
    }

    @Test
    void theShortestTimeoutIsAMillisecondNeverNone() throws Exception {
        BlockingQueue<Object> reads = new LinkedBlockingQueue<>();
        try (BackendServer server = server(Kind.STREAMS, reads).readTimeout(Duration.ofNanos(1)).start();
                Client silent = connect(server, Route.HANDED_OFF)) {
            assertThat(reads.poll(10, TimeUnit.SECONDS)).isInstanceOf(SocketTimeoutException.class)
                    .hasToString("java.net.SocketTimeoutException: no bytes from the client within 1 ms");
        }
    }

    @Test
    void theTimeoutIsCheckedAndSetBeforeStart() throws Exception {
        BackendServer server = new BackendServer(dir.resolve("pipe.sock"), (StreamHandler) (in, out) -> { }, 1);
        assertThatThrownBy(() -> server.readTimeout(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("timeout");
        for (Duration bad : new Duration[] {Duration.ZERO, Duration.ofMillis(-1),
                Duration.ofMillis(Integer.MAX_VALUE).plusMillis(1)}) {
            assertThatThrownBy(() -> server.readTimeout(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("timeout must be positive and at most 2147483647 ms, not " + bad);
        }
        server.readTimeout(Duration.ofNanos(1)).start(); // rounded up to 1 ms, never to "none"
        try (server) {
            assertThatThrownBy(() -> server.readTimeout(TIMEOUT)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("set the read timeout before start()");
        }
    }

    /** Reads one byte and echoes it, telling {@code reads} what the read gave; a timeout propagates. */
    private BackendServer server(Kind kind, BlockingQueue<Object> reads) {
        ConnectionHandler echoOnce = handler(kind, (in, out) -> {
            int b;
            try {
                b = in.read();
            } catch (SocketTimeoutException e) {
                reads.add(e);
                throw e;
            }
            reads.add(b);
            out.write(b);
        });
        return bothRoutes(echoOnce);
    }

    /** A server of one handler slot on both routes. */
    private BackendServer bothRoutes(ConnectionHandler handler) {
        return new BackendServer(dir.resolve("pipe.sock"), Optional.of(dir.resolve("handoff.sock")), handler, 1);
    }

    private static ConnectionHandler handler(Kind kind, StreamHandler streams) {
        return kind == Kind.STREAMS ? streams
                : connection -> streams.serve(connection.getInputStream(), connection.getOutputStream());
    }

    private static final AtomicLong CORRELATION_IDS = new AtomicLong();

    /**
     * A client connected by {@code route}: through backend_pipe, or handed over as a broker does.
     * A handoff refused at capacity is offered again: a handler's slot is given back just after
     * its client sees the end.
     */
    private static Client connect(BackendServer server, Route route) throws Exception {
        if (route == Route.RECONNECTING) {
            AFUNIXSocket socket = RawOffers.connect(server.endpoint());
            return new Client(socket, socket);
        }
        AFUNIXSocket control = RawOffers.connect(server.handoffEndpoint().orElseThrow());
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            Pair pair = Pair.open();
            try {
                long id = CORRELATION_IDS.incrementAndGet(); // a token of its own for each offer
                HandoffAck ack = RawOffers.ack(control, pair.passed(), RawOffers.token((int) id), id);
                Descriptors.closeWithoutShutdown(pair.theirs()); // the broker's copy
                if (ack.getAccepted()) {
                    return new Client(pair.ours(), control);
                }
                assertThat(ack.getErrorDetail()).isEqualTo("backend at capacity");
                assertThat(System.nanoTime() - giveUp).as("a slot came free within 5 s").isNegative();
                pair.ours().close();
                Thread.sleep(10);
            } catch (Exception | AssertionError e) {
                pair.close();
                control.close();
                throw e;
            }
        }
    }

    /** The client's socket, and what else the route keeps open until the test ends. */
    record Client(AFUNIXSocket socket, AutoCloseable alsoOpen) implements AutoCloseable {

        @Override
        public void close() throws Exception {
            socket.close();
            alsoOpen.close();
        }
    }
}
