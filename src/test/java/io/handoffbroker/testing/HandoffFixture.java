package io.handoffbroker.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.handoff.AckResult;
import io.handoffbroker.handoff.HandoffEndpointProbe;
import io.handoffbroker.handoff.HandoffEvents;
import io.handoffbroker.handoff.HandoffOrchestrator;
import io.handoffbroker.handoff.HandoffSettings;
import io.handoffbroker.handoff.PoolSettings;
import io.handoffbroker.handoff.WireHandoffDelivery;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.wire.SemVer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * A real broker ({@link BrokerFixture}) with a real {@link HandoffOrchestrator},
 * assembled by {@link HandoffOrchestrator#create} as in production, and
 * a {@link RecordingHandoffEvents} (plus, optionally, any other {@link HandoffEvents},
 * such as the metrics, see {@link #alsoReportTo}). Defaults leave a loaded machine room, while
 * staying short of production's: ACK deadline 2 s, grace 1 s, client relay wait 2.5 s (longer
 * than the deadline, so that the broker decides first), a failed-attempt limit high enough never
 * to interfere, no pre-dialled control connections. Tests of the bounds set their own.
 */
public final class HandoffFixture implements AutoCloseable {

    public static final String SERVICE = "echo";
    public static final String VERSION = "1.2.3";

    private final BrokerFixture broker;
    private final RecordingHandoffEvents events = new RecordingHandoffEvents();
    private HandoffEvents alsoReportTo = HandoffEvents.NONE;
    private WireHandoffDelivery delivery = new WireHandoffDelivery();
    private final List<ServiceBackend> services = new ArrayList<>();
    private boolean enabled = true;
    // Room for a loaded 2-CPU machine: a healthy handoff, its first dial included, must not time out.
    private Duration ackDeadline = Duration.ofSeconds(2);
    private Duration ackGrace = Duration.ofSeconds(1);
    private Duration tokenTtl = Duration.ofSeconds(30);
    private int maxPendingTokens = 1024;
    private int failedAttemptLimit = 1_000;
    private Duration failedAttemptWindow = Duration.ofSeconds(60);
    private int workers = 16;
    private PoolSettings pool = new PoolSettings(8, 0, Duration.ofMillis(250), Duration.ofMillis(250),
            Duration.ofSeconds(30));
    // Longer than the ACK deadline, as the defaults have it: the broker decides before the client gives up.
    private Duration relayWait = Duration.ofMillis(2_500);
    private Duration replyTimeout = Duration.ofSeconds(5);
    private HandoffEndpointProbe handoffEndpoint = HandoffEndpointProbe.ALWAYS_UP;
    private HandoffOrchestrator orchestrator;
    private boolean closed;

    public HandoffFixture(Path directory) {
        this.broker = new BrokerFixture(directory).rateLimit(100_000, Duration.ofSeconds(1));
    }

    /** A service with a handoff endpoint, handoff switched on. */
    public static ServiceBackend handoffService(Path backendPipe, Path handoffEndpoint) {
        return new ServiceBackend(SERVICE, SemVer.parse(VERSION), backendPipe, Optional.of(handoffEndpoint), true,
                Optional.empty(), List.of());
    }

    public HandoffFixture service(ServiceBackend backend) {
        services.add(backend);
        broker.service(backend);
        return this;
    }

    public HandoffFixture enabled(boolean on) {
        this.enabled = on;
        return this;
    }

    public HandoffFixture ackDeadline(Duration deadline) {
        this.ackDeadline = deadline;
        return this;
    }

    public HandoffFixture ackGrace(Duration grace) {
        this.ackGrace = grace;
        return this;
    }

    public HandoffFixture tokenTtl(Duration ttl) {
        this.tokenTtl = ttl;
        return this;
    }

    public HandoffFixture maxPendingTokens(int max) {
        this.maxPendingTokens = max;
        return this;
    }

    public HandoffFixture failedAttempts(int limit, Duration window) {
        this.failedAttemptLimit = limit;
        this.failedAttemptWindow = window;
        return this;
    }

    public HandoffFixture workers(int n) {
        this.workers = n;
        return this;
    }

    public HandoffFixture pool(PoolSettings settings) {
        this.pool = settings;
        return this;
    }

    public HandoffFixture relayWait(Duration wait) {
        this.relayWait = wait;
        return this;
    }

    /** The delivery the orchestrator uses: one with a clock of the test's own, say. */
    public HandoffFixture delivery(WireHandoffDelivery delivery) {
        this.delivery = delivery;
        return this;
    }

    public HandoffFixture handoffEndpointUp(Predicate<ServiceBackend> up) {
        return handoffEndpoint(backend -> up.test(backend) ? null : "probe failed");
    }

    /** What the last probe of each handoff endpoint said. */
    public HandoffFixture handoffEndpoint(HandoffEndpointProbe probe) {
        this.handoffEndpoint = probe;
        return this;
    }

    /**
     * Reports every handoff event to {@code other} too (before the recording, so once
     * a test sees an event recorded, {@code other} has it as well).
     */
    public HandoffFixture alsoReportTo(HandoffEvents other) {
        this.alsoReportTo = other;
        return this;
    }

    /** Adjusts the underlying broker listener (connection limit, Hello timeout, ...) before start. */
    public HandoffFixture broker(Consumer<BrokerFixture> adjust) {
        adjust.accept(broker);
        return this;
    }

    public HandoffFixture start() throws IOException {
        HandoffSettings settings = new HandoffSettings(enabled, ackDeadline, ackGrace, tokenTtl, maxPendingTokens,
                failedAttemptLimit, failedAttemptWindow, workers, pool);
        broker.router(replies -> {
            try {
                orchestrator = HandoffOrchestrator.create(settings, replies, services, handoffEndpoint, both(alsoReportTo),
                        delivery);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return orchestrator;
        });
        broker.start();
        return this;
    }

    /** {@code other}, then the recording. */
    private HandoffEvents both(HandoffEvents other) {
        if (other == HandoffEvents.NONE) {
            return events;
        }
        return new HandoffEvents() {
            @Override
            public void handedOff(ServiceBackend backend, long connectionId, long durationNanos) {
                other.handedOff(backend, connectionId, durationNanos);
                events.handedOff(backend, connectionId, durationNanos);
            }

            @Override
            public void fellBack(ServiceBackend backend, long connectionId, String reason, String detail) {
                other.fellBack(backend, connectionId, reason, detail);
                events.fellBack(backend, connectionId, reason, detail);
            }

            @Override
            public void ackResult(ServiceBackend backend, long connectionId, AckResult result) {
                other.ackResult(backend, connectionId, result);
                events.ackResult(backend, connectionId, result);
            }

            @Override
            public void handoffEndpointRejected(ServiceBackend backend, long peerUid, long peerPid) {
                other.handoffEndpointRejected(backend, peerUid, peerPid);
                events.handoffEndpointRejected(backend, peerUid, peerPid);
            }
        };
    }

    /** A client that advertises handle passing and waits the fixture's relay wait. */
    public BrokerClient client() {
        return client(relayWait);
    }

    public BrokerClient client(Duration relayWait) {
        return new BrokerClient(broker.socketPath(), replyTimeout, relayWait, true);
    }

    /** A client that does not advertise handle passing. */
    public BrokerClient clientWithoutHandoff() {
        return new BrokerClient(broker.socketPath(), replyTimeout, relayWait, false);
    }

    public RecordingHandoffEvents events() {
        return events;
    }

    public HandoffOrchestrator orchestrator() {
        return orchestrator;
    }

    public BrokerFixture broker() {
        return broker;
    }

    public Path socketPath() {
        return broker.socketPath();
    }

    public Duration ackDeadline() {
        return ackDeadline;
    }

    public Duration ackGrace() {
        return ackGrace;
    }

    public Duration relayWait() {
        return relayWait;
    }

    /** Stops the listener and the orchestrator (workers, watcher, pool). Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        broker.close();
        if (orchestrator != null) {
            orchestrator.close();
        }
    }

    /**
     * One handoff that must succeed end to end: the client, waiting up to {@code wait} for its
     * relay, keeps its connection, the backend echoes {@code message} on it, and the broker reports
     * it handed off (just after the relay, so the client may be done first). Nothing else may be
     * handed off meanwhile.
     */
    public void assertHandsOff(String message, Duration wait) throws IOException {
        int before = events.handedOff();
        try (ServiceConnection connection = client(wait).connect(SERVICE, VERSION)) {
            assertThat(connection.route()).as("%s: %s; events %s", message, connection.fallbackReason(), events)
                    .isEqualTo(Route.HANDED_OFF);
            assertThat(echo(connection.socket(), message)).isEqualTo(message);
            assertThat(events.awaitEvent(connection.connectionId(), "handed_off", wait))
                    .as("%s: reported handed off; events %s", message, events).isNotNull();
        }
        assertThat(events.handedOff()).as("%s: handoffs reported", message).isEqualTo(before + 1);
    }

    // ---- echo ----

    /** Writes {@code message} and reads the same number of bytes back (5 s at most). */
    public static String echo(AFUNIXSocket socket, String message) throws IOException {
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        int before = socket.getSoTimeout();
        socket.setSoTimeout(5_000);
        try {
            OutputStream out = socket.getOutputStream();
            out.write(bytes);
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] back = in.readNBytes(bytes.length);
            return new String(back, StandardCharsets.UTF_8);
        } finally {
            socket.setSoTimeout(before);
        }
    }
}
