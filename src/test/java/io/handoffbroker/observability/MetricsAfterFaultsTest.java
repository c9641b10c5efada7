package io.handoffbroker.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.handoff.AckResult;
import io.handoffbroker.handoff.FallbackReason;
import io.handoffbroker.handoff.ScriptedHandoffBackend;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.PeerPolicy;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.SemVer;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.unix.ProcessUser;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BrokerMetrics} as the events of a real broker on real Unix sockets, with
 * faults injected by clients and by a scripted handoff backend: afterwards every
 * counter holds exactly what happened, and every series that must not have moved
 * is still zero. The expected values are whole maps of every non-zero counter, so a
 * stray increment anywhere fails the test.
 */
class MetricsAfterFaultsTest {

    /** Scheduling slack on a loaded 2-CPU machine; never a bound on what is measured. */
    private static final Duration MARGIN = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Set<Thread> threadsBefore = LiveThreads.snapshot();
    private BrokerFixture broker;
    private HandoffFixture handoffBroker;
    private ScriptedHandoffBackend handoffBackend;
    private BackendServer pipeBackend;

    @BeforeEach
    void startPipeBackend() throws Exception {
        pipeBackend = new BackendServer(pipe(), new EchoHandler(), 64).start();
    }

    @AfterEach
    void closeEverything() {
        if (broker != null) {
            broker.close();
        }
        if (handoffBroker != null) {
            handoffBroker.close();
        }
        if (handoffBackend != null) {
            handoffBackend.close();
        }
        pipeBackend.close();
        LiveThreads.awaitGone(threadsBefore, MARGIN, "broker-", "backend-", "scripted-");
    }

    private Path pipe() {
        return dir.resolve("b").resolve("pipe.sock");
    }

    private Path handoffEndpoint() {
        return dir.resolve("h").resolve("ho.sock");
    }

    @Test
    void aPeerThePolicyDoesNotAdmitIsCountedAsRejectedAndNothingElse() throws Exception {
        long ownUid = ProcessUser.uid();
        Assumptions.assumeTrue(ownUid != 12345, "this process must not run as uid 12345");
        ServiceBackend echo = ServiceBackend.reconnectOnly("echo", "1.2.3", pipe());
        BrokerMetrics metrics = new BrokerMetrics(registry, new ServiceCatalog(List.of(echo)));
        broker = new BrokerFixture(dir).service(echo).events(metrics)
                .peerPolicy(new PeerPolicy.AllowedUids(Set.of(12345L))).start();
        for (int i = 0; i < 3; i++) {
            try (RawClient rejected = broker.connect()) {
                assertTrue(rejected.isClosedByPeer(), "closed without a reply");
            }
        }
        assertTrue(RecordingHandoffEvents.awaitTrue(
                () -> registry.get(BrokerMetrics.PREFIX + "peer_rejected").counter().count() == 3.0, MARGIN),
                () -> "counters " + nonZeroCounters());
        assertEquals(new TreeMap<>(Map.of("peer_rejected{}", 3.0)), nonZeroCounters());
    }

    @Test
    void aClientThatNeverCompletesItsHelloIsCountedAsATimeoutAndNothingElse() throws Exception {
        ServiceBackend echo = ServiceBackend.reconnectOnly("echo", "1.2.3", pipe());
        BrokerMetrics metrics = new BrokerMetrics(registry, new ServiceCatalog(List.of(echo)));
        broker = new BrokerFixture(dir).service(echo).events(metrics).helloTimeout(Duration.ofMillis(100)).start();
        try (RawClient silent = broker.connect(); RawClient halfway = broker.connect()) {
            halfway.send(new byte[] {1, 20, 0, 0}); // part of a header, then nothing
            assertTrue(RecordingHandoffEvents.awaitTrue(
                    () -> registry.get(BrokerMetrics.PREFIX + "hello_timeouts").counter().count() == 2.0, MARGIN),
                    () -> "counters " + nonZeroCounters());
        }
        assertEquals(0.0, registry.get(BrokerMetrics.PREFIX + "peer_rejected").counter().count());
        assertEquals(new TreeMap<>(Map.of("hello_timeouts{}", 2.0)), nonZeroCounters());
    }

