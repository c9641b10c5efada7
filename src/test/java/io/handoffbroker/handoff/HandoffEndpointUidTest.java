package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.testing.RecordingHandoffEvents.EndpointRejection;
import io.handoffbroker.unix.PeerUidNotAllowedException;
import io.handoffbroker.unix.ProcessUser;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * A service that names the uids its handoff endpoint's listener may run as: a control
 * connection dialled to a listener of another uid is closed before anything is sent on it,
 * so the backend there never sees a token or a descriptor; the client is told at once and
 * reconnects ({@code permission_denied}), the dial is reported and logged. Tests run as
 * whatever user they run as (root, often): the mismatch is made by allowing a uid the test is
 * not, while the scripted backend listens as the test's own.
 */
@ExtendWith(OutputCaptureExtension.class)
class HandoffEndpointUidTest {

    private static final Duration WAIT = Duration.ofSeconds(2);
    private static final long OURS = ProcessUser.uid();
    private static final long STRANGER = OURS == 4242 ? 4243 : 4242;
    private static final long PID = ProcessHandle.current().pid();

    @TempDir
    Path dir;

    private ScriptedBackends backends;
    private ScriptedHandoffBackend backend;
    private HandoffFixture broker;

    @BeforeEach
    void startBackends() throws Exception {
        backends = ScriptedBackends.start(dir, 32);
        backend = backends.scripted();
    }

    @AfterEach
    void stop() {
        if (broker != null) {
            broker.close();
        }
        backends.close();
    }

    private HandoffFixture start(List<Long> allowedUids, UnaryOperator<HandoffFixture> configure) throws Exception {
        if (broker != null) {
            broker.close();
        }
        ServiceBackend service = backends.service().withHandoffEndpointUids(allowedUids);
        broker = configure.apply(new HandoffFixture(dir).service(service)).start();
        return broker;
    }

    @Test
    void aListenerOfAUidTheServiceDoesNotAllowGetsNoDescriptorAndTheClientReconnectsAtOnce(CapturedOutput output)
            throws Exception {
        start(List.of(STRANGER), f -> f.relayWait(Duration.ofSeconds(4)));
        long started = System.nanoTime();
        try (ServiceConnection connection = broker.client(Duration.ofSeconds(4)).connect(HandoffFixture.SERVICE,
                HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("told at once, not after the relay wait")
                    .isLessThan(Duration.ofSeconds(2));
            assertThat(connection.fallbackReason()).contains(PeerUidNotAllowedException.NOT_ALLOWED)
                    .doesNotContain(backends.handoffEndpoint().toString());
            assertThat(HandoffFixture.echo(connection.socket(), "via backend_pipe")).isEqualTo("via backend_pipe");
            assertThat(broker.events().awaitEvent(connection.connectionId(), "fallback", WAIT)).isNotNull();
            assertThat(broker.events().fallbackReasonsOf(connection.connectionId()))
                    .containsExactly(FallbackReason.PERMISSION_DENIED);
            assertThat(broker.events().ackResultsOf(connection.connectionId())).isEmpty();
        }
        // The broker's dial ends once the connection is queued; the backend's thread accepts it when it
        // next runs, which a loaded machine can put off past the client's end.
        assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.controlConnectionsAccepted() > 0, WAIT))
                .as("the broker dialled the endpoint").isTrue();
        assertThat(backend.controlConnectionsAccepted()).as("the broker dialled the endpoint once").isEqualTo(1);
        assertThat(backend.exchanges()).as("no token, no descriptor, no offer reached the backend").isEmpty();
        assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.openControlConnections() == 0, WAIT))
                .as("the broker closed the control connection").isTrue();
        assertThat(broker.orchestrator().pool().stats(backends.handoffEndpoint()))
                .as("nothing pooled").isEqualTo(new ControlConnectionPool.Stats(0, 0));
        assertThat(broker.orchestrator().pending().size()).isZero();
        assertThat(broker.events().endpointRejections())
                .containsExactly(new EndpointRejection("echo@1.2.3", OURS, PID));
        assertThat(warnings(output)).as(output.getOut()).singleElement().asString()
                .contains("handoff endpoint " + backends.handoffEndpoint() + " of echo@1.2.3")
                .contains("(pid " + PID + ") runs as uid " + OURS)
                .contains("[" + STRANGER + "]");

        // Allowed now: the same backend is handed the next client, on a connection checked once
        // when it was dialled and reused as it is.
        start(List.of(STRANGER, OURS), f -> f);
        int acceptedBefore = backend.controlConnectionsAccepted();
        broker.assertHandsOff("first", WAIT);
        broker.assertHandsOff("second", WAIT);
        broker.assertHandsOff("third", WAIT);
        assertThat(backend.controlConnectionsAccepted() - acceptedBefore).as("one dial for three handoffs")
                .isEqualTo(1);
        assertThat(broker.events().endpointRejections()).isEmpty();
    }

    @Test
    void everyRefusedDialIsCountedAndWarnedAboutAtMostOnceInTenSeconds(CapturedOutput output) throws Exception {
        // Pre-dialled connections are refused like a handoff's own dial: none is ever pooled.
        start(List.of(STRANGER), f -> f.pool(new PoolSettings(8, 2, Duration.ofMillis(250), Duration.ofMillis(250),
                Duration.ofMinutes(1))));
        broker.orchestrator().pool().prepareAll();
        assertThat(broker.orchestrator().pool().stats(backends.handoffEndpoint()).idle()).isZero();
        int predialsRefused = broker.events().endpointRejections().size();
        assertThat(predialsRefused).isPositive();
        for (int i = 0; i < 3; i++) {
            try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE,
                    HandoffFixture.VERSION)) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                assertThat(broker.events().awaitEvent(connection.connectionId(), "fallback", WAIT)).isNotNull();
            }
        }
        assertThat(broker.events().fallbacks(FallbackReason.PERMISSION_DENIED)).isEqualTo(3);
        assertThat(broker.events().endpointRejections()).hasSize(predialsRefused + 3)
                .allSatisfy(r -> assertThat(r).isEqualTo(new EndpointRejection("echo@1.2.3", OURS, PID)));
        assertThat(backend.exchanges()).isEmpty();
        assertThat(warnings(output)).as(output.getOut()).hasSize(1);
    }

    @Test
    void anEndpointWithNoUidsNamedTakesAListenerOfAnyUid() throws Exception {
        start(List.of(), f -> f);
        broker.assertHandsOff("unpinned", WAIT);
        assertThat(broker.events().endpointRejections()).isEmpty();
    }

    private static List<String> warnings(CapturedOutput output) {
        return output.getOut().lines().filter(line -> line.contains("WARN")
                && line.contains("control connection(s) closed unused")).toList();
    }
}
