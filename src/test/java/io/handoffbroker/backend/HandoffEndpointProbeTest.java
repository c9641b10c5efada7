package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BackendProber;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.unix.ProcessUser;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * The broker's probe of a handoff endpoint, against the backend SDK's side of it: a control
 * connection closed before any offer. The backend ends it as an idle control connection, without
 * a warning or a refusal (no failed handoff), and neither side keeps anything open.
 */
@ExtendWith(OutputCaptureExtension.class)
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class HandoffEndpointProbeTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void probesOfAHandoffEndpointLeaveNothingOpenAndAreNoFailedHandoffs(CapturedOutput output) throws Exception {
        Path pipe = dir.resolve("backend.sock");
        Path endpoint = dir.resolve("handoff.sock");
        HandoffListener listener = new HandoffListener(endpoint, () -> null, Set.of(ProcessUser.uid()));
        try (listener;
                AFUNIXServerSocket backendPipe = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(pipe));
                BackendProber prober = new BackendProber(
                        new ServiceCatalog(List.of(HandoffFixture.handoffService(pipe, endpoint))),
                        Duration.ofMinutes(1), Duration.ofSeconds(1), Clock.systemUTC())) {
            listener.start();
            OpenDescriptors.Snapshot baseline = OpenDescriptors.snapshot();
            for (int i = 0; i < 20; i++) {
                prober.probeAll();
                assertThat(prober.handoffFailure(HandoffFixture.handoffService(pipe, endpoint))).isNull();
            }
            assertThat(RecordingHandoffEvents.awaitTrue(() -> listener.controlConnections() == 0, WAIT))
                    .as("every probe's control connection ended at the backend").isTrue();
            OpenDescriptors.awaitAtMost(baseline, WAIT);
            assertThat(output.getOut()).as("the backend's log").doesNotContain("handoff endpoint " + endpoint);
        }
    }
}