    @Test
    void helloCountersAreExactAfterRefusalsAMalformedFrameAndTheRateLimit() throws Exception {
        ServiceBackend echo = ServiceBackend.reconnectOnly("echo", "1.2.3", pipe());
        BrokerMetrics metrics = new BrokerMetrics(registry, new ServiceCatalog(List.of(echo)));
        // Five Hellos per peer and window: three negotiated, the unknown service and the absent
        // version use them up. The malformed frame is refused by the listener before negotiation
        // and does not count, so the sixth decodable Hello is the one rate-limited.
        broker = new BrokerFixture(dir).service(echo).rateLimit(5, Duration.ofHours(1)).events(metrics).start();

        for (int i = 0; i < 3; i++) {
            assertTrue(hello("echo", "1.2.3").hasNegotiated(), "Hello " + i);
        }
        assertEquals(ErrorCode.ERROR_SERVICE_UNKNOWN, hello("nope", "1.0.0").getRefused().getCode());
        assertEquals(ErrorCode.ERROR_BACKEND_SPAWN_FAILED, hello("echo", "9.9.9").getRefused().getCode());
        try (RawClient client = broker.connect()) {
            // framing version 1, a 3-byte body that is no protobuf message (a varint that never ends)
            client.send(new byte[] {1, 3, 0, 0, 0, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
            assertEquals(ErrorCode.ERROR_PEER_REJECTED, client.readReply().getRefused().getCode());
        }
        assertEquals(ErrorCode.ERROR_RATE_LIMITED, hello("echo", "1.2.3").getRefused().getCode());

        // The event follows the reply's last byte: the client may read the reply before it is counted.
        awaitCount("hello", 7);
        assertEquals(new TreeMap<>(Map.of(
                "hello{outcome=negotiated,service=echo,version=1.2.3}", 3.0,
                "hello{outcome=service_unknown,service=unknown,version=other}", 1.0,
                "hello{outcome=backend_spawn_failed,service=echo,version=other}", 1.0,
                "hello{outcome=peer_rejected,service=unknown,version=other}", 1.0,
                "hello{outcome=rate_limited,service=echo,version=1.2.3}", 1.0)), nonZeroCounters());
        assertEquals(5, timer("hello_duration", "service", "echo").count());
        assertEquals(2, timer("hello_duration", "service", "unknown").count());
        assertEquals(0.0, counter("handoff", "service", "echo", "route", "handed_off").count());
        assertEquals(0.0, counter("handoff", "service", "echo", "route", "fallback").count());
        assertEquals(0, timer("handoff_duration", "service", "echo").count());
    }

    @Test
    void handoffCountersAreExactAfterOneOfEachAckFaultAndABackendThatIsDown() throws Exception {
        handoffBackend = new ScriptedHandoffBackend(handoffEndpoint()).start();
        ServiceBackend service = HandoffFixture.handoffService(pipe(), handoffEndpoint());
        BrokerMetrics metrics = new BrokerMetrics(registry, new ServiceCatalog(List.of(service)));
        // A deadline and grace period generous enough for a loaded machine: only the late ACK
        // depends on timing, and it is sent well inside the grace period.
        Duration deadline = Duration.ofSeconds(1);
        handoffBroker = new HandoffFixture(dir).service(service).ackDeadline(deadline).ackGrace(Duration.ofSeconds(4))
                .alsoReportTo(metrics).broker(b -> b.events(metrics)).start();
        RecordingHandoffEvents events = handoffBroker.events();
        BrokerClient patient = handoffBroker.client(Duration.ofSeconds(5));
        BrokerClient impatient = handoffBroker.client(Duration.ofMillis(300));

        long accepted = connect(patient, Route.HANDED_OFF);
        assertNotNull(events.awaitEvent(accepted, "handed_off", MARGIN), events::toString);
        OpenDescriptors.Snapshot baseline = OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));

        handoffBackend.then(ScriptedHandoffBackend.refuse("scripted refusal"));
        awaitVerdict(events, connect(patient, Route.RECONNECTED), AckResult.REFUSED, FallbackReason.BACKEND_REFUSED);

        handoffBackend.then(ScriptedHandoffBackend.answerAfter(deadline.plusMillis(600)));
        awaitVerdict(events, connect(impatient, Route.RECONNECTED), AckResult.LATE,
                FallbackReason.BACKEND_ACK_TIMEOUT);

        handoffBackend.then(ScriptedHandoffBackend.ackWith(a -> a.setToken(ByteString.copyFrom(new byte[16]))));
        awaitVerdict(events, connect(impatient, Route.RECONNECTED), AckResult.TOKEN_MISMATCH,
                FallbackReason.ACK_MISMATCH);

        handoffBackend.then(ScriptedHandoffBackend.ackWith(a -> a.setCorrelationId(a.getCorrelationId() + 1)));
        awaitVerdict(events, connect(impatient, Route.RECONNECTED), AckResult.CORRELATION_MISMATCH,
                FallbackReason.ACK_MISMATCH);

        handoffBackend.then(ScriptedHandoffBackend.closeControl());
        awaitVerdict(events, connect(impatient, Route.RECONNECTED), AckResult.MISSING,
                FallbackReason.BACKEND_UNAVAILABLE);

        handoffBackend.crash();
        long down = connect(patient, Route.RECONNECTED);
        assertNotNull(events.awaitEvent(down, "fallback", MARGIN), events::toString);
        assertEquals(List.of(FallbackReason.BACKEND_UNAVAILABLE), events.fallbackReasonsOf(down));
        assertEquals(List.of(), events.ackResultsOf(down), "no control connection: the ACK stage was never reached");

        awaitCount("hello", 7);
        assertEquals(new TreeMap<>(Map.ofEntries(
                Map.entry("hello{outcome=negotiated,service=echo,version=1.2.3}", 7.0),
                Map.entry("handoff{route=handed_off,service=echo}", 1.0),
                Map.entry("handoff{route=fallback,service=echo}", 6.0),
                Map.entry("handoff_acks{result=accepted,service=echo}", 1.0),
                Map.entry("handoff_acks{result=refused,service=echo}", 1.0),
                Map.entry("handoff_acks{result=late,service=echo}", 1.0),
                Map.entry("handoff_acks{result=token_mismatch,service=echo}", 1.0),
                Map.entry("handoff_acks{result=correlation_mismatch,service=echo}", 1.0),
                Map.entry("handoff_acks{result=missing,service=echo}", 1.0),
                Map.entry("handoff_fallback{reason=backend_refused,service=echo}", 1.0),
                Map.entry("handoff_fallback{reason=backend_ack_timeout,service=echo}", 1.0),
                Map.entry("handoff_fallback{reason=ack_mismatch,service=echo}", 2.0),
                Map.entry("handoff_fallback{reason=backend_unavailable,service=echo}", 2.0))), nonZeroCounters());
        // Registered at zero and still there: dashboards see the series, not a gap.
        assertEquals(0.0, counter("handoff_acks", "service", "echo", "result", "malformed").count());
        for (String reason : List.of(FallbackReason.CLIENT_UNSUPPORTED, FallbackReason.SERVICE_POLICY_DISABLED,
                FallbackReason.FD_PRESSURE, FallbackReason.RATE_LIMITED, FallbackReason.PERMISSION_DENIED)) {
            assertEquals(0.0, counter("handoff_fallback", "service", "echo", "reason", reason).count(), reason);
        }
        assertEquals(1, timer("handoff_duration", "service", "echo").count(), "only the accepted handoff is timed");
        assertEquals(7, timer("hello_duration", "service", "echo").count());

        handoffBackend.releaseHeldDescriptors();
        OpenDescriptors.awaitAtMost(baseline, MARGIN);
    }

