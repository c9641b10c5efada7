package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.DescriptorExhaustion;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A scriptable fake backend at the handoff endpoint misbehaves in one exchange; a
 * real SDK backend serves {@code backend_pipe}. For every fault: the client ends on
 * a working connection by the right route and in bounded time, the broker records
 * exactly the expected ACK result and fallback reason, the next handoff to the
 * (now well-behaved) backend succeeds, and the broker's descriptors return to their
 * baseline.
 */
class HandoffFaultInjectionTest {

    /** Scheduling slack on a loaded 2-CPU machine, on top of every protocol bound. */
    private static final Duration MARGIN = Duration.ofMillis(1_000);
    // The broker's ACK deadline bounds every handoff here, the well-behaved ones too (each test's
    // warm-up, with its cold dial, and the handoff after the fault): it gets the same slack.
    private static final Duration ACK_DEADLINE = MARGIN;
    private static final Duration ACK_GRACE = Duration.ofMillis(1_000);
    // The client outwaits the deadline, so an abandoned handoff is the broker's verdict, not the client's.
    private static final Duration RELAY_WAIT = ACK_DEADLINE.plusMillis(500);
    /** An ACK after the deadline, within the grace period. */
    private static final Duration LATE_ANSWER = ACK_DEADLINE.plus(ACK_GRACE.dividedBy(2));
    private static final Duration DESCRIPTOR_WAIT = Duration.ofSeconds(5);
    // A client of its own, off the common pool, which the test's other waits must not share.
    private static final Executor OWN_THREAD = runnable -> Thread.ofPlatform().start(runnable);

    @TempDir
    Path dir;

    private ScriptedBackends backends;
    private ScriptedHandoffBackend backend;
    private RecordingEchoHandler fallbackHandler;
    private BackendServer fallback;
    private HandoffFixture broker;

    @BeforeEach
    void startBackends() throws Exception {
        backends = ScriptedBackends.start(dir, 64);
        backend = backends.scripted();
        fallbackHandler = backends.fallbackHandler();
        fallback = backends.fallback();
    }

    private HandoffFixture startBroker(UnaryOperator<HandoffFixture> configure) throws Exception {
        broker = configure.apply(new HandoffFixture(dir).service(backends.service()).ackDeadline(ACK_DEADLINE)
                .ackGrace(ACK_GRACE).relayWait(RELAY_WAIT)).start();
        return broker;
    }

    private HandoffFixture startBroker() throws Exception {
        return startBroker(f -> f);
    }

    @AfterEach
    void stopAll() {
        if (broker != null) {
            broker.close();
        }
        backends.close();
    }

    /** One misbehaviour and what the broker must make of it. */
    record Fault(String name, ScriptedHandoffBackend.Behaviour behaviour, AckResult ackResult, String reason,
            boolean backendKeepsDescriptor) {
        @Override
        public String toString() {
            return name + " -> " + ackResult.label() + "/" + reason;
        }
    }

