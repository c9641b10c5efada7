package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.ErrorCode;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client whose Hello has not come when a drain's grace period ends (its hello-timeout is the
 * longer) is told the broker is shutting down, with the retry hint every Hello read during the
 * drain gets, before its connection is closed: a bare end of stream would leave it guessing.
 */
class HelloOwedAtDrainEndTest {

    @TempDir
    Path dir;

    @Test
    void aClientStillOwingItsHelloIsRefusedShuttingDownWhenTheGracePeriodEnds() throws Exception {
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .helloTimeout(Duration.ofSeconds(30))
                .start();
                RawClient silent = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5));
                RawClient late = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
            ListenerTestSupport.await("the connections accepted", Duration.ofSeconds(5),
                    () -> broker.server().openConnections() == 2);
            Thread draining = Thread.ofPlatform().start(() -> broker.server().drain(Duration.ofMillis(300)));
            ListenerTestSupport.await("the drain begun", Duration.ofSeconds(5), () -> broker.server().isDraining());
            long duringTheDrain = late.hello(RawClient.hello("echo", "1.2.3")).getRefused().getRetryAfterMs();
            draining.join(5_000);

            assertThat(assertRefused(silent.readFrame(), ErrorCode.ERROR_SHUTTING_DOWN).getRetryAfterMs())
                    .as("the hint a Hello read during the drain got (the negotiator's, not the grace period)")
                    .isEqualTo(duringTheDrain).isNotEqualTo(300);
            assertThat(silent.isClosedByPeer()).as("then closed").isTrue();
        }
    }
}