    @Test
    void handedOffStaysZeroWhenEveryClientFallsBackBeforeTheAckStage() throws Exception {
        ServiceBackend echo = HandoffFixture.handoffService(pipe(), handoffEndpoint());
        ServiceBackend plain = new ServiceBackend("plain", SemVer.parse("2.0.0"), pipe(), Optional.of(handoffEndpoint()),
                false, Optional.empty(), List.of());
        BrokerMetrics metrics = new BrokerMetrics(registry, new ServiceCatalog(List.of(echo, plain)));
        // No handoff endpoint answers: the prober's verdict is that it is down.
        handoffBroker = new HandoffFixture(dir).service(echo).service(plain).handoffEndpointUp(b -> false)
                .alsoReportTo(metrics).broker(b -> b.events(metrics)).start();
        RecordingHandoffEvents events = handoffBroker.events();

        long unsupported = connect(handoffBroker.clientWithoutHandoff(), HandoffFixture.SERVICE,
                HandoffFixture.VERSION, Route.RECONNECTED);
        long disabled = connect(handoffBroker.client(), "plain", "2.0.0", Route.RECONNECTED);
        long unavailable = connect(handoffBroker.client(), HandoffFixture.SERVICE, HandoffFixture.VERSION,
                Route.RECONNECTED);
        for (long id : new long[] {unsupported, disabled, unavailable}) {
            assertNotNull(events.awaitEvent(id, "fallback", MARGIN), events::toString);
        }

        awaitCount("hello", 3);
        assertEquals(new TreeMap<>(Map.of(
                "hello{outcome=negotiated,service=echo,version=1.2.3}", 2.0,
                "hello{outcome=negotiated,service=plain,version=2.0.0}", 1.0,
                "handoff{route=fallback,service=echo}", 2.0,
                "handoff{route=fallback,service=plain}", 1.0,
                "handoff_fallback{reason=client_unsupported,service=echo}", 1.0,
                "handoff_fallback{reason=backend_unavailable,service=echo}", 1.0,
                "handoff_fallback{reason=service_policy_disabled,service=plain}", 1.0)), nonZeroCounters());
        for (String service : List.of("echo", "plain")) {
            assertEquals(0.0, counter("handoff", "service", service, "route", "handed_off").count(), service);
            assertEquals(0, timer("handoff_duration", "service", service).count(), service);
            for (AckResult result : AckResult.values()) {
                assertEquals(0.0, counter("handoff_acks", "service", service, "result", result.label()).count(),
                        service + " " + result);
            }
        }
    }

