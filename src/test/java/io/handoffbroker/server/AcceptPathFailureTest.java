package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.proto.Hello;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bug while a new connection is taken on (here: in an event listener) costs that
 * connection, as it does for a connection the selector reports, and never the loop.
 */
class AcceptPathFailureTest {

    @TempDir
    Path dir;

    @Test
    void aFailureOnTheAcceptPathClosesThatConnectionAndTheLoopGoesOnAnswering() throws Exception {
        AtomicBoolean failOnce = new AtomicBoolean(true);
        BrokerEvents failing = new BrokerEvents() {
            @Override
            public void connectionOpened(ClientConnection connection) {
                if (failOnce.getAndSet(false)) {
                    throw new IllegalStateException("injected failure");
                }
            }
        };
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .events(failing).start()) {
            Hello hello = RawClient.hello("echo", "1.2.3");
            try (RawClient first = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                assertThat(catchThrowable(() -> first.hello(hello))).as("the failed connection is closed")
                        .isInstanceOf(IOException.class);
            }
            assertThat(failOnce).as("the failure happened").isFalse();
            try (RawClient second = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                assertThat(second.hello(hello).hasNegotiated()).as("the loop still answers").isTrue();
            }
            assertThat(broker.server().isAccepting()).isTrue();
            assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.server().openConnections() == 0,
                    Duration.ofSeconds(5))).isTrue();
        }
    }
}
