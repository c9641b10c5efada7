package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.BackendAvailability;
import io.handoffbroker.negotiation.HelloNegotiator;
import io.handoffbroker.negotiation.HelloRateLimiter;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.unix.ProcessUser;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * A listener shut for reading is readable for good, to epoll and to junixsocket's selector
 * alike, even with nothing queued: the drain's step must close it whatever fails in between,
 * or the loop, still watching it, wakes at once on every wait for the rest of the grace period.
 */
class DrainStepFailureTest {

    @TempDir
    Path dir;

    @Test
    void aDrainStepThatFailsStillClosesTheListenerItShut() throws Exception {
        Path path = dir.resolve("broker.sock");
        AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open();
        listener.setDeleteOnClose(false);
        listener.bind(AFUNIXSocketAddress.of(path), 8);
        AtomicBoolean closedReported = new AtomicBoolean();
        HelloNegotiator negotiator = new HelloNegotiator(new ServiceCatalog(List.of()), BackendAvailability.ALWAYS,
                new HelloRateLimiter(1_000, Duration.ofSeconds(1).toNanos()), () -> true, 5_000, 2_000);
        EventLoop loop = new EventLoop(listener, Readiness.open(),
                new ServerSettings(path, Duration.ofSeconds(2), 16, 8, new PeerPolicy.SameUid(ProcessUser.uid())),
                negotiator, new ReconnectRouter(new HelloReplies("test", 1800)), BrokerEvents.NONE, new AtomicLong(),
                () -> closedReported.set(true), () -> { });
        Thread thread = Thread.ofPlatform().name("drain-step-failure-loop").start(loop);
        try {
            loop.execute(() -> loop.closeListenerAfterBacklog(() -> {
                throw new IllegalStateException("the socket file could not be removed");
            }));
            CountDownLatch stepRan = new CountDownLatch(1);
            loop.execute(stepRan::countDown); // runs after the failed step, on the same pass
            assertThat(stepRan.await(5, TimeUnit.SECONDS)).as("the drain's step ran").isTrue();
            long before = LiveThreads.cpuNanos(thread);
            Thread.sleep(500);
            long busy = LiveThreads.cpuNanos(thread) - before;

            assertThat(Duration.ofNanos(busy)).as("the loop's CPU time over half a second").isLessThan(
                    Duration.ofMillis(100));
            assertThat(listener.isOpen()).as("the listener was closed").isFalse();
            assertThat(closedReported).as("its close was reported").isTrue();
            assertThat(loop.acceptState()).isEqualTo(AcceptState.CLOSED);
        } finally {
            loop.stop();
            thread.join(5_000);
        }
    }
}
