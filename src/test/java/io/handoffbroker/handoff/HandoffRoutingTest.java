package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.FrozenListener;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Hello;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which route the orchestrator picks before any offer is sent, and what it leaves
 * behind: an ineligible client gets Negotiated without a token and reconnects, with
 * the fallback reason recorded and nothing offered to the backend.
 */
class HandoffRoutingTest {

    private static final Duration WAIT = Duration.ofSeconds(2);

    @TempDir
    Path dir;

    private ScriptedBackends backends;
    private ScriptedHandoffBackend backend;
    private BackendServer fallback;
    private HandoffFixture broker;

    @BeforeEach
    void startBackends() throws Exception {
        backends = ScriptedBackends.start(dir, 32);
        backend = backends.scripted();
        fallback = backends.fallback();
    }

    @AfterEach
    void stop() {
        if (broker != null) {
            broker.close();
        }
        backends.close();
    }

    private HandoffFixture start(ServiceBackend service, UnaryOperator<HandoffFixture> configure) throws Exception {
        broker = configure.apply(new HandoffFixture(dir).service(service)).start();
        return broker;
    }

    private void assertReconnectsWithoutAnOffer(ServiceConnection connection, String reason) throws Exception {
        assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
        assertThat(connection.negotiated().getHandlePassedToken().isEmpty()).isTrue();
        assertThat(connection.negotiated().getServerCapabilities() & WireProtocol.CAP_HANDLE_PASSING).isZero();
        assertThat(HandoffFixture.echo(connection.socket(), "via backend_pipe")).isEqualTo("via backend_pipe");
        RecordingHandoffEvents.Event event = broker.events().awaitEvent(connection.connectionId(), "fallback", WAIT);
        assertThat(event).isNotNull();
        assertThat(broker.events().fallbackReasonsOf(connection.connectionId())).containsExactly(reason);
        assertThat(broker.events().ackResultsOf(connection.connectionId())).isEmpty();
        assertThat(backend.exchanges()).isEmpty();
        assertThat(broker.orchestrator().pending().size()).isZero();
    }

