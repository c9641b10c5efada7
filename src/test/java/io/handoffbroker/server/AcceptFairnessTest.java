package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.HelloReply;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client whose Hello arrives after its accept is answered even while the listener
 * never runs dry: the loop accepts a bounded burst, then serves the connections that
 * wait for their Hello, instead of accepting for as long as connections keep coming.
 */
class AcceptFairnessTest {

    private static final Duration HELLO_TIMEOUT = Duration.ofMillis(400);

    @TempDir
    Path dir;

    @Test
    void aHelloThatArrivesAfterItsAcceptIsAnsweredWhileOtherClientsKeepTheBacklogFull() throws Exception {
        // Each answered Hello holds the loop for a millisecond, so the reconnecting clients
        // always have connections waiting in the backlog.
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .helloTimeout(HELLO_TIMEOUT)
                .rateLimit(1_000_000, Duration.ofSeconds(1))
                .events(ReconnectingClients.slowLoop())
                .start();
                ReconnectingClients hammering = new ReconnectingClients(broker.socketPath(), 8, true)) {
            hammering.awaitAnswered(50);
            for (int i = 0; i < 5; i++) {
                try (RawClient late = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                    int before = hammering.answered();
                    Thread.sleep(30); // accepted meanwhile, with nothing to read yet
                    HelloReply reply = late.hello(RawClient.hello("echo", "1.2.3"));
                    assertThat(reply.hasNegotiated())
                            .as("late Hello %d answered, not timed out (%s)", i, reply).isTrue();
                    // Answered under load: the others were being answered while it waited.
                    assertThat(hammering.answered()).as("Hellos answered while late Hello %d waited", i)
                            .isGreaterThan(before);
                }
            }
            assertThat(hammering.failures()).isEmpty();
        }
    }
}