    static Stream<Fault> faults() {
        return Stream.of(
                new Fault("backend that never answers", ScriptedHandoffBackend.neverAnswer(), AckResult.MISSING,
                        FallbackReason.BACKEND_ACK_TIMEOUT, true),
                new Fault("backend that answers after the deadline, within the grace period",
                        ScriptedHandoffBackend.answerAfter(LATE_ANSWER), AckResult.LATE,
                        FallbackReason.BACKEND_ACK_TIMEOUT, true),
                new Fault("backend whose late ACK is longer than any ACK needs",
                        ScriptedHandoffBackend.answerAfter(LATE_ANSWER,
                                a -> a.setErrorDetail("x".repeat(WireProtocol.MAX_HANDOFF_BODY))),
                        AckResult.LATE, FallbackReason.BACKEND_ACK_TIMEOUT, true),
                new Fault("backend that echoes another token",
                        ScriptedHandoffBackend.ackWith(a -> a.setToken(ByteString.copyFrom(new byte[16]))),
                        AckResult.TOKEN_MISMATCH, FallbackReason.ACK_MISMATCH, true),
                new Fault("backend that echoes a truncated token",
                        ScriptedHandoffBackend.ackWith(a -> a.setToken(a.getToken().substring(0, 15))),
                        AckResult.TOKEN_MISMATCH, FallbackReason.ACK_MISMATCH, true),
                new Fault("backend whose ACK carries another correlation_id",
                        ScriptedHandoffBackend.ackWith(a -> a.setCorrelationId(a.getCorrelationId() + 1)),
                        AckResult.CORRELATION_MISMATCH, FallbackReason.ACK_MISMATCH, true),
                new Fault("backend whose ACK frame carries another request_id",
                        ScriptedHandoffBackend.ackWithRequestId(1), AckResult.CORRELATION_MISMATCH,
                        FallbackReason.ACK_MISMATCH, true),
                new Fault("backend that writes garbage instead of a frame", ScriptedHandoffBackend.garbage(),
                        AckResult.MALFORMED, FallbackReason.ACK_MISMATCH, true),
                new Fault("backend whose ACK is longer than any ACK needs",
                        ScriptedHandoffBackend.ackWith(
                                a -> a.setErrorDetail("x".repeat(WireProtocol.MAX_HANDOFF_BODY))),
                        AckResult.MALFORMED, FallbackReason.ACK_MISMATCH, true),
                new Fault("backend whose ACK is a REQUEST frame",
                        ScriptedHandoffBackend.ackInFrame(f -> f.setKind(FrameKind.FRAME_KIND_REQUEST)),
                        AckResult.MALFORMED, FallbackReason.ACK_MISMATCH, true),
                new Fault("backend whose ACK payload does not decode",
                        ScriptedHandoffBackend.ackInFrame(f -> f.setPayload(ByteString.copyFrom(new byte[] {0x0A, 0x7F}))),
                        AckResult.MALFORMED, FallbackReason.ACK_MISMATCH, true),
                new Fault("backend that closes the control connection before answering",
                        ScriptedHandoffBackend.closeControl(), AckResult.MISSING, FallbackReason.BACKEND_UNAVAILABLE,
                        false),
                new Fault("backend that closes the control connection in the middle of its ACK",
                        ScriptedHandoffBackend.closeInTheMiddleOfTheAck(), AckResult.MISSING,
                        FallbackReason.BACKEND_UNAVAILABLE, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("faults")
    void clientFallsBackToAWorkingConnectionTheVerdictIsExactAndTheNextHandoffSucceeds(Fault fault) throws Exception {
        startBroker();
        OpenDescriptors.Snapshot baseline = warmUp();
        backend.then(fault.behaviour());

        long started = System.nanoTime();
        long id;
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            id = connection.connectionId();
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(took).as("time to a working connection")
                    .isLessThan(broker.ackDeadline().plus(broker.relayWait()).plus(MARGIN));
            if (fault.backendKeepsDescriptor()) {
                // The broker said nothing more to the client (ownership is ambiguous): the client only
                // gave up when its relay wait ended.
                assertThat(connection.fallbackReason()).isEqualTo("no relay within " + RELAY_WAIT.toMillis() + " ms");
            } else {
                assertThat(connection.fallbackReason()).startsWith("relay not received");
            }
            assertThat(HandoffFixture.echo(connection.socket(), "after the fault")).isEqualTo("after the fault");
        }
        assertThat(fallbackHandler.servedOn(backends.pipe().toString())).isEqualTo(1);
        Duration verdictWait = broker.ackDeadline().plus(broker.ackGrace()).plus(MARGIN);
        if (fault.backendKeepsDescriptor()) {
            // The backend holds what it kept only once its answer is sent, which for a late answer is
            // about when the client's relay wait ends: released before then, it would stay open.
            assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.heldDescriptors() == 1, verdictWait))
                    .as("the descriptor the backend kept").isTrue();
        }
        backend.releaseHeldDescriptors();

        RecordingHandoffEvents events = broker.events();
        RecordingHandoffEvents.Event fallbackEvent = events.awaitEvent(id, "fallback", verdictWait);
        RecordingHandoffEvents.Event ackEvent = events.awaitEvent(id, "ack", verdictWait);
        assertThat(fallbackEvent).as("fallback of connection %d; all: %s", id, events.all()).isNotNull();
        assertThat(ackEvent).as("ACK result of connection %d; all: %s", id, events.all()).isNotNull();
        assertThat(events.ackResultsOf(id)).containsExactly(fault.ackResult());
        assertThat(events.fallbackReasonsOf(id)).containsExactly(fault.reason());
        assertThat(events.wasHandedOff(id)).isFalse();
        assertThat(broker.orchestrator().pending().size()).as("tokens left pending").isZero();
        if (fault.reason().equals(FallbackReason.BACKEND_ACK_TIMEOUT)) {
            // The deadline bounds the broker's wait: it abandons the handoff at the deadline ...
            assertThat(Duration.ofNanos(fallbackEvent.atNanos() - started)).as("abandoned after")
                    .isGreaterThanOrEqualTo(broker.ackDeadline().minusMillis(5))
                    .isLessThan(broker.ackDeadline().plus(MARGIN));
            // ... and only the watcher decides late versus missing, during the grace period.
            if (fault.ackResult() == AckResult.MISSING) {
                assertThat(Duration.ofNanos(ackEvent.atNanos() - fallbackEvent.atNanos())).as("missing decided after")
                        .isGreaterThanOrEqualTo(broker.ackGrace().minusMillis(20));
            }
        }

        assertNextHandoffSucceeds();
        OpenDescriptors.awaitAtMost(baseline, DESCRIPTOR_WAIT);
    }

