package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.observability.BrokerMetrics;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.FrameIO;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * A Hello decided for a client that is gone before its reply is written is reported as
 * undelivered, not lost: the decision spent a place in the peer's rate-limit window, and
 * an operator must be able to find where.
 */
@ExtendWith(OutputCaptureExtension.class)
class UndeliveredReplyTest {

    @TempDir
    Path dir;

    /**
     * Holds the loop at the accept until the client has sent its Hello and closed; records outcomes
     * and passes them on to {@code reported}.
     */
    private static final class HeldAtAccept implements BrokerEvents {
        final CountDownLatch clientGone = new CountDownLatch(1);
        final List<String> undelivered = new CopyOnWriteArrayList<>();
        final List<String> answered = new CopyOnWriteArrayList<>();
        final BrokerEvents reported;

        HeldAtAccept(BrokerEvents reported) {
            this.reported = reported;
        }

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
            reported.helloUndelivered(connection, decision, reason);
        }

        @Override
        public void helloAnswered(ClientConnection connection, HelloDecision decision, long durationNanos) {
            answered.add(decision.outcome());
            reported.helloAnswered(connection, decision, durationNanos);
        }
    }

    @Test
    void aHelloWhoseClientClosedBeforeItsReplyIsReportedUndeliveredNotAnswered(CapturedOutput output)
            throws Exception {
        ServiceBackend echo = ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock"));
        HeldAtAccept events = new HeldAtAccept(
                new BrokerMetrics(new SimpleMeterRegistry(), new ServiceCatalog(List.of(echo))));
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(echo)
                .events(events)
                .start()) {
            try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(3))) {
                client.send(FrameIO.encode(RawClient.helloFrame(
                        RawClient.hello("echo", "1.2.3").toBuilder().setRequestId("gone-early").build(), 5)));
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
        // Its one line in the Hello log says so, and why: the counter alone would leave an operator who
        // searches the log for the request empty-handed. (In whatever console format an earlier test
        // left configured: in JSON the quotes are escaped.)
        assertThat(output.getOut())
                .containsPattern("hello service=echo version=1\\.2\\.3 connection_id=\\d+ request_id=gone-early"
                        + " frame_request_id=5 outcome=negotiated reply_undelivered=\\\\?\"reply could not be"
                        + " written: (?!null)\\w")
                .doesNotContain("duration_us");
    }
}
