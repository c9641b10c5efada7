package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.PeerIdentity;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A listener of the broker's events that throws costs at most one connection, never the event loop. */
class FailingEventsTest {

    @TempDir
    Path dir;

    @Test
    void aRejectedPeerWhoseReportFailsLeavesTheLoopRunning() throws Exception {
        AtomicInteger reports = new AtomicInteger();
        BrokerEvents failing = new BrokerEvents() {
            @Override
            public void peerRejected(PeerIdentity peer) {
                reports.incrementAndGet();
                throw new IllegalStateException("a report that fails");
            }
        };
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .peerPolicy(new PeerPolicy.AllowedUids(Set.of(4_000_000_000L)))
                .events(failing)
                .start()) {
            for (int i = 0; i < 2; i++) {
                try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                    assertThat(client.isClosedByPeer()).as("rejected, closed without a reply").isTrue();
                }
            }
            // The broker closes a rejected connection before it reports it: the client may see the close first.
            assertThat(RecordingHandoffEvents.awaitTrue(() -> reports.get() == 2, Duration.ofSeconds(5)))
                    .as("both rejections reported").isTrue();
            assertThat(broker.server().isAccepting()).as("the loop still runs").isTrue();
        }
    }
}