    @Test
    void aRelayThatCannotBeWrittenNeverHoldsTheEventLoop() throws Exception {
        startBroker();
        warmUp(); // a control connection is pooled: the next handoff concludes on the event loop
        backend.then(ScriptedHandoffBackend.fillTheClientMakeItBlockingThenAccept());
        Hello wantsHandoff = RawClient.hello(HandoffFixture.SERVICE, HandoffFixture.VERSION).toBuilder()
                .setClientCapabilities(WireProtocol.CAP_HANDLE_PASSING).build();
        try (RawClient stalled = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
            stalled.send(RawClient.helloFrame(wantsHandoff, 1)); // and never reads
            ScriptedHandoffBackend.Exchange exchange = backend.awaitExchange(2, MARGIN);
            assertThat(exchange).as("the stalled client's offer").isNotNull();
            try {
                assertThat(RecordingHandoffEvents.awaitTrue(
                        () -> broker.events().ackResults(AckResult.ACCEPTED) == 2, MARGIN))
                        .as("the ACK concluded while the client reads nothing: %s", broker.events()).isTrue();
                // The loop is free: another client is answered while the first still reads nothing.
                try (RawClient next = RawClient.connect(broker.socketPath(), Duration.ofSeconds(2))) {
                    assertThat(next.hello(RawClient.hello(HandoffFixture.SERVICE, HandoffFixture.VERSION))
                            .hasNegotiated()).isTrue();
                }
            } finally {
                exchange.releaseDescriptors();
            }
        }
    }

    @Test
    void explicitRefusalRelaysAtOnceAndKeepsTheControlConnection() throws Exception {
        startBroker();
        OpenDescriptors.Snapshot baseline = warmUp();
        backend.then(ScriptedHandoffBackend.refuse("scripted refusal"));
        // A patient client: the refusal must reach it long before its relay wait would end.
        BrokerClient patient = broker.client(Duration.ofSeconds(5));

        long started = System.nanoTime();
        long id;
        try (ServiceConnection connection = patient.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            id = connection.connectionId();
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(connection.fallbackReason()).isEqualTo("scripted refusal");
            assertThat(took).as("time to a working connection").isLessThan(MARGIN);
            assertThat(HandoffFixture.echo(connection.socket(), "refused")).isEqualTo("refused");
        }

        RecordingHandoffEvents events = broker.events();
        assertThat(events.awaitEvent(id, "fallback", MARGIN)).isNotNull();
        assertThat(events.ackResultsOf(id)).containsExactly(AckResult.REFUSED);
        assertThat(events.fallbackReasonsOf(id)).containsExactly(FallbackReason.BACKEND_REFUSED);
        assertThat(broker.orchestrator().pending().size()).isZero();

        assertNextHandoffSucceeds();
        // A well-formed refusal leaves the stream clean: warm-up, refusal and the next handoff share one.
        assertThat(backend.controlConnectionsAccepted()).isEqualTo(1);
        OpenDescriptors.awaitAtMost(baseline, DESCRIPTOR_WAIT);
    }

