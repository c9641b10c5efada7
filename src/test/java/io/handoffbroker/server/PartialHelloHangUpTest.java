package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.FrameIO;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that sends part of a Hello and hangs up, both seen by the loop in one
 * wake-up: junixsocket reports that as an invalidated key, once. The connection must
 * end then, not hold its descriptor and slot until its Hello deadline.
 */
class PartialHelloHangUpTest {

    @TempDir
    Path dir;

    @Test
    void aPartialHelloAndAHangUpSeenTogetherEndTheConnectionAtOnce() throws Exception {
        CountDownLatch loopHeld = new CountDownLatch(1);
        CountDownLatch hungUp = new CountDownLatch(1);
        AtomicBoolean holdOnce = new AtomicBoolean(true);
        // Holds the loop in the first answered Hello until the other client has sent its bytes
        // and hung up, so that the loop sees both at its next select.
        BrokerEvents holdTheLoop = new BrokerEvents() {
            @Override
            public void helloAnswered(ClientConnection connection, HelloDecision decision, long durationNanos) {
                if (holdOnce.getAndSet(false)) {
                    loopHeld.countDown();
                    try {
                        hungUp.await(5, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
        };
        // A Hello deadline far beyond the test: only the hang-up can end the connection in time.
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .helloTimeout(Duration.ofSeconds(60)).events(holdTheLoop).start()) {
            RawClient partial = broker.connect();
            assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.server().openConnections() == 1,
                    Duration.ofSeconds(5))).isTrue();
            Thread.sleep(50); // accepted and registered, waiting for its Hello

            try (RawClient other = broker.connect()) {
                other.send(FrameIO.encode(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 1)));
                assertThat(loopHeld.await(5, TimeUnit.SECONDS)).as("loop held").isTrue();
                partial.send(new byte[] {1, 10, 0}); // 3 bytes of a 5-byte header
                partial.close();
                hungUp.countDown();
            }
            assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.server().openConnections() == 0,
                    Duration.ofSeconds(5))).as("open connections: %d", broker.server().openConnections()).isTrue();
        }
    }
}
