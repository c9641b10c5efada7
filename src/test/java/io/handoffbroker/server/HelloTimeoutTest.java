package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.assertRefused;
import static io.handoffbroker.server.ListenerTestSupport.await;
import static io.handoffbroker.server.ListenerTestSupport.bytesUntilClosed;
import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.Refused;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The first-frame deadline: a client that does not deliver its whole Hello in time is refused and closed. */
class HelloTimeoutTest {

    private static final long TIMEOUT_MS = 200;
    private static final long SLACK_MS = 50;
    private static final int SAMPLES = 5;

    @TempDir
    Path dir;

    private BrokerFixture broker;

    @BeforeEach
    void startBroker() throws IOException {
        broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .helloTimeout(Duration.ofMillis(TIMEOUT_MS))
                .start();
    }

    @AfterEach
    void stopBroker() {
        broker.close();
    }

    private static byte[] halfAHello() {
        byte[] hello = FrameIO.encode(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 7));
        return Arrays.copyOf(hello, hello.length / 2);
    }

    /** What a stalled client saw: the bytes before EOF and how long after connect EOF came. */
    private record Stall(byte[] received, long millisToEof) {
    }

    private Stall stall(byte[] sendFirst) throws IOException {
        long start = System.nanoTime();
        try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(3))) {
            if (sendFirst.length > 0) {
                client.send(sendFirst);
            }
            InputStream in = client.socket().getInputStream();
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            byte[] buffer = new byte[4096];
            try {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    received.write(buffer, 0, n);
                }
            } catch (SocketException reset) {
                // closed all the same
            }
            return new Stall(received.toByteArray(), (System.nanoTime() - start) / 1_000_000);
        }
    }

    private static Refused refusalIn(byte[] received) throws IOException {
        Frame reply = FrameIO.read(new ByteArrayInputStream(received), FrameLimit.ANY);
        return assertRefused(reply, ErrorCode.ERROR_PEER_REJECTED);
    }

    @Test
    void clientThatSendsHalfAHelloAndStallsIsClosedWithinFiftyMillisecondsOfTheDeadline() throws Exception {
        long[] millis = new long[SAMPLES];
        for (int i = 0; i < SAMPLES; i++) {
            Stall stall = stall(halfAHello());
            millis[i] = stall.millisToEof();
            assertThat(stall.received()).as("sample %d: a refusal came before the close", i).isNotEmpty();
        }
        long[] sorted = millis.clone();
        Arrays.sort(sorted);
        long median = sorted[SAMPLES / 2];

        assertThat(sorted[0]).as("no sample closed before the deadline: %s ms", Arrays.toString(millis))
                .isGreaterThanOrEqualTo(TIMEOUT_MS);
        assertThat(median).as("median connect-to-EOF of %s ms", Arrays.toString(millis))
                .isGreaterThanOrEqualTo(TIMEOUT_MS)
                .isLessThan(TIMEOUT_MS + SLACK_MS);
    }

    @Test
    void stalledHalfHelloGetsAPeerRejectedIncompleteHelloRefusalBeforeTheClose() throws Exception {
        Stall stall = stall(halfAHello());

        Refused refused = refusalIn(stall.received());

        assertThat(refused.getReason()).isEqualTo("incomplete Hello frame");
        assertThat(refused.getRetryAfterMs()).isZero();
        assertThat(stall.millisToEof()).isGreaterThanOrEqualTo(TIMEOUT_MS);
    }

    @Test
    void clientThatSendsNothingIsClosedAtTheDeadline() throws Exception {
        Stall stall = stall(new byte[0]);

        assertThat(stall.millisToEof()).isGreaterThanOrEqualTo(TIMEOUT_MS).isLessThan(2_000);
        // A silent client's socket has room, so the reason always reaches it.
        assertThat(stall.received()).as("a refusal before the close").isNotEmpty();
        Refused refused = refusalIn(stall.received());
        assertThat(refused.getReason()).isEqualTo("no Hello within " + TIMEOUT_MS + " ms");
        assertThat(refused.getRetryAfterMs()).isZero();
        await("the timed-out connection to be released", Duration.ofSeconds(2),
                () -> broker.server().openConnections() == 0);
    }

    @Test
    void clientThatCompletesItsHelloBeforeTheDeadlineIsAnsweredNotTimedOut() throws Exception {
        byte[] hello = FrameIO.encode(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 7));
        try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(3))) {
            client.send(Arrays.copyOf(hello, hello.length / 2));
            Thread.sleep(TIMEOUT_MS / 4);
            client.send(Arrays.copyOfRange(hello, hello.length / 2, hello.length));

            Frame reply = client.readFrame();

            assertThat(ListenerTestSupport.assertNegotiated(reply).getConnectionId()).isNotZero();
            assertThat(bytesUntilClosed(client.socket().getInputStream())).isZero();
        }
    }
}
