package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.HelloReply;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Hello that reached the socket before its deadline is answered, even when the loop was
 * held past that deadline (a paused process, a starved CPU) and its wait has not reported it
 * yet: the deadline reads once more before it refuses "no Hello".
 */
class HelloReadAfterStallTest {

    @TempDir
    Path dir;

    @Test
    void aHelloSentInTimeWhileTheLoopStalledIsAnsweredNotTimedOut() throws Exception {
        CountDownLatch stalling = new CountDownLatch(1);
        BrokerEvents stallAtTheSecondConnection = new BrokerEvents() {
            @Override
            public void connectionOpened(ClientConnection connection) {
                if (connection.id() == 2) {
                    stalling.countDown();
                    try {
                        Thread.sleep(600); // three Hello timeouts
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
        };
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .helloTimeout(Duration.ofMillis(200))
                .events(stallAtTheSecondConnection)
                .start();
                RawClient first = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
            ListenerTestSupport.await("the first connection accepted", Duration.ofSeconds(5),
                    () -> broker.server().openConnections() == 1);
            try (RawClient second = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                assertThat(stalling.await(5, TimeUnit.SECONDS)).as("the loop stalls").isTrue();
                first.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 3)); // well within its 200 ms

                HelloReply reply = first.readReply();
                assertThat(reply.hasNegotiated()).as("answered: %s", reply).isTrue();
            }
        }
    }
}
