package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.assertNegotiated;
import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.DescriptorExhaustion;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The event loop when its process runs out of descriptors, and when it fails outright. Out of
 * descriptors, a connection cannot be accepted and stays in the backlog, so the listener stays
 * ready: the loop must back off instead of spinning and logging each failed accept (the whole
 * test process runs out, on purpose, for a moment). A failed loop says so to its owner.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class AcceptUnderDescriptorPressureTest {

    @TempDir
    Path dir;

    @Test
    void anAcceptThatFailsForWantOfDescriptorsBacksOffAndTheClientIsServedOnceThereAreSome() throws Exception {
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .helloTimeout(Duration.ofSeconds(30)).start()) {
            try (RawClient warmUp = broker.connect()) { // loads what the Hello path needs while files can be opened
                warmUp.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 1));
                assertNegotiated(warmUp.readFrame());
            }
            // The broker closes its end of the warm-up connection after writing the Negotiated, which the
            // client can read first: closed only once the descriptors are used up, it would free one for
            // the accept below.
            assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.server().openConnections() == 0,
                    Duration.ofSeconds(5))).as("the warm-up connection closed by the broker").isTrue();
            Thread loop = LiveThreads.named("broker-io");
            RawClient client = null;
            try {
                long loopCpuNanos;
                String failure;
                boolean acceptingMeanwhile;
                try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(1)) {
                    client = broker.connect(); // the last number
                    client.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 2));
                    long before = LiveThreads.cpuNanos(loop);
                    Thread.sleep(1_000);
                    loopCpuNanos = LiveThreads.cpuNanos(loop) - before;
                    failure = broker.server().acceptFailure();
                    acceptingMeanwhile = broker.server().isAccepting();
                }
                // Retrying at once kept the loop busy (over half a CPU) and logged every attempt.
                assertThat(Duration.ofNanos(loopCpuNanos)).isLessThan(Duration.ofMillis(100));
                assertThat(failure).as("why, for the health check").isNotBlank();
                assertThat(acceptingMeanwhile).isFalse();
                assertNegotiated(client.readFrame());
            } finally {
                if (client != null) {
                    client.close();
                }
            }
            assertThat(broker.server().isAccepting()).isTrue();
            assertThat(broker.server().acceptFailure()).isNull();
        }
    }

    @Test
    void aLoopThatFailsClosesItsListenerAndTellsItsOwnerEvenWhenItsCleanUpFailsToo() throws Exception {
        CountDownLatch told = new CountDownLatch(1);
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .router(replies -> (connection, decision) -> {
                    throw new AssertionError("an error no connection can be blamed for");
                })
                .events(new BrokerEvents() {
                    @Override
                    public void connectionClosed(ClientConnection connection, String reason) {
                        throw new AssertionError("and another one while the loop cleans up");
                    }
                }).start()) {
            broker.server().onLoopFailure(told::countDown);
            try (RawClient client = broker.connect()) {
                client.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 3));
                assertThat(told.await(5, TimeUnit.SECONDS)).as("the owner was told").isTrue();
            }
            assertThat(broker.server().isListening()).isFalse();
            assertThat(broker.server().isAccepting()).isFalse();
        }
    }

    @Test
    void aConnectionLimitTheOpenFilesLimitCannotHoldIsWarnedOfAtStartUp() {
        assertThat(BrokerServer.openFilesWarning(10_240, 1_024)).contains("broker.max-connections (10240)")
                .contains("open-files limit (1024)").contains("Too many open files");
        assertThat(BrokerServer.openFilesWarning(10_240, 1_048_576)).isNull();
        assertThat(BrokerServer.openFilesWarning(10_240, -1)).as("limit unknown").isNull();
    }
}
