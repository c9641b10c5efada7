package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.handoffbroker.config.BrokerLifecycle;
import io.handoffbroker.handoff.FallbackReason;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.testing.DescriptorExhaustion;
import io.handoffbroker.testing.FrozenListener;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.unix.PeerUidNotAllowedException;
import io.handoffbroker.unix.ProcessUser;
import io.handoffbroker.wire.SemVer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

@ExtendWith(OutputCaptureExtension.class)
class BackendProberTest {

    @TempDir
    Path dir;

    @Test
    void aBackendThatDoesNotAnswerIsWarnedOfOnceWithWhatItsClientsGetAndWhatToCheck(CapturedOutput output)
            throws Exception {
        Path pipe = dir.resolve("backend.sock");
        ServiceBackend backend = ServiceBackend.reconnectOnly("upper", "1.0.0", pipe);
        try (BackendProber prober = new BackendProber(new ServiceCatalog(List.of(backend)), Duration.ofMinutes(1),
                Duration.ofSeconds(1), Clock.systemUTC())) {
            prober.probeAll();
            prober.probeAll();
            // Whatever format the console has (an application test run before this one sets Spring Boot's).
            assertThat(output.getAll().lines().filter(line -> line.contains("backend upper@1.0.0 is not reachable at "
                    + pipe + ": "))).as("warned of once").singleElement().asString()
                    .contains("WARN").contains("BackendProber")
                    .contains("; its clients are refused BACKEND_SPAWN_FAILED until it answers (is it started,"
                            + " listening at its configured backend-endpoint?)");
        }
    }