    // ---- clients ----

    private HelloReply hello(String service, String version) throws Exception {
        try (RawClient client = broker.connect()) {
            return client.hello(RawClient.hello(service, version));
        }
    }

    private long connect(BrokerClient client, Route expected) throws Exception {
        return connect(client, HandoffFixture.SERVICE, HandoffFixture.VERSION, expected);
    }

    /** Connects, checks the route and that the connection works, closes; returns the connection id. */
    private long connect(BrokerClient client, String service, String version, Route expected) throws Exception {
        try (ServiceConnection connection = client.connect(service, version)) {
            assertEquals(expected, connection.route(), connection.fallbackReason());
            assertEquals("ping", HandoffFixture.echo(connection.socket(), "ping"));
            return connection.connectionId();
        }
    }

    private static void awaitVerdict(RecordingHandoffEvents events, long id, AckResult result, String reason) {
        assertNotNull(events.awaitEvent(id, "fallback", MARGIN), () -> "fallback of " + id + ": " + events);
        assertNotNull(events.awaitEvent(id, "ack", MARGIN), () -> "ACK result of " + id + ": " + events);
        assertEquals(List.of(result), events.ackResultsOf(id));
        assertEquals(List.of(reason), events.fallbackReasonsOf(id));
    }

    // ---- meters ----

    private void awaitCount(String name, double total) {
        // Each one's duration is recorded just after it is counted: the last one's may not be yet when
        // the count is reached, and the tests check the durations too.
        RecordingHandoffEvents.awaitTrue(() -> sum(name) >= total && timed(name + "_duration") >= total, MARGIN);
        assertEquals(total, sum(name), name + " total; counters " + nonZeroCounters());
    }

    private double sum(String name) {
        return registry.find(BrokerMetrics.PREFIX + name).counters().stream().mapToDouble(Counter::count).sum();
    }

    private long timed(String name) {
        return registry.find(BrokerMetrics.PREFIX + name).timers().stream().mapToLong(Timer::count).sum();
    }

    /** Every broker counter that is not zero, as {@code name{tag=value,...}} without the prefix. */
    private Map<String, Double> nonZeroCounters() {
        return registry.getMeters().stream()
                .filter(m -> m instanceof Counter c && c.count() != 0)
                .filter(m -> m.getId().getName().startsWith(BrokerMetrics.PREFIX))
                .collect(Collectors.toMap(MetricsAfterFaultsTest::key, m -> ((Counter) m).count(), (a, b) -> a,
                        TreeMap::new));
    }

    private static String key(Meter meter) {
        return meter.getId().getName().substring(BrokerMetrics.PREFIX.length()) + meter.getId().getTags().stream()
                .map(t -> t.getKey() + "=" + t.getValue()).collect(Collectors.joining(",", "{", "}"));
    }

    /** The one series of {@code name} with these tags; fails when it is not registered. */
    private Counter counter(String name, String... tags) {
        List<Counter> found = List.copyOf(registry.find(BrokerMetrics.PREFIX + name).tags(tags).counters());
        assertEquals(1, found.size(), () -> name + " " + List.of(tags) + ": " + found.size() + " series");
        return found.getFirst();
    }

    private Timer timer(String name, String... tags) {
        Timer timer = registry.find(BrokerMetrics.PREFIX + name).tags(tags).timer();
        assertNotNull(timer, () -> name + " " + List.of(tags) + " is not registered");
        return timer;
    }
}