    @Test
    void aDeliveryWhoseDeadlinePassedBeforeItsDescriptorWentOutTellsTheClientAtOnceAndOffersNothing()
            throws Exception {
        // No idle control connection, so the delivery goes to a worker, which finds the
        // (one-nanosecond) ACK deadline already passed.
        start(backends.service(), f -> f.ackDeadline(Duration.ofNanos(1)));
        long started = System.nanoTime();
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(connection.fallbackReason()).contains("deadline passed before the descriptor");
            assertThat(Duration.ofNanos(System.nanoTime() - started))
                    .as("told at once, not after the relay wait").isLessThan(Duration.ofMillis(500));
            assertThat(HandoffFixture.echo(connection.socket(), "via backend_pipe")).isEqualTo("via backend_pipe");
            assertThat(broker.events().awaitEvent(connection.connectionId(), "fallback", WAIT)).isNotNull();
            assertThat(broker.events().fallbackReasonsOf(connection.connectionId()))
                    .containsExactly(FallbackReason.FD_PRESSURE);
        }
        assertThat(backend.exchanges()).as("no descriptor was offered").isEmpty();
        assertThat(broker.orchestrator().pending().size()).isZero();
    }

    @Test
    void aHandoffEndpointThatDoesNotAcceptIsGivenUpAtTheAckDeadlineNotAfterTheDialTimeout() throws Exception {
        // The endpoint's backlog is full: the worker's dial would wait out its 5 s timeout, far
        // past the 200 ms ACK deadline, and the client its 4 s relay wait.
        Path frozenEndpoint = dir.resolve("frozen").resolve("ho.sock");
        Files.createDirectories(frozenEndpoint.getParent());
        try (FrozenListener frozen = FrozenListener.at(frozenEndpoint)) {
            start(HandoffFixture.handoffService(backends.pipe(), frozenEndpoint), f -> f.ackDeadline(Duration.ofMillis(200))
                    .relayWait(Duration.ofSeconds(4))
                    .pool(new PoolSettings(8, 0, Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofMinutes(1))));
            long started = System.nanoTime();
            try (ServiceConnection connection = broker.client(Duration.ofSeconds(4)).connect(HandoffFixture.SERVICE,
                    HandoffFixture.VERSION)) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                // The socket library's message names the endpoint; the client is not told where.
                assertThat(connection.fallbackReason()).contains("does not accept")
                        .doesNotContain(frozenEndpoint.toString());
                assertThat(Duration.ofNanos(System.nanoTime() - started)).as("told at the deadline")
                        .isLessThan(Duration.ofSeconds(2));
                assertThat(HandoffFixture.echo(connection.socket(), "via backend_pipe")).isEqualTo("via backend_pipe");
                assertThat(broker.events().awaitEvent(connection.connectionId(), "fallback", WAIT)).isNotNull();
                assertThat(broker.events().fallbackReasonsOf(connection.connectionId()))
                        .containsExactly(FallbackReason.BACKEND_UNAVAILABLE);
            }
            assertThat(broker.orchestrator().pending().size()).isZero();
        }
    }

    @Test
    void aClientGoneBeforeItsNegotiatedWasWrittenTookNoRouteEvenWithoutAHandoffOffered() throws Exception {
        // At the connection limit the second client waits in the backlog: it sends its Hello and
        // closes before the broker reads it, so the Negotiated cannot be written.
        start(backends.service(), f -> f.broker(b -> b.maxConnections(1)));
        try (RawClient holder = RawClient.connect(broker.socketPath())) {
            assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.broker().server().openConnections() == 1, WAIT))
                    .as("the first client admitted").isTrue();
            try (RawClient gone = RawClient.connect(broker.socketPath())) {
                gone.send(RawClient.helloFrame(RawClient.hello(HandoffFixture.SERVICE, HandoffFixture.VERSION), 1));
            }
        }
        assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.broker().server().connectionsAccepted() == 2
                && broker.broker().server().openConnections() == 0, WAIT)).as("both connections handled").isTrue();
        assertThat(broker.events().all()).as("no route counted for a client that never read its reply").isEmpty();
    }

    @Test
    void aClientWithoutTheCapabilityReconnects() throws Exception {
        start(backends.service(), f -> f);
        try (ServiceConnection connection = broker.clientWithoutHandoff().connect(HandoffFixture.SERVICE,
                HandoffFixture.VERSION)) {
            assertReconnectsWithoutAnOffer(connection, FallbackReason.CLIENT_UNSUPPORTED);
            assertThat(connection.fallbackReason()).isEmpty();
        }
    }

    @Test
    void handoffSwitchedOffSendsEveryClientToBackendPipe() throws Exception {
        start(backends.service(), f -> f.enabled(false));
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertReconnectsWithoutAnOffer(connection, FallbackReason.SERVICE_POLICY_DISABLED);
            assertThat(connection.fallbackReason()).isEqualTo("broker did not offer a handoff");
        }
    }

    @Test
    void aServiceWithoutAHandoffEndpointIsNeverOffered() throws Exception {
        start(ServiceBackend.reconnectOnly(HandoffFixture.SERVICE, HandoffFixture.VERSION, backends.pipe()), f -> f);
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertReconnectsWithoutAnOffer(connection, FallbackReason.SERVICE_POLICY_DISABLED);
        }
    }

    @Test
    void aHandoffEndpointThatFailedItsProbeIsNotTried() throws Exception {
        start(backends.service(), f -> f.handoffEndpointUp(b -> false));
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertReconnectsWithoutAnOffer(connection, FallbackReason.BACKEND_UNAVAILABLE);
        }
    }

    @Test
    void handoffsWaitingForABusyControlConnectionAreTheBrokersPressureNotTheBackendsFailure() throws Exception {
        // One control connection, a 100 ms wait for it, and a healthy backend that takes 300 ms to
        // ACK: of three clients at once, two wait out the pool. Counted against the backend, two
        // such waits would have it skipped (rate_limited) with a limit of two failures.
        backend.byDefault(ScriptedHandoffBackend.answerAfter(Duration.ofMillis(300)));
        start(backends.service(), f -> f.failedAttempts(2, Duration.ofMinutes(1)).ackDeadline(Duration.ofSeconds(2))
                .relayWait(Duration.ofSeconds(3))
                .pool(new PoolSettings(1, 0, Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofMinutes(1))));
        List<Future<ServiceConnection>> clients = new ArrayList<>();
        List<Long> ids = new ArrayList<>();
        try (ExecutorService atOnce = Executors.newFixedThreadPool(3)) {
            for (int i = 0; i < 3; i++) {
                clients.add(atOnce.submit(() -> broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)));
            }
            for (Future<ServiceConnection> client : clients) {
                try (ServiceConnection connection = client.get(10, TimeUnit.SECONDS)) {
                    ids.add(connection.connectionId());
                }
            }
        }
        // The broker reports a client's route after it told the client (a refusal is relayed and the
        // connection closed first): a client can be done before its route is counted.
        assertThat(RecordingHandoffEvents.awaitTrue(() -> ids.stream().allMatch(id -> broker.events().of(id).stream()
                .anyMatch(e -> e.kind().equals("fallback") || e.kind().equals("handed_off"))), WAIT))
                .as("every client's route reported: %s", broker.events()).isTrue();
        assertThat(broker.events().fallbacks(FallbackReason.FD_PRESSURE)).as("%s", broker.events()).isPositive();
        assertThat(broker.events().fallbacks(FallbackReason.BACKEND_UNAVAILABLE)).isZero();
        try (ServiceConnection later = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(later.route()).as(later.fallbackReason()).isEqualTo(Route.HANDED_OFF);
        }
        assertThat(broker.events().fallbacks(FallbackReason.RATE_LIMITED)).isZero();
    }

    @Test
    void aHandoffEndpointWhoseProbeWasRefusedForLackOfPermissionIsPermissionDenied() throws Exception {
        // The prober's message for a connect the system refused with EACCES (as junixsocket reports it).
        start(backends.service(), f -> f.handoffEndpoint(b -> "SocketException: Permission denied"));
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertReconnectsWithoutAnOffer(connection, FallbackReason.PERMISSION_DENIED);
        }
    }

    @Test
    void aHandoffEndpointThatIsGoneMakesTheBrokerTellTheClientAtOnce() throws Exception {
        start(backends.service(), f -> f);
        backend.crash();
        long started = System.nanoTime();
        try (ServiceConnection connection = broker.client(Duration.ofSeconds(5)).connect(HandoffFixture.SERVICE,
                HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(1));
            assertThat(HandoffFixture.echo(connection.socket(), "x")).isEqualTo("x");
            assertThat(broker.events().awaitEvent(connection.connectionId(), "fallback", WAIT).value())
                    .isEqualTo(FallbackReason.BACKEND_UNAVAILABLE);
        }
        assertThat(broker.orchestrator().pending().size()).isZero();
    }

    @Test
    void tokenOfAClientThatHangsUpBeforeItsNegotiatedIsWrittenDoesNotStayPending() throws Exception {
        // Token rules: revoked on every failure path. One connection holds the broker's only slot, so
        // the next clients wait in the listen backlog; they send their Hello and hang up there. When the
        // slot frees, the broker reads each Hello, issues a token and fails to write the Negotiated.
        start(backends.service(), f -> f.broker(b -> b.maxConnections(1)));
        Hello hello = RawClient.hello(HandoffFixture.SERVICE, HandoffFixture.VERSION).toBuilder()
                .setClientCapabilities(WireProtocol.CAP_HANDLE_PASSING).build();
        RawClient holder = broker.broker().connect();
        assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.broker().server().openConnections() == 1, WAIT))
                .isTrue();
        for (int i = 0; i < 5; i++) {
            try (RawClient client = broker.broker().connect()) {
                client.send(RawClient.helloFrame(hello, i + 1));
            }
        }
        holder.close();
        assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.broker().server().connectionsAccepted() == 6
                && broker.broker().server().openConnections() == 0, WAIT)).as("backlog served").isTrue();

        // Long after every ACK deadline and grace period, far before the 30 s token TTL.
        Duration settle = broker.ackDeadline().plus(broker.ackGrace()).plusSeconds(1);
        boolean drained = RecordingHandoffEvents.awaitTrue(() -> broker.orchestrator().pending().size() == 0,
                settle);
        assertThat(drained).as("tokens still pending: %d; offers sent %d; events %s",
                broker.orchestrator().pending().size(), backend.exchanges().size(), broker.events()).isTrue();
        assertThat(backend.exchanges()).as("no offer for a client that never got its token").isEmpty();
        assertThat(broker.events().handedOff()).isZero();
        backend.releaseHeldDescriptors();
    }
}
