package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.unix.Descriptors;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

/**
 * The backend SDK when the process cannot start another thread (its thread limit reached): the
 * connection that found no thread is closed, its slot is given back, and the endpoint goes on
 * serving. Starting a thread then fails with an {@link OutOfMemoryError}, which the JVM throws
 * only at a limit this test cannot reach, so the handler threads' factory throws it instead.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BackendWithoutThreadsTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    /** Fails the first thread it is asked for, as a process at its thread limit does. */
    private static ThreadFactory failingOnce() {
        AtomicInteger failures = new AtomicInteger(1);
        return task -> {
            if (failures.getAndDecrement() > 0) {
                throw new OutOfMemoryError("unable to create native thread: possibly out of memory or process/"
                        + "resource limits reached");
            }
            return Thread.ofPlatform().daemon(true).unstarted(task);
        };
    }

    /**
     * Gives no thread the first time it is asked (a factory may return null), which the handler
     * threads' executor reports as a rejection, as it does once it is shut down.
     */
    private static ThreadFactory noThreadOnce() {
        AtomicInteger refusals = new AtomicInteger(1);
        return task -> refusals.getAndDecrement() > 0 ? null : Thread.ofPlatform().daemon(true).unstarted(task);
    }

    @Test
    void aReconnectingClientWhoseDispatchIsRejectedIsClosedCountedAndTheNextIsServed() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        try (BackendServer server = new BackendServer(pipe, Optional.empty(), new EchoHandler(), 1, noThreadOnce())
                .start()) {
            try (AFUNIXSocket first = RawOffers.connect(pipe)) {
                assertThat(first.getInputStream().read()).as("closed, not left hanging").isEqualTo(-1);
            }
            assertThat(server.connectionsNotDispatched()).isEqualTo(1);
            // One slot only: it was given back, or this client would wait for ever.
            try (AFUNIXSocket second = RawOffers.connect(pipe)) {
                assertThat(HandoffFixture.echo(second, "served")).isEqualTo("served");
            }
            assertThat(server.connectionsNotDispatched()).isEqualTo(1);
        }
    }

    @Test
    void aHandedOffClientWhoseDispatchIsRejectedSeesTheEndIsCountedAndTheNextHandoffIsServed() throws Exception {
        Path handoff = dir.resolve("handoff.sock");
        try (BackendServer server = new BackendServer(dir.resolve("pipe.sock"), Optional.of(handoff),
                new EchoHandler(), 1, noThreadOnce()).start();
                AFUNIXSocket control = RawOffers.connect(handoff)) {
            try (AFUNIXSocket client = handOff(control, 1)) {
                assertThat(client.getInputStream().read()).as("its descriptor was closed, not lost").isEqualTo(-1);
            }
            assertThat(server.connectionsNotDispatched()).isEqualTo(1);
            try (AFUNIXSocket client = handOff(control, 2)) {
                assertThat(HandoffFixture.echo(client, "served")).isEqualTo("served");
            }
        }
    }

    @Test
    void aReconnectingClientWithNoThreadToServeItIsClosedAndTheNextIsServed() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        try (BackendServer server = new BackendServer(pipe, Optional.empty(), new EchoHandler(), 4, failingOnce())
                .start()) {
            try (AFUNIXSocket first = RawOffers.connect(pipe)) {
                assertThat(first.getInputStream().read()).as("closed, not left hanging").isEqualTo(-1);
            }
            try (AFUNIXSocket second = RawOffers.connect(pipe)) {
                assertThat(HandoffFixture.echo(second, "served")).as("the accept thread lives on")
                        .isEqualTo("served");
            }
            assertThat(RecordingHandoffEvents.awaitTrue(() -> server.openConnections() == 0, WAIT)).isTrue();
        }
    }

    @Test
    void aHandedOffClientWithNoThreadToServeItSeesTheEndAndTheNextHandoffIsServed() throws Exception {
        Path handoff = dir.resolve("handoff.sock");
        try (BackendServer server = new BackendServer(dir.resolve("pipe.sock"), Optional.of(handoff),
                new EchoHandler(), 1, failingOnce()).start();
                AFUNIXSocket control = RawOffers.connect(handoff)) {
            try (AFUNIXSocket client = handOff(control, 1)) {
                assertThat(client.getInputStream().read()).as("its descriptor was closed, not lost").isEqualTo(-1);
            }
            // One slot only: it was given back, or this handoff would be refused at capacity.
            try (AFUNIXSocket client = handOff(control, 2)) {
                assertThat(HandoffFixture.echo(client, "served")).isEqualTo("served");
            }
            assertThat(RecordingHandoffEvents.awaitTrue(() -> server.openConnections() == 0, WAIT)).isTrue();
        }
    }

    /** Offers one end of a new socket pair, as a broker would, and returns the other, the client's. */
    private static AFUNIXSocket handOff(AFUNIXSocket control, int seed) throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        AFUNIXSocket client = (AFUNIXSocket) pair.getSocket1().socket();
        try (AFUNIXSocketChannel passed = pair.getSocket2()) {
            assertThat(RawOffers.ack(control, passed.getFileDescriptor(), RawOffers.token(seed), seed).getAccepted())
                    .isTrue();
            Descriptors.closeWithoutShutdown(passed); // the backend's copy is the last
            client.setSoTimeout(5_000);
            return client;
        } catch (Exception | AssertionError e) {
            client.close();
            throw e;
        }
    }
}
