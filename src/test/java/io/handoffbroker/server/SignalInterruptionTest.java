package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.unix.Epoll;
import io.handoffbroker.wire.proto.Hello;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import jdk.jfr.Recording;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Signals interrupt the loop's wait (EINTR): {@code epoll_wait}, which {@code unix.Epoll}
 * retries, or junixsocket's {@code poll()}, which reports it as an exception that
 * {@code unix.Selection} takes as a wake-up. A profiler that samples native threads
 * every millisecond sends them constantly: the broker must shrug them off and keep
 * answering, on either way of waiting.
 */
class SignalInterruptionTest {

    /**
     * Only a few signals a second find the loop inside poll, each in one of the idle gaps between
     * Hellos: a run of a handful of Hellos would prove little. Any machine answers far more in 3 s.
     */
    private static final int MIN_HELLOS = 50;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "waiting on {0}")
    @ValueSource(strings = {"epoll", "selector"})
    void theBrokerKeepsAnsweringWhileNativeThreadsAreSampledEveryMillisecond(String waitingOn) throws Exception {
        assumeTrue(waitingOn.equals("selector") || Epoll.available(), "no epoll here");
        try (BrokerFixture broker = startWaitingOn(waitingOn);
                Recording sampling = new Recording()) {
            assertThat(broker.server().waitingOn()).isEqualTo(waitingOn);
            // Native-method sampling stops each thread in native code (the loop in poll) with a signal.
            sampling.enable("jdk.NativeMethodSample").withPeriod(Duration.ofMillis(1));
            sampling.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(1));
            sampling.setToDisk(false);
            sampling.start();
            Hello hello = RawClient.hello("echo", "1.2.3");
            long until = System.nanoTime() + Duration.ofSeconds(3).toNanos();
            int answered = 0;
            while (System.nanoTime() - until < 0) {
                // Idle gaps let the loop sit in poll, where the signals land.
                Thread.sleep(2);
                try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                    assertThat(client.hello(hello).hasNegotiated()).as("Hello %d", answered).isTrue();
                }
                answered++;
            }
            sampling.stop();
            assertThat(answered).as("Hellos answered during the sampling").isGreaterThanOrEqualTo(MIN_HELLOS);
            // A signal can land after the last Hello of the run: the loop must still be there to answer.
            try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                assertThat(client.hello(hello).hasNegotiated()).as("a Hello after the sampling").isTrue();
            }
            assertThat(broker.server().isAccepting()).as("the listener survived").isTrue();
            assertThat(Map.of("socket file", broker.socketPath().toFile().exists())).containsEntry("socket file", true);
        }
    }

    /** The property is read when the loop starts; the tests of this fork run one at a time. */
    private BrokerFixture startWaitingOn(String waitingOn) throws Exception {
        String before = System.getProperty(Readiness.NO_EPOLL_PROPERTY);
        System.setProperty(Readiness.NO_EPOLL_PROPERTY, Boolean.toString(waitingOn.equals("selector")));
        try {
            return new BrokerFixture(dir)
                    .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                    .rateLimit(1_000_000, Duration.ofSeconds(1))
                    .start();
        } finally {
            if (before == null) {
                System.clearProperty(Readiness.NO_EPOLL_PROPERTY);
            } else {
                System.setProperty(Readiness.NO_EPOLL_PROPERTY, before);
            }
        }
    }
}
