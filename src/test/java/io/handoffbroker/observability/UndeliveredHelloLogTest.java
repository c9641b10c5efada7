package io.handoffbroker.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BrokerEvents;
import io.handoffbroker.server.ClientConnection;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.FrameIO;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * A Hello decided for a client that left before its reply was written has its one line in the
 * Hello log, as every decided Hello does, saying its reply was not delivered and why; the
 * counter alone would leave an operator who searches the log for the client's request empty-handed.
 */
@ExtendWith(OutputCaptureExtension.class)
class UndeliveredHelloLogTest {

    @TempDir
    Path dir;

    @Test
    void anUndeliveredReplyIsLoggedOnTheHelloLogWithItsReason(CapturedOutput output) throws Exception {
        ServiceBackend echo = ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock"));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        BrokerMetrics metrics = new BrokerMetrics(registry, new ServiceCatalog(List.of(echo)));
        CountDownLatch clientGone = new CountDownLatch(1);
        BrokerEvents heldAtAccept = new BrokerEvents() {
            @Override
            public void connectionOpened(ClientConnection connection) {
                try {
                    clientGone.await(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }

            @Override
            public void helloAnswered(ClientConnection connection, HelloDecision decision, long durationNanos) {
                metrics.helloAnswered(connection, decision, durationNanos);
            }

            @Override
            public void helloUndelivered(ClientConnection connection, HelloDecision decision, String reason) {
                metrics.helloUndelivered(connection, decision, reason);
            }
        };
        try (BrokerFixture broker = new BrokerFixture(dir).service(echo).events(heldAtAccept).start()) {
            try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(3))) {
                client.send(FrameIO.encode(RawClient.helloFrame(
                        RawClient.hello("echo", "1.2.3").toBuilder().setRequestId("gone-early").build(), 5)));
            }
            clientGone.countDown();
            assertThat(RecordingHandoffEvents.awaitTrue(
                    () -> registry.find(BrokerMetrics.PREFIX + "hello_undelivered").tag("outcome", "negotiated")
                            .counter().count() == 1, Duration.ofSeconds(5))).as("counted undelivered").isTrue();
        }
        // Whatever console format an earlier test left configured: in JSON the quotes are escaped.
        assertThat(output.getOut())
                .containsPattern("hello service=echo version=1\\.2\\.3 connection_id=\\d+ request_id=gone-early"
                        + " frame_request_id=5 outcome=negotiated reply_undelivered=\\\\?\"reply could not be"
                        + " written: (?!null)\\w")
                .doesNotContain("duration_us");
    }
}
