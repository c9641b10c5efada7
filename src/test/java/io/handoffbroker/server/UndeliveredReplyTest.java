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
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Hello decided for a client that is gone before its reply is written is reported as
 * undelivered, not lost: the decision spent a place in the peer's rate-limit window, and
 * an operator must be able to find where.
 */
class UndeliveredReplyTest {

    @TempDir
    Path dir;

    /** Holds the loop at the accept until the client has sent its Hello and closed; records outcomes. */
    private static final class HeldAtAccept implements BrokerEvents {
        final CountDownLatch clientGone = new CountDownLatch(1);
        final List<String> undelivered = new CopyOnWriteArrayList<>();
        final List<String> answered = new CopyOnWriteArrayList<>();

        @Override
        public void connectionOpened(ClientConnection connection) {
            try {
                clientGone.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void helloUndelivered(ClientConnection connection, HelloDecision decision, String reason) {
            undelivered.add(decision.outcome());
        }

        @Override
        public void helloAnswered(ClientConnection connection, HelloDecision decision, long durationNanos) {
            answered.add(decision.outcome());
        }
    }

    @Test
    void aHelloWhoseClientClosedBeforeItsReplyIsReportedUndeliveredNotAnswered() throws Exception {
        HeldAtAccept events = new HeldAtAccept();
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .events(events)
                .start()) {
            try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(3))) {
                client.send(FrameIO.encode(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 1)));
            }
            // The Hello is still in the socket for the broker to read; its reply has nowhere to go.
            events.clientGone.countDown();

            assertThat(RecordingHandoffEvents.awaitTrue(() -> !events.undelivered.isEmpty(), Duration.ofSeconds(5)))
                    .as("reported undelivered").isTrue();
            assertThat(events.undelivered).containsExactly("negotiated");
            assertThat(events.answered).as("not counted as answered").isEmpty();
            assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.server().openConnections() == 0,
                    Duration.ofSeconds(5))).as("its connection released").isTrue();
        }
    }
}
