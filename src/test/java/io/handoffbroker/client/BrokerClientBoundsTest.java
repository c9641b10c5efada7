package io.handoffbroker.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.google.protobuf.ByteString;
import io.handoffbroker.testing.FrozenListener;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.proto.Frame;
import java.io.IOException;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * Every wait of the client SDK is bounded, whatever the broker does: a broker that does
 * not accept, one that sends its frames a byte at a time, and a wait too long for a
 * socket timeout. Against a scripted broker on a real socket.
 */
class BrokerClientBoundsTest {

    private static final long CONNECTION_ID = 77;
    private static final byte[] TOKEN = HexFormat.of().parseHex("0123456789abcdef0123456789abcdef");

    @TempDir
    Path dir;

    @Test
    void noBrokerAtTheSocketIsABrokerUnreachableExceptionNamingIt() throws Exception {
        Path stale = dir.resolve("stale.sock");
        AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(stale), false).close(); // the file stays, nobody listens
        for (Path socket : List.of(dir.resolve("nothing.sock"), stale)) {
            BrokerClient client = new BrokerClient(socket);
            for (ThrowingCall call : List.<ThrowingCall>of(() -> client.connect("echo", "1.0.0").close(),
                    () -> client.exchange(client.helloFor("echo", "1.0.0")))) {
                assertThatThrownBy(call::run).isInstanceOfSatisfying(BrokerUnreachableException.class,
                        e -> assertThat(e.brokerSocket()).isEqualTo(socket))
                        .isInstanceOf(java.net.SocketException.class)
                        .hasMessageStartingWith("no broker at " + socket + ": ")
                        .hasCauseInstanceOf(java.net.SocketException.class);
            }
        }
        Path tooLong = dir.resolve("d".repeat(120));
        assertThatThrownBy(() -> new BrokerClient(tooLong)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("brokerSocket " + tooLong + " is ")
                .hasMessageEndingWith("bytes long; a Unix socket address holds at most 107");
    }

    @Test
    void onlyAConnectThatFindsNoListenerSaysNoBrokerIsThere() {
        // The system's words as junixsocket reports them; the last two come from a live broker.
        assertThat(BrokerUnreachableException.saysNoBrokerIsThere(
                new java.net.SocketException("No such file or directory"))).isTrue();
        assertThat(BrokerUnreachableException.saysNoBrokerIsThere(
                new java.net.SocketException("Connection refused"))).isTrue();
        assertThat(BrokerUnreachableException.saysNoBrokerIsThere(
                new java.net.SocketException("Not a directory"))).isTrue();
        assertThat(BrokerUnreachableException.saysNoBrokerIsThere(new java.net.ConnectException("refused"))).isTrue();
        assertThat(BrokerUnreachableException.saysNoBrokerIsThere(
                new java.net.SocketException("Permission denied"))).as("a broker this user may not reach").isFalse();
        assertThat(BrokerUnreachableException.saysNoBrokerIsThere(new java.net.SocketException("Not open")))
                .as("no descriptor left in the client").isFalse();
    }

    private interface ThrowingCall {
        void run() throws Exception;
    }