    @Test
    void aSilentBackendWhoseEndpointIsGoneByTheDeadlineStillGetsItsVerdict() throws Exception {
        // Freeing the pool slot of an abandoned control connection must not dial (it would, on the
        // event loop, and the failed dial used to close the connection the late-ACK watcher owns).
        startBroker();
        OpenDescriptors.Snapshot baseline = warmUp();
        // Holds the descriptor, never answers, and takes its endpoint away well before the deadline.
        backend.then(exchange -> backend.stopListening());

        long id;
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            id = connection.connectionId();
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(HandoffFixture.echo(connection.socket(), "silent")).isEqualTo("silent");
        }
        RecordingHandoffEvents events = broker.events();
        Duration verdictWait = broker.ackDeadline().plus(broker.ackGrace()).plus(MARGIN);
        assertThat(events.awaitEvent(id, "ack", verdictWait)).as("events: %s", events.all()).isNotNull();
        assertThat(events.ackResultsOf(id)).containsExactly(AckResult.MISSING);
        assertThat(events.fallbackReasonsOf(id)).containsExactly(FallbackReason.BACKEND_ACK_TIMEOUT);
        assertThat(broker.orchestrator().pending().size()).isZero();
        backend.releaseHeldDescriptors();
        backend.crash();
        OpenDescriptors.awaitAtMost(baseline, DESCRIPTOR_WAIT);
    }

    @Test
    void aBugInTheMiddleOfConcludingAHandoffLeavesNoConnectionSlotOrTokenBehind() throws Exception {
        // An events listener that fails while the REFUSED verdict is being applied, before the
        // client was told or closed: the guard must release the connection and revoke the token.
        startBroker(f -> f.alsoReportTo(new HandoffEvents() {
            @Override
            public void ackResult(ServiceBackend backend, long connectionId, AckResult result) {
                if (result == AckResult.REFUSED) {
                    throw new IllegalStateException("injected failure");
                }
            }
        }));
        OpenDescriptors.Snapshot baseline = warmUp();
        backend.then(ScriptedHandoffBackend.refuse("scripted refusal"));

        long id;
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            id = connection.connectionId();
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(HandoffFixture.echo(connection.socket(), "after a bug")).isEqualTo("after a bug");
        }
        RecordingHandoffEvents events = broker.events();
        assertThat(events.awaitEvent(id, "fallback", MARGIN)).as("events: %s", events.all()).isNotNull();
        assertThat(broker.orchestrator().pending().size()).isZero();
        assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.broker().server().openConnections() == 0, MARGIN))
                .as("the connection's slot is free").isTrue();
        assertNextHandoffSucceeds();
        OpenDescriptors.awaitAtMost(baseline, DESCRIPTOR_WAIT);
    }

    @Test
    void backendThatCrashesMidExchangeAndComesBackIsHandedConnectionsAgain() throws Exception {
        startBroker();
        OpenDescriptors.Snapshot baseline = warmUp();
        backend.then(exchange -> {
            exchange.releaseDescriptors();
            backend.crash();
        });

        long id;
        long started = System.nanoTime();
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            id = connection.connectionId();
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(Duration.ofNanos(System.nanoTime() - started))
                    .isLessThan(broker.ackDeadline().plus(broker.relayWait()).plus(MARGIN));
            assertThat(HandoffFixture.echo(connection.socket(), "crash")).isEqualTo("crash");
        }
        RecordingHandoffEvents events = broker.events();
        assertThat(events.awaitEvent(id, "ack", MARGIN)).isNotNull();
        assertThat(events.awaitEvent(id, "fallback", MARGIN)).isNotNull();
        assertThat(events.ackResultsOf(id)).containsExactly(AckResult.MISSING);
        assertThat(events.fallbackReasonsOf(id)).containsExactly(FallbackReason.BACKEND_UNAVAILABLE);

        // While it is down nothing reaches it: the broker still owns the connection and says so at once.
        BrokerClient patient = broker.client(Duration.ofSeconds(5));
        started = System.nanoTime();
        long whileDown;
        try (ServiceConnection connection = patient.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            whileDown = connection.connectionId();
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(MARGIN);
            // What failed, but not where: the endpoint's path is for the operator's log.
            assertThat(connection.fallbackReason()).contains("no control connection")
                    .doesNotContain(backends.handoffEndpoint().toString());
            assertThat(HandoffFixture.echo(connection.socket(), "down")).isEqualTo("down");
        }
        RecordingHandoffEvents.Event fellBack = events.awaitEvent(whileDown, "fallback", MARGIN);
        assertThat(fellBack).isNotNull();
        assertThat(fellBack.detail()).contains(backends.handoffEndpoint().toString());
        assertThat(events.fallbackReasonsOf(whileDown)).containsExactly(FallbackReason.BACKEND_UNAVAILABLE);
        assertThat(events.ackResultsOf(whileDown)).as("never reached the ACK stage").isEmpty();

        backend.start();
        assertNextHandoffSucceeds();
        assertThat(broker.orchestrator().pending().size()).isZero();
        OpenDescriptors.awaitAtMost(baseline, DESCRIPTOR_WAIT);
    }

    @Test
    void aWorkerWaitingForTheOnlyControlConnectionGetsAFreshOneWhenItIsDiscarded() throws Exception {
        // One control connection at most, and a borrow that would wait long: the second client's
        // delivery waits for it while the first exchange ends with the backend closing it.
        startBroker(f -> f.ackDeadline(Duration.ofSeconds(2))
                .pool(new PoolSettings(1, 0, Duration.ofSeconds(3), Duration.ofMillis(250), Duration.ofSeconds(30))));
        backend.then(exchange -> {
            sleepQuietly(Duration.ofMillis(300));
            exchange.closeControl();
        });
        BrokerClient client = broker.client();
        CompletableFuture<Void> first = CompletableFuture.runAsync(() -> {
            try (ServiceConnection ignored = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                // Its handoff ends ambiguous; it reconnects after its relay wait.
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, OWN_THREAD);
        // The second client comes while the first exchange holds the only connection (300 ms).
        assertThat(backend.awaitExchange(1, MARGIN)).as("the first handoff holds the control connection").isNotNull();
        try (ServiceConnection second = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(second.route()).as("%s", second.fallbackReason()).isEqualTo(Route.HANDED_OFF);
            assertThat(HandoffFixture.echo(second.socket(), "second")).isEqualTo("second");
        }
        // Rethrows what went wrong on the first client's thread: it must end connected too.
        first.get(5_000, TimeUnit.MILLISECONDS);
        assertThat(backend.controlConnectionsAccepted()).isEqualTo(2);
    }

    private static void sleepQuietly(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void backendThatRestartsBetweenHandoffsIsInvisibleToTheNextClient() throws Exception {
        startBroker();
        OpenDescriptors.Snapshot baseline = warmUp();
        backend.crash();
        backend.start();
        // The pooled connection to the old process is dead; the pool must not hand it out.
        assertNextHandoffSucceeds();
        assertThat(backend.controlConnectionsAccepted()).isEqualTo(2);
        assertThat(broker.events().fallbackCounts()).isEmpty();
        OpenDescriptors.awaitAtMost(baseline, DESCRIPTOR_WAIT);
    }

    @Test
    void aControlConnectionLeftWithAStrayFrameIsNeverReused() throws Exception {
        startBroker();
        OpenDescriptors.Snapshot baseline = warmUp();
        backend.then(ScriptedHandoffBackend.acceptAndAckTwice());
        // The handoff itself succeeds: the first ACK is timely and correct.
        assertNextHandoffSucceeds();
        // The stray second ACK must not answer the next offer: the pool drops that connection and dials.
        assertNextHandoffSucceeds();
        assertThat(backend.controlConnectionsAccepted()).isEqualTo(2);
        // One spoilt connection is not a backend that closes its connections: the new one is reused.
        assertNextHandoffSucceeds();
        assertNextHandoffSucceeds();
        assertThat(backend.controlConnectionsAccepted()).as("control connections dialled").isEqualTo(2);
        assertThat(broker.events().fallbackCounts()).isEmpty();
        OpenDescriptors.awaitAtMost(baseline, DESCRIPTOR_WAIT);
    }

    @Test
    void backendThatClosesTheControlConnectionAfterEveryExchangeStillGetsEveryHandoff() throws Exception {
        startBroker();
        backend.byDefault(ScriptedHandoffBackend.acceptThenCloseControl());
        BrokerClient client = broker.client();
        for (int i = 0; i < 20; i++) {
            try (ServiceConnection connection = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                assertThat(connection.route()).as("handoff %d: %s", i, connection.fallbackReason())
                        .isEqualTo(Route.HANDED_OFF);
                assertThat(HandoffFixture.echo(connection.socket(), "n" + i)).isEqualTo("n" + i);
            }
        }
        assertThat(backend.exchanges()).hasSize(20);
        assertThat(backend.exchanges().stream().map(e -> e.control).distinct().count())
                .as("distinct control connections the exchanges came on").isEqualTo(20);
        assertThat(backend.controlConnectionsAccepted()).as("one control connection per handoff").isEqualTo(20);
        // handed_off is reported after the relay was written: the client may be done before it is recorded.
        assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.events().handedOff() == 20, MARGIN))
                .as("handed off: %s", broker.events()).isTrue();
        assertThat(broker.events().fallbackCounts()).isEmpty();
        assertThat(broker.events().ackCounts()).containsExactly(Map.entry(AckResult.ACCEPTED, 20));
    }

    @Test
    void backendThatKeepsFailingIsSkippedOnceTheFailedAttemptLimitIsReached() throws Exception {
        startBroker(f -> f.failedAttempts(2, Duration.ofSeconds(60)));
        backend.then(ScriptedHandoffBackend.garbage(), ScriptedHandoffBackend.garbage());
        BrokerClient client = broker.client();
        for (int i = 0; i < 2; i++) {
            try (ServiceConnection connection = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            }
        }
        backend.releaseHeldDescriptors();
        try (ServiceConnection connection = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(connection.fallbackReason()).isEqualTo("broker did not offer a handoff");
            assertThat(connection.negotiated().getHandlePassedToken().isEmpty()).isTrue();
            assertThat(HandoffFixture.echo(connection.socket(), "limited")).isEqualTo("limited");
            assertThat(broker.events().awaitEvent(connection.connectionId(), "fallback", MARGIN).value())
                    .isEqualTo(FallbackReason.RATE_LIMITED);
        }
        assertThat(backend.exchanges()).as("offers after the limit").hasSize(2);
    }

    @Test
    void aDialTheBrokerCannotMakeForWantOfDescriptorsIsItsOwnPressureNotTheBackendsFailure() throws Exception {
        // One failure counted against the backend would skip its next handoff.
        startBroker(f -> f.failedAttempts(1, Duration.ofSeconds(60)));
        assertNextHandoffSucceeds(); // loads what a dial needs while files can be opened
        // So that the next handoff dials, and no connection found closed in the pool frees a number for it.
        ControlConnection idle = broker.orchestrator().pool().pollIdle(backends.handoffEndpoint());
        assertThat(idle).as("the first handoff's control connection, pooled").isNotNull();
        broker.orchestrator().pool().invalidate(idle);
        Hello hello = RawClient.hello(HandoffFixture.SERVICE, HandoffFixture.VERSION).toBuilder()
                .setClientCapabilities(WireProtocol.CAP_HANDLE_PASSING).build();
        try (RawClient client = RawClient.connect(broker.socketPath())) {
            assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.broker().server().openConnections() == 1,
                    MARGIN)).as("accepted while descriptors were left").isTrue();
            // Until the first handoff's connections are all closed, a close frees a number for the dial.
            OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));
            Frame negotiated;
            Frame relay;
            try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(0)) {
                client.send(RawClient.helloFrame(hello, 7));
                negotiated = client.readFrame();
                relay = client.readFrame();
            }
            assertThat(HelloReply.parseFrom(negotiated.getPayload()).getNegotiated().getHandlePassedToken().size())
                    .as("a handoff announced").isEqualTo(16);
            HandoffAck ack = HandoffAck.parseFrom(relay.getPayload());
            assertThat(ack.getAccepted()).isFalse();
            assertThat(ack.getErrorDetail()).contains("this process could not create a socket");
            assertThat(broker.events().awaitEvent(ack.getCorrelationId(), "fallback", MARGIN).value())
                    .isEqualTo(FallbackReason.FD_PRESSURE);
        }
        assertNextHandoffSucceeds();
    }

    @Test
    void handoffBeyondThePendingTokenBoundFallsBackWithFdPressure() throws Exception {
        startBroker(f -> f.maxPendingTokens(1));
        backend.then(ScriptedHandoffBackend.neverAnswer());
        BrokerClient client = broker.client();
        CompletableFuture<Void> first = CompletableFuture.runAsync(() -> {
            try (ServiceConnection connection = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                HandoffFixture.echo(connection.socket(), "first");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, OWN_THREAD);
        assertThat(backend.awaitExchange(1, MARGIN)).as("the first handoff is in flight").isNotNull();
        try (ServiceConnection second = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(second.route()).isEqualTo(Route.RECONNECTED);
            assertThat(second.fallbackReason()).isEqualTo("broker did not offer a handoff");
            assertThat(HandoffFixture.echo(second.socket(), "second")).isEqualTo("second");
            assertThat(broker.events().awaitEvent(second.connectionId(), "fallback", MARGIN).value())
                    .isEqualTo(FallbackReason.FD_PRESSURE);
        }
        // Rethrows what went wrong on the first client's thread, or fails when it is still running.
        first.get(broker.ackDeadline().plus(broker.relayWait()).plus(MARGIN).toMillis(), TimeUnit.MILLISECONDS);
        backend.releaseHeldDescriptors();
    }

    @Test
    void aStopWhileAnAckIsPendingSaysSoAndEndsInExactlyOneAckResult() throws Exception {
        startBroker(f -> f.ackDeadline(Duration.ofSeconds(30)).ackGrace(Duration.ofSeconds(30)));
        OpenDescriptors.Snapshot baseline = warmUp();
        int exchangesBefore = backend.exchanges().size();
        backend.then(ScriptedHandoffBackend.neverAnswer());
        Duration relayWait = Duration.ofMillis(500);
        BrokerClient client = broker.client(relayWait);
        CompletableFuture<Long> connected = CompletableFuture.supplyAsync(() -> {
            try (ServiceConnection connection = client.connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                assertThat(HandoffFixture.echo(connection.socket(), "stopped")).isEqualTo("stopped");
                return connection.connectionId();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, OWN_THREAD);
        assertThat(backend.awaitExchange(exchangesBefore + 1, MARGIN)).as("the descriptor reached the backend")
                .isNotNull();

        broker.close();

        long id = connected.get(relayWait.plus(MARGIN).toMillis(), TimeUnit.MILLISECONDS);
        RecordingHandoffEvents events = broker.events();
        RecordingHandoffEvents.Event fallback = events.awaitEvent(id, "fallback", MARGIN);
        assertThat(fallback).as("events: %s", events.all()).isNotNull();
        assertThat(fallback.value()).isEqualTo(FallbackReason.BACKEND_ACK_TIMEOUT);
        assertThat(fallback.detail()).as("not the deadline: the broker stopped")
                .isEqualTo("the broker stopped before the ACK came");
        assertThat(events.awaitEvent(id, "ack", MARGIN)).isNotNull();
        assertThat(events.ackResultsOf(id)).containsExactly(AckResult.MISSING);
        assertThat(broker.orchestrator().pending().size()).isZero();
        backend.releaseHeldDescriptors();
        OpenDescriptors.awaitAtMost(baseline, DESCRIPTOR_WAIT);
    }

    // ---- helpers ----

    /** One good handoff, so every lazily opened descriptor is open; then the settled count. */
    private OpenDescriptors.Snapshot warmUp() throws Exception {
        assertNextHandoffSucceeds();
        RecordingHandoffEvents.awaitTrue(() -> backend.adoptedConnections() > 0 && fallback.openConnections() == 0,
                MARGIN);
        return OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));
    }

    private void assertNextHandoffSucceeds() throws Exception {
        broker.assertHandsOff("handed off", ACK_DEADLINE.plus(MARGIN));
    }
}
