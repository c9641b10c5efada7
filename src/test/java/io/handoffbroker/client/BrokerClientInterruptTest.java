package io.handoffbroker.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.testing.FrozenListener;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Refused;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * An interrupted call ends with an {@link InterruptedIOException} naming its step, keeps the
 * thread's interrupt flag, dials nothing more and closes what it opened: against scripted
 * brokers on real sockets that never answer, never relay, or never accept.
 */
class BrokerClientInterruptTest {

    private static final long CONNECTION_ID = 41;
    private static final byte[] TOKEN = HexFormat.of().parseHex("00112233445566778899aabbccddeeff");

    @TempDir
    Path dir;

    private OpenDescriptors.Snapshot baseline;

    /** What the interrupted call did, as its own thread saw it. */
    private record Outcome(@Nullable Throwable failure, boolean interruptedAfter, Duration took) {
    }

    @BeforeEach
    void baselineAfterAFirstCall() throws Exception {
        // The first call loads classes and native code for good: the baseline comes after one.
        Refused refused = Refused.newBuilder().setCode(ErrorCode.ERROR_SERVICE_UNKNOWN).setReason("warm-up").build();
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("warm-up.sock"), (hello, out) -> out.write(
                FrameIO.encode(ScriptedBroker.reply(hello.getRequestId(), HelloReply.newBuilder().setRefused(refused)))))) {
            assertThatThrownBy(() -> new BrokerClient(broker.path()).connect("echo", "1.0.0").close())
                    .isInstanceOf(BrokerRefusedException.class);
        }
        baseline = OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));
    }

    @Test
    void aPlatformThreadInterruptedWaitingForTheReplyEndsWithInterruptedIOExceptionWhenTheWaitEnds() throws Exception {
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> {
            // never answers
        })) {
            BrokerClient client = new BrokerClient(broker.path(), Duration.ofSeconds(1));
            Outcome outcome = interruptedIn(Thread.ofPlatform(), "DeadlineInputStream", () -> client.connect("echo",
                    "1.0.0"));

            assertThat(outcome.failure()).isExactlyInstanceOf(InterruptedIOException.class)
                    .hasMessage("broker call interrupted while waiting for the broker's reply");
            assertThat(outcome.interruptedAfter()).as("the interrupt flag is kept").isTrue();
            assertThat(broker.firstByteAfterScript().get(5, TimeUnit.SECONDS)).as("the broker connection closed")
                    .isEqualTo(-1);
        }
        OpenDescriptors.awaitAtMost(baseline, Duration.ofSeconds(5));
    }

    @Test
    void aPlatformThreadInterruptedWaitingForTheRelayDoesNotDialTheBackendPipe() throws Exception {
        Path backendPipe = dir.resolve("backend.sock");
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(backendPipe));
                ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> out.write(
                        FrameIO.encode(ScriptedBroker.handoffNegotiated(hello.getRequestId(), backendPipe.toString(),
                                TOKEN, CONNECTION_ID))))) {
            // never relays
            BrokerClient client = new BrokerClient(broker.path(), Duration.ofSeconds(5), Duration.ofSeconds(1), true);
            Outcome outcome = interruptedIn(Thread.ofPlatform(), "HandoffRelay", () -> client.connect("echo", "1.0.0"));

            assertThat(outcome.failure()).isExactlyInstanceOf(InterruptedIOException.class)
                    .hasMessage("broker call interrupted while waiting for the handoff-ready relay");
            assertThat(outcome.interruptedAfter()).as("the interrupt flag is kept").isTrue();
            assertThat(broker.firstByteAfterScript().get(5, TimeUnit.SECONDS)).as("the broker connection closed")
                    .isEqualTo(-1);
            backend.setSoTimeout(300);
            assertThatThrownBy(() -> backend.accept().close()).as("no connect to the backend_pipe")
                    .isInstanceOf(SocketTimeoutException.class);
        }
        OpenDescriptors.awaitAtMost(baseline, Duration.ofSeconds(5));
    }

    @Test
    void aVirtualThreadInterruptedWaitingForTheReplyEndsAtOnce() throws Exception {
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> {
            // never answers
        })) {
            BrokerClient client = new BrokerClient(broker.path(), Duration.ofSeconds(60));
            Outcome outcome = interruptedIn(Thread.ofVirtual(), "DeadlineInputStream", () -> client.connect("echo",
                    "1.0.0"));

            assertThat(outcome.failure()).isExactlyInstanceOf(InterruptedIOException.class)
                    .hasMessage("broker call interrupted while waiting for the broker's reply");
            assertThat(outcome.interruptedAfter()).as("the interrupt flag is kept").isTrue();
            assertThat(outcome.took()).as("junixsocket wakes a virtual thread on an interrupt")
                    .isLessThan(Duration.ofSeconds(30));
            assertThat(broker.firstByteAfterScript().get(5, TimeUnit.SECONDS)).as("the broker connection closed")
                    .isEqualTo(-1);
        }
        OpenDescriptors.awaitAtMost(baseline, Duration.ofSeconds(5));
    }

    @Test
    void aPlatformThreadInterruptedConnectingToABrokerThatDoesNotAcceptEndsAtOnce() throws Exception {
        Path path = dir.resolve("frozen.sock");
        try (FrozenListener frozen = FrozenListener.at(path)) {
            BrokerClient client = new BrokerClient(path, Duration.ofSeconds(60));
            Outcome outcome = interruptedIn(Thread.ofPlatform(), "BoundedConnect", () -> client.connect("echo",
                    "1.0.0"));

            assertThat(outcome.failure()).isExactlyInstanceOf(InterruptedIOException.class)
                    .hasMessage("broker call interrupted while connecting to the broker");
            assertThat(outcome.interruptedAfter()).as("the interrupt flag is kept").isTrue();
            assertThat(outcome.took()).isLessThan(Duration.ofSeconds(30));
        }
        OpenDescriptors.awaitAtMost(baseline, Duration.ofSeconds(5));
    }

    /**
     * Runs {@code call} on a new thread of {@code threads}, interrupts it once its stack shows
     * {@code waitingIn} (the wait under test), and returns what the call did.
     */
    private static Outcome interruptedIn(Thread.Builder threads, String waitingIn, Call call) throws Exception {
        CompletableFuture<Outcome> done = new CompletableFuture<>();
        Thread caller = threads.unstarted(() -> {
            long started = System.nanoTime();
            Throwable failure = null;
            try {
                call.run().close();
            } catch (Throwable t) {
                failure = t;
            }
            done.complete(new Outcome(failure, Thread.currentThread().isInterrupted(),
                    Duration.ofNanos(System.nanoTime() - started)));
        });
        caller.start();
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (Arrays.stream(caller.getStackTrace()).noneMatch(frame -> frame.getClassName().endsWith(waitingIn))) {
            if (done.isDone() || System.nanoTime() - giveUp > 0) {
                throw new AssertionError("the call never waited in " + waitingIn + ": " + done.getNow(null));
            }
            Thread.sleep(5);
        }
        caller.interrupt();
        return done.get(60, TimeUnit.SECONDS);
    }

    private interface Call {
        ServiceConnection run() throws Exception;
    }
}