    @Test
    void aBrokerWhoseBacklogIsFullFailsTheConnectAfterTheReplyTimeoutInsteadOfHoldingIt() throws Exception {
        Path path = dir.resolve("frozen.sock");
        try (FrozenListener frozen = FrozenListener.at(path)) {
            BrokerClient client = new BrokerClient(path, Duration.ofMillis(300));
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThatThrownBy(
                    () -> client.connect("echo", "1.0.0")).isInstanceOf(SocketTimeoutException.class)
                    .hasMessageContaining("backlog full"));
        }
    }

    @Test
    void aRelaySentAByteAtATimeEndsTheRelayWaitOnTimeAndTheClientReconnects() throws Exception {
        Path backendPipe = dir.resolve("backend.sock");
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(backendPipe));
                ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> {
                    out.write(FrameIO.encode(negotiatedWithToken(backendPipe, hello)));
                    trickle(out, FrameIO.encode(acceptedRelay()), Duration.ofMillis(150));
                })) {
            backend.setSoTimeout(5_000);
            // Each byte comes well within the 300 ms read timeout; the whole relay takes over 6 s.
            BrokerClient client = new BrokerClient(broker.path(), Duration.ofSeconds(2), Duration.ofMillis(300), true);
            long started = System.nanoTime();
            try (ServiceConnection connection = client.connect("echo", "1.0.0")) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                assertThat(connection.fallbackReason()).startsWith("no relay within");
            }
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
        }
    }

    @Test
    void aReplySentAByteAtATimeFailsTheExchangeOnTime() throws Exception {
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"),
                (hello, out) -> trickle(out, FrameIO.encode(negotiatedWithToken(dir.resolve("x.sock"), hello)),
                        Duration.ofMillis(150)))) {
            BrokerClient client = new BrokerClient(broker.path(), Duration.ofMillis(300));
            long started = System.nanoTime();
            assertThatThrownBy(() -> client.exchange(client.helloFor("echo", "1.0.0")))
                    .isInstanceOf(SocketTimeoutException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
        }
    }

    @Test
    void aRelayStartedJustBeforeTheRelayWaitEndsDoesNotStretchTheWait() throws Exception {
        Path backendPipe = dir.resolve("backend.sock");
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(backendPipe));
                ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> {
                    out.write(FrameIO.encode(negotiatedWithToken(backendPipe, hello)));
                    pause(Duration.ofMillis(1800));
                    out.write(FrameIO.encode(acceptedRelay())[0]);
                })) {
            backend.setSoTimeout(5_000);
            BrokerClient client = new BrokerClient(broker.path(), Duration.ofSeconds(5), Duration.ofSeconds(2), true);
            long started = System.nanoTime();
            try (ServiceConnection connection = client.connect("echo", "1.0.0")) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                assertThat(connection.fallbackReason()).isEqualTo("no relay within 2000 ms");
            }
            // A read started at 1.8 s with the whole 2 s as its timeout would end the wait at about 3.8 s.
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(3000));
        }
    }

    @Test
    void aReplyStartedJustBeforeTheReplyTimeoutDoesNotStretchTheWait() throws Exception {
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> {
            pause(Duration.ofMillis(1800));
            out.write(FrameIO.encode(negotiatedWithToken(dir.resolve("x.sock"), hello))[0]);
        })) {
            BrokerClient client = new BrokerClient(broker.path(), Duration.ofSeconds(2));
            long started = System.nanoTime();
            assertThatThrownBy(() -> client.connect("echo", "1.0.0").close()).isInstanceOf(SocketTimeoutException.class)
                    .hasMessage("no complete frame within 2000 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(3000));
        }
    }

    @Test
    void aReplyWaitNeverEndsBeforeItsBoundOnAPlatformThreadOrAVirtualOne() throws Exception {
        // A lower bound only, and a generous upper one: on a virtual thread junixsocket looks at the
        // timeout once a second, and a loaded machine delays either kind of thread.
        Duration bound = Duration.ofMillis(300);
        for (Thread.Builder threads : List.of(Thread.ofPlatform(), Thread.ofVirtual())) {
            String kind = threads instanceof Thread.Builder.OfVirtual ? "virtual" : "platform";
            try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve(kind + ".sock"), (hello, out) -> {
                // never answers
            })) {
                BrokerClient client = new BrokerClient(broker.path(), bound);
                CompletableFuture<Duration> waited = new CompletableFuture<>();
                threads.start(() -> {
                    long started = System.nanoTime();
                    try {
                        client.connect("echo", "1.0.0").close();
                        waited.completeExceptionally(new AssertionError("a broker that never answers was followed"));
                    } catch (SocketTimeoutException expected) {
                        waited.complete(Duration.ofNanos(System.nanoTime() - started));
                    } catch (Throwable other) {
                        waited.completeExceptionally(other);
                    }
                });
                assertThat(waited.get(30, TimeUnit.SECONDS)).as("on a %s thread", kind)
                        .isGreaterThanOrEqualTo(bound).isLessThan(bound.plusSeconds(10));
            }
        }
    }

    @Test
    void aWaitTooLongToCountInMillisecondsIsStillDescribed() {
        assertThat(DeadlineInputStream.describe(ChronoUnit.FOREVER.getDuration())).startsWith("PT");
        assertThat(DeadlineInputStream.describe(Duration.ofSeconds(2))).isEqualTo("2000 ms");
    }

    @Test
    void aRelayWaitTooLongForASocketTimeoutStillWaitsAndHandsOff() throws Exception {
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> {
            out.write(FrameIO.encode(negotiatedWithToken(dir.resolve("unused.sock"), hello)));
            out.write(FrameIO.encode(acceptedRelay()));
        })) {
            BrokerClient client = new BrokerClient(broker.path(), Duration.ofSeconds(2), Duration.ofDays(30), true);
            try (ServiceConnection connection = client.connect("echo", "1.0.0")) {
                assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
                assertThat(connection.toString()).as("the token is never rendered")
                        .doesNotContain(HexFormat.of().formatHex(TOKEN))
                        .doesNotContain(ByteString.copyFrom(TOKEN).toStringUtf8())
                        .doesNotContainIgnoringCase("token")
                        .contains("route=" + Route.HANDED_OFF);
            }
        }
    }

    /** A Negotiated with a token, answering {@code hello}. */
    private static Frame negotiatedWithToken(Path backendPipe, Frame hello) {
        return ScriptedBroker.handoffNegotiated(hello.getRequestId(), backendPipe.toString(), TOKEN, CONNECTION_ID);
    }

    private static Frame acceptedRelay() {
        return ScriptedBroker.relay(TOKEN, CONNECTION_ID, UnaryOperator.identity());
    }

    private static void pause(Duration pause) {
        try {
            Thread.sleep(pause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void trickle(OutputStream out, byte[] bytes, Duration perByte) throws IOException {
        for (byte b : bytes) {
            pause(perByte);
            out.write(b); // fails once the broker is closed, which ends the script
            out.flush();
        }
    }
}
