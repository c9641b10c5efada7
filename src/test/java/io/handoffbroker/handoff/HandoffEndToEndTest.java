package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.backend.ConnectionHandler;
import io.handoffbroker.backend.StreamHandler;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.PayloadEncoding;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

/**
 * The handoff end to end over real Unix sockets: a real broker and orchestrator,
 * the client SDK, and the backend SDK, in this process and in another one.
 */
class HandoffEndToEndTest {

    private static final Duration EVENT_WAIT = Duration.ofSeconds(3);

    @TempDir
    Path dir;

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private Process child;

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
        }
        if (child != null) {
            child.destroyForcibly();
            child.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private <T extends AutoCloseable> T closeLater(T closeable) {
        toClose.add(closeable);
        return closeable;
    }

    private Path pipe() {
        return dir.resolve("b").resolve("pipe.sock");
    }

    private Path handoff() {
        return dir.resolve("b").resolve("ho.sock");
    }

    private HandoffFixture broker() throws IOException {
        return closeLater(new HandoffFixture(dir).ackDeadline(Duration.ofSeconds(2)).ackGrace(Duration.ofSeconds(1))
                .relayWait(Duration.ofSeconds(2))
                .service(HandoffFixture.handoffService(pipe(), handoff())).start());
    }

    /** The SDK backend serving both routes with {@code handler}; the caller closes it. */
    private BackendServer sdkBackend(ConnectionHandler handler) throws IOException {
        return new BackendServer(pipe(), Optional.of(handoff()), handler, 16).start();
    }

    @Test
    void clientKeepsTheVeryConnectionItSentTheHelloOnAndTheBackendServesIt() throws Exception {
        RecordingEchoHandler handler = new RecordingEchoHandler();
        closeLater(sdkBackend(handler));
        HandoffFixture broker = broker();

        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
            assertThat(connection.fallbackReason()).isEmpty();
            // The client's socket is still connected to the broker's listener: it is the Hello connection.
            assertThat(((AFUNIXSocketAddress) connection.socket().getRemoteSocketAddress()).getPath())
                    .isEqualTo(broker.socketPath().toString());
            assertThat(HandoffFixture.echo(connection.socket(), "hello over the handoff"))
                    .isEqualTo("hello over the handoff");

            // The backend serves a connection that was accepted on the broker's socket, by this process,
            // and its own backend_pipe listener served nothing.
            assertThat(handler.served()).singleElement().satisfies(served -> {
                assertThat(served.localPath()).isEqualTo(broker.socketPath().toString());
                assertThat(served.peerPid()).isEqualTo(ProcessHandle.current().pid());
            });
            assertThat(handler.servedOn(pipe().toString())).isZero();

            long id = connection.connectionId();
            RecordingHandoffEvents events = broker.events();
            assertThat(events.awaitEvent(id, "handed_off", EVENT_WAIT)).isNotNull();
            assertThat(events.ackResultsOf(id)).containsExactly(AckResult.ACCEPTED);
            assertThat(events.fallbackReasonsOf(id)).isEmpty();
            assertThat(broker.orchestrator().pending().size()).isZero();
        }
    }

    @Test
    void sdkBackendKeepsUsingTheConnectionAfterTheBrokerReleasedItsCopy() throws Exception {
        closeLater(sdkBackend(new RecordingEchoHandler()));
        HandoffFixture broker = broker();

        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
            awaitReleased(broker, connection);
            for (int i = 0; i < 5; i++) {
                assertThat(HandoffFixture.echo(connection.socket(), "after release " + i))
                        .isEqualTo("after release " + i);
            }
        }
    }

    @Test
    void backendKeepsUsingTheConnectionAfterTheBrokerIsClosedEntirely() throws Exception {
        // A backend that adopts correctly (a duplicate, see ScriptedHandoffBackend): whatever the broker
        // does on its way out (listener, event loop, workers, watcher, pooled control connections),
        // it must never shut down or close a connection it passed.
        closeLater(new ScriptedHandoffBackend(handoff()).start());
        closeLater(new BackendServer(pipe(), new RecordingEchoHandler(), 16).start());
        HandoffFixture broker = broker();

        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
            awaitReleased(broker, connection);
            assertThat(HandoffFixture.echo(connection.socket(), "before")).isEqualTo("before");

            broker.close();
            assertThat(Files.exists(broker.socketPath())).isFalse();
            for (int i = 0; i < 5; i++) {
                assertThat(HandoffFixture.echo(connection.socket(), "broker gone " + i))
                        .isEqualTo("broker gone " + i);
            }
        }
    }

    @Test
    void sdkBackendKeepsUsingTheConnectionAfterTheBrokerIsClosedEntirely() throws Exception {
        closeLater(sdkBackend(new RecordingEchoHandler()));
        HandoffFixture broker = broker();
        Set<Thread> beforeTheDial = LiveThreads.snapshot();

        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
            awaitReleased(broker, connection);
            assertThat(HandoffFixture.echo(connection.socket(), "before")).isEqualTo("before");

            broker.close();
            // The backend's thread of that control connection ends once it sees the connection end:
            // only after that do the echoes show the handed-off connection outlives it.
            LiveThreads.awaitGone(beforeTheDial, Duration.ofSeconds(10), "backend-handoff-control");
            for (int i = 0; i < 5; i++) {
                assertThat(HandoffFixture.echo(connection.socket(), "broker gone " + i))
                        .isEqualTo("broker gone " + i);
            }
        }
    }

    /** Both ways the SDK serves a handed-off connection: a socket object, or file streams for a StreamHandler. */
    static Stream<Arguments> handlers() {
        return Stream.of(
                Arguments.of(Named.of("socket object", (Supplier<ConnectionHandler>) RecordingEchoHandler::new)),
                Arguments.of(Named.of("file streams", (Supplier<ConnectionHandler>) EchoHandler::new)));
    }

    @ParameterizedTest
    @MethodSource("handlers")
    void sdkBackendReleasesTheDescriptorOfEveryHandedOffConnectionItFinishedServing(
            Supplier<ConnectionHandler> handler) throws Exception {
        BackendServer backend = closeLater(sdkBackend(handler.get()));
        HandoffFixture broker = broker();
        BrokerClient client = broker.client();
        try (ServiceConnection warmUp = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(HandoffFixture.echo(warmUp.socket(), "warm")).isEqualTo("warm");
        }
        assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.openConnections() == 0, EVENT_WAIT))
                .as("the warm-up connection served and released before the baseline").isTrue();
        OpenDescriptors.Snapshot baseline = OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));

        for (int i = 0; i < 10; i++) {
            try (ServiceConnection connection = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
                assertThat(HandoffFixture.echo(connection.socket(), "n" + i)).isEqualTo("n" + i);
            }
        }
        assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.openConnections() == 0, EVENT_WAIT)).isTrue();
        OpenDescriptors.awaitAtMost(baseline, Duration.ofSeconds(3));
    }

    /** handed_off is reported after the broker released its descriptor (without shutdown). */
    private static void awaitReleased(HandoffFixture broker, ServiceConnection connection) {
        assertThat(broker.events().awaitEvent(connection.connectionId(), "handed_off", EVENT_WAIT)).isNotNull();
        assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.broker().server().openConnections() == 0,
                EVENT_WAIT)).as("the broker holds no client connection any more").isTrue();
    }

    @Test
    void sdkBackendAtCapacityRefusesTheHandoffAtOnceAndTheClientReconnects() throws Exception {
        BackendServer backend = closeLater(new BackendServer(pipe(), Optional.of(handoff()),
                new RecordingEchoHandler(), 1).start());
        HandoffFixture broker = broker();
        BrokerClient client = broker.client();

        ServiceConnection first = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION);
        try {
            assertThat(first.route()).isEqualTo(Route.HANDED_OFF);
            assertThat(HandoffFixture.echo(first.socket(), "first")).isEqualTo("first");
            long started = System.nanoTime();
            // The only slot is taken: the SDK refuses the offer, the broker relays the refusal, and the
            // client goes to backend_pipe, where it waits in the backlog until the slot frees.
            CompletableFuture<Void> freeTheSlot = CompletableFuture.runAsync(() -> {
                RecordingHandoffEvents.awaitTrue(() -> broker.events().fallbackCounts()
                        .containsKey(FallbackReason.BACKEND_REFUSED), EVENT_WAIT);
                try {
                    first.close();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, runnable -> Thread.ofPlatform().start(runnable));
            try (ServiceConnection second = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                assertThat(second.route()).isEqualTo(Route.RECONNECTED);
                assertThat(second.fallbackReason()).contains("backend at capacity");
                assertThat(Duration.ofNanos(System.nanoTime() - started))
                        .as("a refusal is relayed at once, not after the relay wait").isLessThan(broker.relayWait());
                assertThat(HandoffFixture.echo(second.socket(), "second")).isEqualTo("second");
            }
            // Rethrows what went wrong on that thread: a close that failed would leave the slot in doubt.
            freeTheSlot.get(EVENT_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } finally {
            first.close();
        }
        assertThat(broker.events().fallbackCounts()).containsEntry(FallbackReason.BACKEND_REFUSED, 1);
        assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.openConnections() == 0, EVENT_WAIT)).isTrue();
    }

    @ParameterizedTest
    @MethodSource("handlers")
    void closingTheBackendReleasesTheDescriptorsOfHandedOffConnectionsStillBeingServed(
            Supplier<ConnectionHandler> handler) throws Exception {
        BackendServer backend = sdkBackend(handler.get());
        HandoffFixture broker = broker();
        try (ServiceConnection warmUp = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(HandoffFixture.echo(warmUp.socket(), "warm")).isEqualTo("warm");
        }
        assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.openConnections() == 0, EVENT_WAIT)).isTrue();
        OpenDescriptors.Snapshot before = OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));

        ServiceConnection served = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION);
        assertThat(served.route()).isEqualTo(Route.HANDED_OFF);
        assertThat(HandoffFixture.echo(served.socket(), "open")).isEqualTo("open");
        served.socket().setSoTimeout(2_000); // a handler left blocked fails the read below instead of hanging it
        backend.close(); // shuts the connection down under its handler, even one blocked reading file streams
        assertThat(served.in().read()).as("the client sees the backend go").isEqualTo(-1);
        served.close();

        assertThat(RecordingHandoffEvents.awaitTrue(() -> OpenDescriptors.snapshot().newSince(before).isEmpty(),
                Duration.ofSeconds(3))).as("left open: %s", OpenDescriptors.snapshot().newSince(before)).isTrue();
    }

    /** Echoes, and records which way each connection reached it. */
    private static final class RecordingStreamEcho implements StreamHandler {

        final List<String> ways = new CopyOnWriteArrayList<>();
        private final EchoHandler echo = new EchoHandler();

        @Override
        public void serve(AFUNIXSocket connection) throws IOException {
            ways.add("socket");
            echo.serve(connection.getInputStream(), connection.getOutputStream());
        }

        @Override
        public void serve(InputStream in, OutputStream out) throws IOException {
            ways.add("streams");
            echo.serve(in, out);
        }
    }

    @Test
    void aHandedOffConnectionReachesAStreamHandlerAsStreamsAndAReconnectedOneAsASocket() throws Exception {
        RecordingStreamEcho handler = new RecordingStreamEcho();
        closeLater(sdkBackend(handler));
        HandoffFixture broker = broker();

        try (ServiceConnection handedOff = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(handedOff.route()).isEqualTo(Route.HANDED_OFF);
            assertThat(HandoffFixture.echo(handedOff.socket(), "over streams")).isEqualTo("over streams");
        }
        assertThat(handler.ways).containsExactly("streams");

        try (ServiceConnection reconnected = broker.clientWithoutHandoff()
                .connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(reconnected.route()).isEqualTo(Route.RECONNECTED);
            assertThat(HandoffFixture.echo(reconnected.socket(), "over a socket")).isEqualTo("over a socket");
        }
        assertThat(handler.ways).containsExactly("streams", "socket");
    }

    @Test
    void aStreamHandlersDescriptorIsMadeBlockingSoAClientThatTakesItsTimeIsStillServed() throws Exception {
        // The broker's copy is non-blocking and a passed descriptor shares that flag: left as it
        // came, the handler's first read would fail at once instead of waiting for the request.
        closeLater(sdkBackend(new EchoHandler()));
        HandoffFixture broker = broker();

        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
            Thread.sleep(300);
            assertThat(HandoffFixture.echo(connection.socket(), "late request")).isEqualTo("late request");
        }
    }

    @Test
    void aStreamHandlerClosingItsStreamsEndsTheConnectionButNeverFreesTheDescriptorUnderTheServer()
            throws Exception {
        CountDownLatch closedItsStreams = new CountDownLatch(1);
        CountDownLatch mayReturn = new CountDownLatch(1);
        StreamHandler closesEarly = (in, out) -> {
            int b = in.read();
            out.write(b);
            in.close(); // as try-with-resources around a reader and a writer would
            out.close();
            closedItsStreams.countDown();
            try {
                mayReturn.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        BackendServer backend = sdkBackend(closesEarly);
        HandoffFixture broker = broker();
        try (ServiceConnection served = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(served.route()).isEqualTo(Route.HANDED_OFF);
            served.socket().setSoTimeout(2_000);
            served.out().write(7);
            assertThat(served.in().read()).isEqualTo(7);
            assertThat(closedItsStreams.await(2, TimeUnit.SECONDS)).isTrue();
            assertThat(served.in().read()).as("closing the output ends the connection for the client")
                    .isEqualTo(-1);

            // Had the handler's close freed the descriptor, these would likely get its number, and
            // the server's close would shut them down in place of the connection it still tracks.
            AFUNIXSocketPair<AFUNIXSocketChannel> bystander = AFUNIXSocketPair.open();
            try (AFUNIXSocketChannel one = bystander.getSocket1(); AFUNIXSocketChannel two = bystander.getSocket2()) {
                backend.close();
                mayReturn.countDown();
                one.write(ByteBuffer.wrap(new byte[] {9}));
                ByteBuffer got = ByteBuffer.allocate(1);
                assertThat(two.read(got)).as("an unrelated socket is untouched by the server's close").isEqualTo(1);
            }
        } finally {
            mayReturn.countDown();
            backend.close();
        }
        assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.openConnections() == 0, EVENT_WAIT)).isTrue();
    }

    @Test
    void offerCarriesOneDescriptorTheAnnouncedTokenAndTheConnectionIdAsCorrelation() throws Exception {
        ScriptedHandoffBackend backend = closeLater(new ScriptedHandoffBackend(handoff()).start());
        closeLater(new BackendServer(pipe(), new RecordingEchoHandler(), 16).start());
        HandoffFixture broker = broker();

        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
            assertThat(HandoffFixture.echo(connection.socket(), "x")).isEqualTo("x");
            ScriptedHandoffBackend.Exchange exchange = backend.awaitExchange(1, EVENT_WAIT);
            assertThat(exchange).isNotNull();
            assertThat(exchange.descriptorCount).isEqualTo(1);
            assertThat(exchange.tokenBytes).hasSize(16)
                    .isEqualTo(connection.negotiated().getHandlePassedToken().toByteArray());
            assertThat(exchange.offer.getToken().toByteArray()).isEqualTo(exchange.tokenBytes);
            assertThat(exchange.offer.getHandleValue()).isZero();
            assertThat(exchange.offer.getServiceName()).isEqualTo(HandoffFixture.SERVICE);
            assertThat(exchange.offer.getCorrelationId()).isEqualTo(connection.connectionId()).isPositive();
            assertThat(exchange.frame.getRequestId()).isEqualTo(connection.connectionId());
            assertThat(exchange.frame.getKind()).isEqualTo(FrameKind.FRAME_KIND_REQUEST);
            assertThat(exchange.frame.getPayloadProtocol()).isEqualTo(WireProtocol.PAYLOAD_HANDOFF);
            assertThat(exchange.frame.getPayloadEncoding()).isEqualTo(PayloadEncoding.PAYLOAD_ENCODING_NONE);
            assertThat(exchange.frame.getEnvelopeVersion()).isEqualTo(1);
            assertThat(connection.negotiated().getServerCapabilities() & WireProtocol.CAP_HANDLE_PASSING)
                    .isEqualTo(1L);
            assertThat(connection.negotiated().getBackendPipe()).isEqualTo(pipe().toString());
        }
    }

    @Test
    void sequentialHandoffsAreServedByOnePooledControlConnection() throws Exception {
        ScriptedHandoffBackend backend = closeLater(new ScriptedHandoffBackend(handoff()).start());
        closeLater(new BackendServer(pipe(), new RecordingEchoHandler(), 16).start());
        HandoffFixture broker = broker();
        BrokerClient client = broker.client();

        for (int i = 0; i < 10; i++) {
            try (ServiceConnection connection = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                assertThat(connection.route()).as("handoff %d", i).isEqualTo(Route.HANDED_OFF);
                assertThat(HandoffFixture.echo(connection.socket(), "n" + i)).isEqualTo("n" + i);
            }
        }
        assertThat(backend.exchanges()).hasSize(10);
        assertThat(backend.controlConnectionsAccepted()).as("control connections dialled").isEqualTo(1);
        // handed_off is reported after the relay was written: the client may be done before it is recorded.
        assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.events().handedOff() == 10, EVENT_WAIT))
                .as("handed off: %s", broker.events()).isTrue();
        assertThat(broker.events().fallbackCounts()).isEmpty();
    }

    @Test
    void backendServerCreatesTheHandoffEndpointsDirectoryLikeItDoesForBackendPipe() throws Exception {
        Path ownDirectory = dir.resolve("h").resolve("ho.sock");
        try (BackendServer server = new BackendServer(pipe(), Optional.of(ownDirectory), new RecordingEchoHandler(), 4)
                .start()) {
            assertThat(Files.exists(ownDirectory)).isTrue();
        }
    }

    @Test
    void aBackendInAnotherProcessReceivesTheConnectionAndAnswersWithItsOwnPid() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path log = dir.resolve("child.log");
        child = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-Xshare:auto",
                "-XX:TieredStopAtLevel=1", "-Xmx64m", "-cp", System.getProperty("java.class.path"),
                PidEchoBackendMain.class.getName(), pipe().toString(), handoff().toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        // READY once both listeners accept: a socket file is there from the bind, before the listen.
        boolean up = RecordingHandoffEvents.awaitTrue(
                () -> !child.isAlive() || readQuietly(log).contains("READY "), Duration.ofSeconds(20));
        assertThat(up && child.isAlive()).as("child backend up; its output: %s", readQuietly(log)).isTrue();
        HandoffFixture broker = broker();

        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).as("child output: %s", readQuietly(log)).isEqualTo(Route.HANDED_OFF);
            connection.socket().setSoTimeout(5_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(connection.in(), StandardCharsets.UTF_8));
            assertThat(ask(connection, in, "pid?")).isEqualTo(Long.toString(child.pid()))
                    .isNotEqualTo(Long.toString(ProcessHandle.current().pid()));
            assertThat(ask(connection, in, "peer?")).isEqualTo(Long.toString(ProcessHandle.current().pid()));
            assertThat(ask(connection, in, "local?")).isEqualTo(broker.socketPath().toString());
            assertThat(ask(connection, in, "echo me")).isEqualTo("echo me");

            awaitReleased(broker, connection);
            assertThat(ask(connection, in, "after release")).isEqualTo("after release");
        }
    }

    private static String ask(ServiceConnection connection, BufferedReader in, String line) throws IOException {
        connection.out().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        connection.out().flush();
        return in.readLine();
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }
}
