package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.backend.StreamHandler;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RecordingHandoffEvents;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * A {@link StreamHandler} backend serves handed-off connections through file streams
 * on the descriptor, never a socket object: the descriptor made blocking, released
 * exactly once, and woken by the server's close like a socket.
 */
class StreamAdoptionTest {

    private static final Duration EVENT_WAIT = Duration.ofSeconds(3);

    @TempDir
    Path dir;

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
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
        closeLater(new BackendServer(pipe(), Optional.of(handoff()), handler, 16).start());
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
    void theAdoptedDescriptorIsMadeBlockingSoAClientThatTakesItsTimeIsStillServed() throws Exception {
        // The broker's copy is non-blocking and a passed descriptor shares that flag: left as it
        // came, the handler's first read would fail at once instead of waiting for the request.
        closeLater(new BackendServer(pipe(), Optional.of(handoff()), new EchoHandler(), 16).start());
        HandoffFixture broker = broker();

        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
            Thread.sleep(300);
            assertThat(HandoffFixture.echo(connection.socket(), "late request")).isEqualTo("late request");
        }
    }

    @Test
    void everyHandedOffConnectionsDescriptorIsReleasedWhenItsHandlerReturns() throws Exception {
        BackendServer backend = closeLater(new BackendServer(pipe(), Optional.of(handoff()), new EchoHandler(), 16)
                .start());
        HandoffFixture broker = broker();
        BrokerClient client = broker.client();
        try (ServiceConnection warmUp = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(HandoffFixture.echo(warmUp.socket(), "warm")).isEqualTo("warm");
        }
        RecordingHandoffEvents.awaitTrue(() -> backend.openConnections() == 0, EVENT_WAIT);
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

    @Test
    void closingTheBackendWakesAStreamHandlerBlockedReadingAndReleasesItsDescriptor() throws Exception {
        BackendServer backend = new BackendServer(pipe(), Optional.of(handoff()), new EchoHandler(), 16).start();
        HandoffFixture broker = broker();
        try (ServiceConnection warmUp = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(HandoffFixture.echo(warmUp.socket(), "warm")).isEqualTo("warm");
        }
        assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.openConnections() == 0, EVENT_WAIT)).isTrue();
        OpenDescriptors.Snapshot before = OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));

        ServiceConnection served = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION);
        assertThat(served.route()).isEqualTo(Route.HANDED_OFF);
        assertThat(HandoffFixture.echo(served.socket(), "open")).isEqualTo("open");
        assertThat(backend.openConnections()).isEqualTo(1);
        served.socket().setSoTimeout(2_000); // a handler left blocked fails the read below instead of hanging it
        backend.close(); // the handler is blocked reading its file stream
        assertThat(served.in().read()).as("the client sees the backend go").isEqualTo(-1);
        served.close();

        assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.openConnections() == 0, EVENT_WAIT)).isTrue();
        assertThat(RecordingHandoffEvents.awaitTrue(() -> OpenDescriptors.snapshot().newSince(before).isEmpty(),
                Duration.ofSeconds(3))).as("left open: %s", OpenDescriptors.snapshot().newSince(before)).isTrue();
    }
}
