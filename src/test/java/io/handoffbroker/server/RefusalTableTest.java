package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.assertClosedByBroker;
import static io.handoffbroker.server.ListenerTestSupport.assertEchoes;
import static io.handoffbroker.server.ListenerTestSupport.assertNegotiated;
import static io.handoffbroker.server.ListenerTestSupport.assertNoEcho;
import static io.handoffbroker.server.ListenerTestSupport.assertRefused;
import static io.handoffbroker.server.ListenerTestSupport.await;
import static io.handoffbroker.server.ListenerTestSupport.tracedHelloFrame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.SemVer;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.Negotiated;
import io.handoffbroker.wire.proto.Refused;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One test per row of the refusal table of wire-v1.md §2, over a real Unix socket:
 * the exact code, the reason where the spec or the vectors give one, the retry
 * hint, the daemon's protocol range, the echo of request_id and trace context,
 * and the close after the reply. Plus what a negotiated reply carries.
 */
class RefusalTableTest {

    private static final long REQUEST_ID = 0x1234_5678_9ABCL;

    @TempDir
    Path dir;

    private BrokerFixture broker;

    @AfterEach
    void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    private Path backendPipe() {
        return dir.resolve("echo-backend.sock");
    }

    private BrokerFixture start(UnaryOperator<BrokerFixture> config) throws IOException {
        broker = config.apply(new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", backendPipe())));
        return broker.start();
    }

    /** Sends one traced Hello on a fresh connection, returns the reply and checks the broker then closes. */
    private Frame exchange(Hello hello) throws IOException {
        Frame request = tracedHelloFrame(hello, REQUEST_ID);
        try (RawClient client = broker.connect()) {
            client.send(request);
            Frame reply = client.readFrame();
            assertEchoes(reply, request);
            assertClosedByBroker(client);
            return reply;
        }
    }

    // --- VERSION_UNSUPPORTED ---------------------------------------------------------------------

    @Test
    void helloWhoseProtocolRangeExcludesOneIsRefusedVersionUnsupportedWithoutRetryHint() throws Exception {
        start(b -> b);
        Hello hello = RawClient.hello("echo", "1.2.3").toBuilder()
                .setClientMinProtocol(2).setClientMaxProtocol(3).build();

        Refused refused = assertRefused(exchange(hello), ErrorCode.ERROR_VERSION_UNSUPPORTED);

        assertThat(refused.getRetryAfterMs()).isZero();
    }

    @Test
    void badFramingByteIsRefusedVersionUnsupportedWithoutRetryHintAndClosed() throws Exception {
        start(b -> b);
        byte[] bytes = FrameIO.encode(tracedHelloFrame(RawClient.hello("echo", "1.2.3"), REQUEST_ID));
        bytes[0] = 2;
        try (RawClient client = broker.connect()) {
            client.send(bytes);
            Frame reply = client.readFrame();

            Refused refused = assertRefused(reply, ErrorCode.ERROR_VERSION_UNSUPPORTED);
            assertThat(refused.getReason()).isEqualTo("unsupported framing version");
            assertThat(refused.getRetryAfterMs()).isZero();
            // Nothing could be decoded, so there is nothing to echo.
            assertNoEcho(reply);
            assertClosedByBroker(client);
        }
    }

    // --- SERVICE_UNKNOWN -------------------------------------------------------------------------

    @Test
    void helloForAServiceThatIsNotConfiguredIsRefusedServiceUnknown() throws Exception {
        start(b -> b);

        Refused refused = assertRefused(exchange(RawClient.hello("nosuch", "1.2.3")),
                ErrorCode.ERROR_SERVICE_UNKNOWN);

        assertThat(refused.getReason()).isEqualTo("unknown service");
        assertThat(refused.getRetryAfterMs()).isZero();
    }

    // --- VERSION_BLOCKED -------------------------------------------------------------------------

    @Test
    void wantedVersionBelowTheServiceMinVersionIsRefusedVersionBlockedForThirtySeconds() throws Exception {
        Path pipe = dir.resolve("gated.sock");
        start(b -> b.service(new ServiceBackend("gated", SemVer.parse("2.0.0"), pipe, Optional.empty(), false,
                Optional.of(SemVer.parse("2.0.0")), List.of())));

        Refused refused = assertRefused(exchange(RawClient.hello("gated", "1.9.9")),
                ErrorCode.ERROR_VERSION_BLOCKED);

        assertThat(refused.getReason()).isEqualTo("wanted_version is below min_version");
        assertThat(refused.getDetailsMap()).containsEntry("min_version", "2.0.0");
        assertThat(refused.getRetryAfterMs()).isEqualTo(30_000);
    }

    @Test
    void wantedVersionOutsideTheServiceAllowListIsRefusedVersionBlockedForThirtySeconds() throws Exception {
        Path pipe = dir.resolve("listed.sock");
        start(b -> b.service(new ServiceBackend("listed", SemVer.parse("2.0.0"), pipe, Optional.empty(), false,
                Optional.empty(), List.of("2.0.0"))));

        Refused refused = assertRefused(exchange(RawClient.hello("listed", "2.0.1")),
                ErrorCode.ERROR_VERSION_BLOCKED);

        assertThat(refused.getRetryAfterMs()).isEqualTo(30_000);
        assertThat(refused.getDetailsMap()).containsEntry("allowed_versions", "2.0.0");
        assertThat(refused.getReason()).contains("allowed");
    }

    // --- BACKEND_SPAWN_FAILED --------------------------------------------------------------------

    @Test
    void knownServiceWithoutTheWantedVersionIsRefusedBackendSpawnFailedListingTheVersionsThereAre()
            throws Exception {
        start(b -> b.service(ServiceBackend.reconnectOnly("echo", "2.0.0", dir.resolve("echo2.sock"))));

        Refused refused = assertRefused(exchange(RawClient.hello("echo", "3.0.0")),
                ErrorCode.ERROR_BACKEND_SPAWN_FAILED);

        assertThat(refused.getReason()).contains("3.0.0").contains("1.2.3").contains("2.0.0");
        assertThat(refused.getDetailsMap().get("available_versions")).contains("1.2.3").contains("2.0.0");
        // No backend of that version exists: waiting would not help, so there is no hint.
        assertThat(refused.getRetryAfterMs()).isZero();
    }

    @Test
    void serviceWhoseBackendIsDownIsRefusedBackendSpawnFailedWithARetryHint() throws Exception {
        start(b -> b.availability(backend -> false));

        Refused refused = assertRefused(exchange(RawClient.hello("echo", "1.2.3")),
                ErrorCode.ERROR_BACKEND_SPAWN_FAILED);

        assertThat(refused.getReason()).contains("echo@1.2.3");
        assertThat(refused.getRetryAfterMs()).isPositive();
    }

    // --- RATE_LIMITED ----------------------------------------------------------------------------

    @Test
    void helloBeyondThePerPeerRateIsRefusedRateLimitedWithTheTimeLeftInTheWindow() throws Exception {
        start(b -> b.rateLimit(3, Duration.ofSeconds(10)));
        for (int i = 0; i < 3; i++) {
            assertNegotiated(exchange(RawClient.hello("echo", "1.2.3")));
        }

        Refused refused = assertRefused(exchange(RawClient.hello("echo", "1.2.3")), ErrorCode.ERROR_RATE_LIMITED);

        assertThat(refused.getRetryAfterMs()).isBetween(1L, 10_000L);
    }

    // --- SHUTTING_DOWN ---------------------------------------------------------------------------

    @Test
    void helloOnAConnectionOpenedBeforeTheDrainIsRefusedShuttingDownWhileTheSocketFileIsGone() throws Exception {
        start(b -> b);
        BrokerServer server = broker.server();
        Path socket = broker.socketPath();
        Frame request = tracedHelloFrame(RawClient.hello("echo", "1.2.3"), REQUEST_ID);
        try (RawClient client = broker.connect()) {
            await("the connection to be admitted", Duration.ofSeconds(5), () -> server.openConnections() == 1);
            AtomicReference<Throwable> drainFailure = new AtomicReference<>();
            Thread drain = Thread.ofPlatform().name("test-drain").start(() -> {
                try {
                    server.drain(Duration.ofSeconds(20));
                } catch (Throwable t) {
                    drainFailure.set(t);
                }
            });
            try {
                await("the drain to start", Duration.ofSeconds(5), server::isDraining);
                await("the socket file to be removed", Duration.ofSeconds(5),
                        () -> !Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
                assertThat(drain.isAlive()).as("drain waits for the open connection").isTrue();
                assertThatThrownBy(() -> RawClient.connect(socket).close())
                        .as("no new client reaches a draining broker").isInstanceOf(IOException.class);

                client.send(request);
                Frame reply = client.readFrame();

                Refused refused = assertRefused(reply, ErrorCode.ERROR_SHUTTING_DOWN);
                assertThat(refused.getRetryAfterMs()).as("the drain hint").isPositive();
                assertEchoes(reply, request);
                assertClosedByBroker(client);
            } finally {
                // The last connection is gone: the drain ends long before its grace period.
                drain.join(Duration.ofSeconds(10));
            }
            assertThat(drain.isAlive()).as("drain returned once the last connection closed").isFalse();
            assertThat(drainFailure.get()).isNull();
            assertThat(server.isListening()).isFalse();
            assertThat(Files.exists(socket, LinkOption.NOFOLLOW_LINKS)).isFalse();
        }
    }

    // --- PEER_REJECTED ---------------------------------------------------------------------------

    static Stream<Arguments> shapeViolations() {
        Hello valid = RawClient.hello("echo", "1.2.3");
        long otherPid = ProcessHandle.current().pid() + 1;
        return Stream.of(
                Arguments.of("uppercase service_name", valid.toBuilder().setServiceName("Echo").build(),
                        "invalid service_name"),
                Arguments.of("wanted_version not semver", valid.toBuilder().setWantedVersion("1.2").build(),
                        "invalid wanted_version"),
                Arguments.of("client_version of 129 bytes",
                        valid.toBuilder().setClientVersion("v".repeat(129)).build(), "client_version"),
                Arguments.of("peer_pid of another process",
                        valid.toBuilder().setPeerPid((int) otherPid).build(), "peer_pid"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapeViolations")
    void helloBreakingAShapeRuleIsRefusedPeerRejectedWithoutRetryHint(String violation, Hello hello,
            String reason) throws Exception {
        start(b -> b);

        Refused refused = assertRefused(exchange(hello), ErrorCode.ERROR_PEER_REJECTED);

        assertThat(refused.getReason()).as("reason for %s", violation).contains(reason);
        assertThat(refused.getRetryAfterMs()).isZero();
    }

    @Test
    void clientVersionOfExactly128BytesIsAccepted() throws Exception {
        start(b -> b);

        assertNegotiated(exchange(RawClient.hello("echo", "1.2.3").toBuilder()
                .setClientVersion("v".repeat(128)).build()));
    }

    @Test
    void helloWhosePeerPidIsTheKernelVerifiedPidIsAccepted() throws Exception {
        start(b -> b);
        Hello hello = RawClient.hello("echo", "1.2.3").toBuilder()
                .setPeerPid((int) ProcessHandle.current().pid()).build();

        assertNegotiated(exchange(hello));
    }

    // --- Negotiated ------------------------------------------------------------------------------

    @Test
    void negotiatedReplyOnTheReconnectRouteCarriesTheBackendPipeAndDaemonIdentity() throws Exception {
        start(b -> b);
        // The client offers handle passing; the reconnect route must still not announce a handoff.
        Hello hello = RawClient.hello("echo", "1.2.3").toBuilder()
                .setClientCapabilities(WireProtocol.CAP_HANDLE_PASSING).setRequestId("hello-1").build();

        Negotiated negotiated = assertNegotiated(exchange(hello));

        assertThat(negotiated.getNegotiatedProtocol()).isEqualTo(1);
        assertThat(negotiated.getDaemonVersion()).isEqualTo(BrokerFixture.DAEMON_VERSION);
        assertThat(negotiated.getBackendPipe()).isEqualTo(backendPipe().toString());
        assertThat(negotiated.getConnectionId()).isNotZero();
        assertThat(negotiated.getServerCapabilities()).isZero();
        assertThat(negotiated.getHandlePassedToken().isEmpty()).as("no handoff token on the reconnect route")
                .isTrue();
        assertThat(negotiated.getKeepaliveIntervalSecs()).isEqualTo(1800);
        assertThat(negotiated.getWarningsList()).isEmpty();
    }

    @Test
    void connectionIdsAreNonZeroAndUniqueAcrossAHundredConnections() throws Exception {
        start(b -> b);
        Set<Long> ids = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            try (RawClient client = broker.connect()) {
                Negotiated negotiated = assertNegotiated(
                        client.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), i + 1)).readFrame());
                assertThat(negotiated.getConnectionId()).isNotZero();
                assertThat(ids.add(negotiated.getConnectionId()))
                        .as("connection id %d issued twice", negotiated.getConnectionId()).isTrue();
            }
        }
        assertThat(ids).hasSize(100);
    }
}
