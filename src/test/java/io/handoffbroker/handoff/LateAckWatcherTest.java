package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSelectorProvider;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/** The watcher's three verdicts on a quarantined control connection, over real sockets. */
class LateAckWatcherTest {

    @TempDir
    Path dir;

    private AFUNIXServerSocketChannel endpoint;
    private final BlockingQueue<AckResult> verdicts = new LinkedBlockingQueue<>();

    @BeforeEach
    void listen() throws Exception {
        endpoint = AFUNIXServerSocketChannel.open();
        endpoint.bind(AFUNIXSocketAddress.of(dir.resolve("handoff.sock")));
    }

    @AfterEach
    void close() throws Exception {
        endpoint.close();
    }

    private LateAckWatcher watcher(Duration grace) throws Exception {
        return new LateAckWatcher(grace.toNanos(), AFUNIXSelectorProvider.provider().openSelector());
    }

    private ControlConnection dial() throws Exception {
        return ControlConnection.dial(dir.resolve("handoff.sock"), Duration.ofSeconds(2));
    }

    @Test
    void noThreadRunsUntilTheFirstConnectionIsWatched() throws Exception {
        try (LateAckWatcher watcher = watcher(Duration.ofMillis(100));
                ControlConnection control = dial();
                AFUNIXSocketChannel backend = endpoint.accept()) {
            assertThat(watcher.started()).as("a broker whose ACKs all come in time runs no watcher").isFalse();
            watcher.watch(control, verdicts::add);
            assertThat(watcher.started()).isTrue();
            assertThat(verdicts.poll(5, TimeUnit.SECONDS)).isEqualTo(AckResult.MISSING);
        }
    }

    @Test
    void aCompleteFrameWithinTheGracePeriodIsLateAndTheConnectionIsClosed() throws Exception {
        try (LateAckWatcher watcher = watcher(Duration.ofSeconds(10));
                ControlConnection control = dial();
                AFUNIXSocketChannel backend = endpoint.accept()) {
            watcher.watch(control, verdicts::add);
            HandoffAck ack = HandoffAck.newBuilder().setAccepted(true).setCorrelationId(7).build();
            backend.write(ByteBuffer.wrap(FrameIO.encode(
                    Envelope.frame(FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_HANDOFF, 7, ack))));
            assertThat(verdicts.poll(5, TimeUnit.SECONDS)).isEqualTo(AckResult.LATE);
            assertThat(control.channel().isOpen()).as("never trusted again").isFalse();
        }
    }

    @Test
    void silenceUntilTheGracePeriodEndsIsMissing() throws Exception {
        try (LateAckWatcher watcher = watcher(Duration.ofMillis(200));
                ControlConnection control = dial();
                AFUNIXSocketChannel backend = endpoint.accept()) {
            watcher.watch(control, verdicts::add);
            assertThat(verdicts.poll(5, TimeUnit.SECONDS)).isEqualTo(AckResult.MISSING);
            assertThat(control.channel().isOpen()).isFalse();
            assertThat(verdicts.poll(300, TimeUnit.MILLISECONDS)).as("exactly one verdict").isNull();
        }
    }

    @Test
    void aConnectionHandedOverAfterTheWatcherClosedIsMissingAtOnceAndClosed() throws Exception {
        try (LateAckWatcher watcher = watcher(Duration.ofSeconds(30));
                ControlConnection first = dial(); AFUNIXSocketChannel firstBackend = endpoint.accept();
                ControlConnection late = dial(); AFUNIXSocketChannel lateBackend = endpoint.accept()) {
            watcher.watch(first, verdicts::add); // its thread runs, and ends with the close
            watcher.close();
            assertThat(verdicts.poll(5, TimeUnit.SECONDS)).isEqualTo(AckResult.MISSING);
            // A worker that concluded after the broker began to stop.
            watcher.watch(late, verdicts::add);
            assertThat(verdicts.poll(1, TimeUnit.SECONDS)).as("nobody would watch it any more")
                    .isEqualTo(AckResult.MISSING);
            assertThat(late.channel().isOpen()).isFalse();
        }
    }

    @Test
    void aConnectionThatCannotBeWatchedIsMissingAtOnceAndDoesNotHoldUpTheOthers() throws Exception {
        try (LateAckWatcher watcher = watcher(Duration.ofSeconds(30));
                ControlConnection closed = dial();
                AFUNIXSocketChannel closedBackend = endpoint.accept();
                ControlConnection live = dial();
                AFUNIXSocketChannel liveBackend = endpoint.accept()) {
            closed.close();
            BlockingQueue<AckResult> liveVerdicts = new LinkedBlockingQueue<>();
            watcher.watch(closed, verdicts::add);
            watcher.watch(live, liveVerdicts::add);
            // Far inside the 30 s grace period: only a watch that failed to start ends this soon.
            assertThat(verdicts.poll(5, TimeUnit.SECONDS)).isEqualTo(AckResult.MISSING);
            liveBackend.close();
            assertThat(liveVerdicts.poll(5, TimeUnit.SECONDS)).as("the other connection is still watched")
                    .isEqualTo(AckResult.MISSING);
        }
    }

    @Test
    void closingTheWatcherEndsEveryWatchedConnectionMissingAndClosesIt() throws Exception {
        LateAckWatcher watcher = watcher(Duration.ofSeconds(30));
        List<ControlConnection> controls = new ArrayList<>();
        List<AFUNIXSocketChannel> backends = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                controls.add(dial());
                backends.add(endpoint.accept());
                watcher.watch(controls.get(i), verdicts::add);
            }
            Thread.sleep(100); // registered and waiting, far inside the grace period
            assertThat(verdicts).isEmpty();
            watcher.close();
            for (int i = 0; i < 3; i++) {
                assertThat(verdicts.poll(5, TimeUnit.SECONDS)).as("verdict %d", i).isEqualTo(AckResult.MISSING);
            }
            assertThat(controls).allSatisfy(c -> assertThat(c.channel().isOpen()).isFalse());
        } finally {
            watcher.close();
            for (AFUNIXSocketChannel backend : backends) {
                backend.close();
            }
        }
    }
}