    @Test
    void aHandoffEndpointThatDoesNotAnswerIsReportedWithTheSystemsReasonUntilItAnswers() throws Exception {
        Path pipe = dir.resolve("backend.sock");
        Path handoff = dir.resolve("handoff.sock");
        ServiceBackend backend = HandoffFixture.handoffService(pipe, handoff);
        try (AFUNIXServerSocket backendPipe = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(pipe));
                BackendProber prober = new BackendProber(new ServiceCatalog(List.of(backend)), Duration.ofMinutes(1),
                        Duration.ofSeconds(1), Clock.systemUTC())) {
            assertThat(prober.handoffFailure(backend)).as("not probed yet: nothing speaks against trying").isNull();

            prober.probeAll();
            assertThat(prober.handoffReachable(backend)).isFalse();
            // No socket file: the system's own message, which is what tells a permission refusal apart.
            assertThat(prober.handoffFailure(backend)).contains("SocketException");

            try (AFUNIXServerSocket endpoint = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(handoff))) {
                prober.probeAll();
                assertThat(prober.handoffReachable(backend)).isTrue();
                assertThat(prober.handoffFailure(backend)).isNull();
            }
        }
    }

    @Test
    void aHandoffEndpointWhoseListenerRunsAsAUidNotAllowedFailsItsProbeWithTheUidAsTheReason() throws Exception {
        Path pipe = dir.resolve("backend.sock");
        Path handoff = dir.resolve("handoff.sock");
        long ours = ProcessUser.uid();
        long stranger = ours == 4242 ? 4243 : 4242;
        ServiceBackend pinned = HandoffFixture.handoffService(pipe, handoff).withHandoffEndpointUids(List.of(stranger));
        ServiceBackend allowed = new ServiceBackend("allowed", pinned.version(), pipe, Optional.of(handoff), true,
                Optional.empty(), List.of()).withHandoffEndpointUids(List.of(stranger, ours));
        // Another version of the pinned service at the same endpoint: counted with it, once a round.
        ServiceBackend pinnedToo = new ServiceBackend(pinned.name(), SemVer.parse("9.9.9"), pipe,
                Optional.of(handoff), true, Optional.empty(), List.of()).withHandoffEndpointUids(List.of(stranger));
        try (AFUNIXServerSocket backendPipe = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(pipe));
                AFUNIXServerSocket endpoint = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(handoff));
                BackendProber prober = new BackendProber(new ServiceCatalog(List.of(pinned, pinnedToo, allowed)),
                        Duration.ofMinutes(1), Duration.ofSeconds(1), Clock.systemUTC())) {
            List<String> refused = new java.util.concurrent.CopyOnWriteArrayList<>();
            prober.reportListenerRefusalsTo((backend, uid, pid) -> refused.add(backend.name() + " " + uid + " " + pid));
            prober.probeAll();
            prober.probeAll();
            assertThat(refused).as("each probe round that met the wrong listener, not only the first; once a service")
                    .containsExactly(pinned.name() + " " + ours + " " + ProcessHandle.current().pid(),
                            pinned.name() + " " + ours + " " + ProcessHandle.current().pid());
            assertThat(prober.isReachable(pinned)).as("backend_pipe is not pinned: its clients reconnect there")
                    .isTrue();
            assertThat(prober.handoffReachable(pinned)).isFalse();
            assertThat(prober.handoffFailure(pinned)).contains(PeerUidNotAllowedException.NOT_ALLOWED)
                    .contains("uid " + ours + " (pid " + ProcessHandle.current().pid() + ")")
                    .contains("allowed [" + stranger + "]");
            assertThat(FallbackReason.unreachable(prober.handoffFailure(pinned)))
                    .as("its clients are not offered a handoff").isEqualTo(FallbackReason.PERMISSION_DENIED);
            assertThat(prober.handoffFailure(allowed)).isNull();
        }
    }

    @Test
    void aHandoffEndpointTheBrokerDoesNotHandConnectionsToIsNotProbed() throws Exception {
        Path pipe = dir.resolve("backend.sock");
        Path handoff = dir.resolve("handoff.sock"); // nothing listens there
        ServiceBackend on = HandoffFixture.handoffService(pipe, handoff);
        ServiceBackend off = new ServiceBackend("off", on.version(), pipe, Optional.of(handoff), false,
                Optional.empty(), List.of());
        try (AFUNIXServerSocket backendPipe = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(pipe));
                BackendProber prober = new BackendProber(new ServiceCatalog(List.of(on, off)), Duration.ofMinutes(1),
                        Duration.ofSeconds(1), Clock.systemUTC());
                BackendProber routeOff = new BackendProber(new ServiceCatalog(List.of(on)), false,
                        Duration.ofMinutes(1), Duration.ofSeconds(1), Clock.systemUTC())) {
            prober.probeAll();
            assertThat(prober.handoffFailure(on)).as("handoff on: probed").isNotNull();
            assertThat(prober.probesHandoffEndpoint(off)).isFalse();
            assertThat(prober.handoffFailure(off)).as("the service's handoff-enabled is false").isNull();
            routeOff.probeAll();
            assertThat(routeOff.probesHandoffEndpoint(on)).isFalse();
            assertThat(routeOff.handoffFailure(on)).as("broker.handoff.enabled is false").isNull();
        }
    }

    @Test
    void anEndpointThatStoppedAcceptingWithAFullBacklogFailsItsProbeAfterTheTimeoutInsteadOfHoldingTheProber()
            throws Exception {
        Path pipe = dir.resolve("backend.sock");
        Path handoff = dir.resolve("handoff.sock");
        ServiceBackend backend = HandoffFixture.handoffService(pipe, handoff);
        try (AFUNIXServerSocket backendPipe = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(pipe));
                FrozenListener frozen = FrozenListener.at(handoff);
                BackendProber prober = new BackendProber(new ServiceCatalog(List.of(backend)), Duration.ofMinutes(1),
                        Duration.ofMillis(200), Clock.systemUTC())) {
            assertTimeoutPreemptively(Duration.ofSeconds(10), prober::probeAll);
            assertThat(prober.handoffReachable(backend)).isFalse();
            assertThat(prober.handoffFailure(backend)).contains("backlog full");
        }
    }

    @Test
    void aProbeTheBrokerCannotMakeForWantOfDescriptorsLeavesTheBackendAsItWas(CapturedOutput output)
            throws Exception {
        Path pipe = dir.resolve("backend.sock");
        Path handoff = dir.resolve("handoff.sock");
        ServiceBackend backend = HandoffFixture.handoffService(pipe, handoff);
        try (AFUNIXServerSocket backendPipe = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(pipe));
                AFUNIXServerSocket handoffEndpoint = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(handoff));
                BackendProber prober = new BackendProber(new ServiceCatalog(List.of(backend)), Duration.ofMinutes(1),
                        Duration.ofSeconds(1), Clock.systemUTC())) {
            BrokerLifecycle.loadClassesAhead(); // as the application does: loading a class takes a file
            prober.probeAll();
            assertThat(prober.isReachable(backend)).isTrue();
            assertThat(prober.handoffReachable(backend)).isTrue();
            try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(0)) {
                prober.probeAll();
            }
            // Its clients were refused BACKEND_SPAWN_FAILED for a probe interval, and the log said "Not open".
            assertThat(prober.isReachable(backend)).as("the broker's shortage is not the backend's").isTrue();
            assertThat(prober.handoffReachable(backend)).isTrue();
            assertThat(output.getAll()).contains("could not make 1 probe(s) since the last such warning, the latest of"
                    + " backend echo@1.2.3: this process could not create a socket").doesNotContain("is not reachable");
        }
    }
}
