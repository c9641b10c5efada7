package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.unix.Descriptors;
import java.io.EOFException;
import java.io.FileInputStream;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

/**
 * The token and its descriptors, read both ways the SDK can: through {@code recvmsg(2)}
 * itself (Linux) and through junixsocket (elsewhere). Real sockets, real descriptor passing.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TokenReaderTest {

    private static final byte[] TOKEN = token();

    @ParameterizedTest(name = "native calls: {0}")
    @ValueSource(booleans = {true, false})
    void aTokenSplitOverTwoWritesComesWithItsDescriptorWhichOutlivesTheControlConnection(boolean nativeCalls)
            throws Exception {
        AFUNIXSocket[] passed = pair();
        try (AFUNIXSocket farEnd = passed[1]) {
            TokenReader.Incoming incoming;
            AFUNIXSocket[] control = pair();
            try (AFUNIXSocket broker = control[0]; AFUNIXSocket backend = control[1]) {
                broker.setOutboundFileDescriptors(passed[0].getFileDescriptor());
                broker.getOutputStream().write(TOKEN, 0, 10);
                broker.getOutputStream().write(TOKEN, 10, 6);
                try (TokenReader reader = TokenReader.of(backend, nativeCalls)) {
                    incoming = reader.read();
                }
            }
            Descriptors.closeWithoutShutdown(passed[0]); // the sender's copy

            assertThat(incoming).isNotNull();
            assertThat(incoming.token()).isEqualTo(TOKEN);
            assertThat(incoming.notTaken()).isNull();
            assertThat(incoming.descriptors()).hasSize(1);
            AFUNIXSocket adopted = incoming.descriptors().getFirst().cast().as(AFUNIXSocket.class);
            adopted.getOutputStream().write(7);
            assertThat(farEnd.getInputStream().read()).as("the adopted copy works on its own").isEqualTo(7);
            Descriptors.closeWithoutShutdown(adopted);
            assertThat(farEnd.getInputStream().read()).as("and was the last").isEqualTo(-1);
        }
    }

    @ParameterizedTest(name = "native calls: {0}")
    @ValueSource(booleans = {true, false})
    void aConnectionClosedBetweenExchangesEndsCleanlyAndOneClosedMidTokenFailsWithoutLeaking(boolean nativeCalls)
            throws Exception {
        AFUNIXSocket[] idle = pair();
        try (AFUNIXSocket broker = idle[0]; AFUNIXSocket backend = idle[1]) {
            broker.close();
            try (TokenReader reader = TokenReader.of(backend, nativeCalls)) {
                assertThat(reader.read()).isNull();
            }
        }

        AFUNIXSocket[] control = pair();
        try (AFUNIXSocket broker = control[0]; AFUNIXSocket backend = control[1];
                FileInputStream devNull = new FileInputStream("/dev/null")) {
            broker.setOutboundFileDescriptors(devNull.getFD());
            broker.getOutputStream().write(TOKEN, 0, 5);
            broker.close();
            try (TokenReader reader = TokenReader.of(backend, nativeCalls)) {
                int before = OpenDescriptors.count();
                assertThatThrownBy(reader::read).isInstanceOf(EOFException.class)
                        .hasMessageContaining("after 5 token bytes");
                assertThat(OpenDescriptors.count()).as("the received descriptor was closed").isEqualTo(before);
            }
        }
    }

    @ParameterizedTest(name = "native calls: {0}")
    @ValueSource(booleans = {true, false})
    void aTokenThatStallsPartWayTimesOutAndItsDescriptorIsClosed(boolean nativeCalls) throws Exception {
        AFUNIXSocket[] control = pair();
        try (AFUNIXSocket broker = control[0]; AFUNIXSocket backend = control[1];
                FileInputStream devNull = new FileInputStream("/dev/null")) {
            backend.setSoTimeout(100);
            try (TokenReader reader = TokenReader.of(backend, nativeCalls)) {
                int before = OpenDescriptors.count();
                broker.setOutboundFileDescriptors(devNull.getFD());
                broker.getOutputStream().write(TOKEN, 0, 5);
                assertThatThrownBy(reader::read).isInstanceOf(SocketTimeoutException.class)
                        .hasMessage("offer token stalled: no byte for 100 ms after its first 5 byte(s)");
                assertThat(OpenDescriptors.count()).as("the received descriptor was closed").isEqualTo(before);
            }
        }
    }

    @ParameterizedTest(name = "native calls: {0}")
    @ValueSource(booleans = {true, false})
    void aDescriptorSentWithTheOfferFrameIsClosedNotTakenForTheNextOffers(boolean nativeCalls) throws Exception {
        AFUNIXSocket[] passed = pair();
        AFUNIXSocket[] control = pair();
        try (AFUNIXSocket farEnd = passed[1]; AFUNIXSocket broker = control[0]; AFUNIXSocket backend = control[1];
                TokenReader reader = TokenReader.of(backend, nativeCalls)) {
            backend.setSoTimeout(5_000);
            broker.getOutputStream().write(TOKEN); // a token without its descriptor
            TokenReader.Incoming first = reader.read();
            broker.setOutboundFileDescriptors(passed[0].getFileDescriptor());
            broker.getOutputStream().write(new byte[] {1, 2, 3}); // the "frame", a descriptor with it
            Descriptors.closeWithoutShutdown(passed[0]); // the sender's copy
            assertThat(backend.getInputStream().readNBytes(3)).hasSize(3); // read as the listener reads a frame
            reader.discardStrays();
            broker.getOutputStream().write(TOKEN); // the next token, again without one
            TokenReader.Incoming second = reader.read();

            assertThat(first.descriptors()).isEmpty();
            assertThat(second.descriptors()).as("what came with the frame, taken for the next offer").isEmpty();
            farEnd.setSoTimeout(5_000);
            assertThat(farEnd.getInputStream().read()).as("no copy of the stray is left open").isEqualTo(-1);
        }
    }

    @ParameterizedTest(name = "native calls: {0}")
    @ValueSource(booleans = {true, false})
    void whatCameWithATokenSaysWhetherItCanBeAClientsConnectionHoweverItWasReceived(boolean nativeCalls)
            throws Exception {
        AFUNIXSocket[] client = pair();
        AFUNIXSocket[] control = pair();
        try (AFUNIXSocket ours = client[0]; AFUNIXSocket theirs = client[1]; AFUNIXSocket broker = control[0];
                AFUNIXSocket backend = control[1]; FileInputStream devNull = new FileInputStream("/dev/null");
                TokenReader reader = TokenReader.of(backend, nativeCalls)) {
            broker.setOutboundFileDescriptors(devNull.getFD());
            broker.getOutputStream().write(TOKEN);
            TokenReader.Incoming file = reader.read();
            try {
                broker.setOutboundFileDescriptors(theirs.getFileDescriptor());
                broker.getOutputStream().write(TOKEN);
                TokenReader.Incoming connection = reader.read();
                try {
                    assertThat(file.descriptors().getFirst().whyNotAClientConnection()).isNotNull();
                    assertThat(connection.descriptors().getFirst().whyNotAClientConnection()).isNull();
                } finally {
                    connection.closeAll();
                }
            } finally {
                file.closeAll();
            }
        }
    }

    @ParameterizedTest(name = "native calls: {0}")
    @ValueSource(booleans = {true, false})
    void aTokenTrickledWithinEachReadsTimeoutStillEndsAtTheOffersLimitAndItsDescriptorIsClosed(
            boolean nativeCalls) throws Exception {
        AFUNIXSocket[] control = pair();
        try (AFUNIXSocket broker = control[0]; AFUNIXSocket backend = control[1];
                FileInputStream devNull = new FileInputStream("/dev/null")) {
            backend.setSoTimeout(3_000); // far more than the gaps between the bytes
            try (TokenReader reader = TokenReader.of(backend, nativeCalls, Duration.ofMillis(300))) {
                int before = OpenDescriptors.count();
                Thread trickle = Thread.ofPlatform().start(() -> {
                    try {
                        broker.setOutboundFileDescriptors(devNull.getFD());
                        for (int i = 0; i < TOKEN.length; i++) {
                            broker.getOutputStream().write(TOKEN[i]);
                            Thread.sleep(100);
                        }
                    } catch (Exception stopped) {
                        // The reader gave up and the test closed the connection.
                    }
                });
                try {
                    // Without the limit every read returns a byte, and the whole token comes in 1.6 s.
                    assertThatThrownBy(reader::read).isInstanceOf(SocketTimeoutException.class)
                            .hasMessage("offer token not complete within 300 ms of its first byte");
                    assertThat(OpenDescriptors.count()).as("the received descriptor was closed").isEqualTo(before);
                } finally {
                    broker.close();
                    trickle.join(Duration.ofSeconds(5)); // bounded: the close ends its next write
                }
            }
        }
    }

    @ParameterizedTest(name = "native calls: {0}")
    @ValueSource(booleans = {true, false})
    void anIdleConnectionWaitsThroughItsTimeoutsForTheNextToken(boolean nativeCalls) throws Exception {
        AFUNIXSocket[] control = pair();
        try (AFUNIXSocket broker = control[0]; AFUNIXSocket backend = control[1];
                FileInputStream devNull = new FileInputStream("/dev/null");
                TokenReader reader = TokenReader.of(backend, nativeCalls)) {
            backend.setSoTimeout(50);
            Thread late = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(300); // six timeouts of an idle connection
                    broker.setOutboundFileDescriptors(devNull.getFD());
                    broker.getOutputStream().write(TOKEN);
                } catch (Exception e) {
                    Descriptors.closeQuietly(broker); // the read then ends, and the assertions say so
                    throw new IllegalStateException(e);
                }
            });
            TokenReader.Incoming incoming = reader.read();
            late.join();
            assertThat(incoming).isNotNull();
            assertThat(incoming.token()).isEqualTo(TOKEN);
            assertThat(incoming.descriptors()).hasSize(1);
            incoming.closeAll();
        }
    }

    @ParameterizedTest(name = "native calls: {0}")
    @ValueSource(booleans = {true, false})
    void moreDescriptorsThanOneAreAllReceivedOrReportedSoTheOfferIsRefused(boolean nativeCalls) throws Exception {
        AFUNIXSocket[] control = pair();
        try (AFUNIXSocket broker = control[0]; AFUNIXSocket backend = control[1];
                FileInputStream devNull = new FileInputStream("/dev/null")) {
            broker.setOutboundFileDescriptors(devNull.getFD(), devNull.getFD(), devNull.getFD());
            broker.getOutputStream().write(TOKEN);
            TokenReader.Incoming incoming;
            try (TokenReader reader = TokenReader.of(backend, nativeCalls)) {
                incoming = reader.read();
            }
            assertThat(incoming).isNotNull();
            assertThat(incoming.descriptors()).hasSize(3);
            int before = OpenDescriptors.count();
            incoming.closeAll();
            assertThat(OpenDescriptors.count()).isEqualTo(before - 3);
        }
    }

    private static AFUNIXSocket[] pair() throws IOException {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        return new AFUNIXSocket[] {(AFUNIXSocket) pair.getSocket1().socket(), (AFUNIXSocket) pair.getSocket2().socket()};
    }

    private static byte[] token() {
        byte[] token = new byte[16];
        IntStream.range(0, 16).forEach(i -> token[i] = (byte) (i * 17 + 3));
        return token;
    }
}
