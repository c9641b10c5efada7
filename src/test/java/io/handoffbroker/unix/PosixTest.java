package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.testing.OpenDescriptors;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

class PosixTest {

    @TempDir
    Path dir;

    @Test
    void aConnectionIsReadableExactlyWhenBytesOrItsEndAreWaiting() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel reader = pair.getSocket1(); AFUNIXSocketChannel writer = pair.getSocket2()) {
            int descriptor = Posix.number(reader.getFileDescriptor());
            assertThat(Posix.readableNow(descriptor)).isFalse();

            writer.write(ByteBuffer.wrap(new byte[] {42}));
            assertThat(Posix.readableNow(descriptor)).isTrue();

            reader.read(ByteBuffer.allocate(1));
            assertThat(Posix.readableNow(descriptor)).isFalse();

            writer.close();
            assertThat(Posix.readableNow(descriptor)).as("end of stream").isTrue();
        }
    }

    @Test
    @Timeout(10)
    void aSendWithoutWaitingOnABlockingSocketTakesWhatFitsAndThenNothing() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel sender = pair.getSocket1(); AFUNIXSocketChannel receiver = pair.getSocket2()) {
            sender.configureBlocking(true);
            int descriptor = Posix.number(sender.getFileDescriptor());
            byte[] chunk = new byte[64 * 1024];
            long taken = 0;
            int sent;
            while ((sent = Posix.sendWithoutWaiting(descriptor, chunk)) > 0) {
                taken += sent;
            }

            assertThat(taken).as("what the receiver's queue took before it was full").isPositive();
            assertThat(Posix.sendWithoutWaiting(descriptor, new byte[] {1})).as("full: nothing, and no wait")
                    .isZero();
            ByteBuffer drained = ByteBuffer.allocate(chunk.length);
            receiver.read(drained);
            assertThat(Posix.sendWithoutWaiting(descriptor, new byte[] {1, 2, 3})).as("room again").isEqualTo(3);
        }
    }

    @Test
    void theEndOfStreamIsToldApartFromBytesWaitingWithoutReadingThem() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel reader = pair.getSocket1(); AFUNIXSocketChannel writer = pair.getSocket2()) {
            int descriptor = Posix.number(reader.getFileDescriptor());
            assertThat(Posix.atEndOfStream(descriptor)).as("nothing waiting, peer open").isFalse();

            writer.write(ByteBuffer.wrap(new byte[] {7}));
            writer.close();
            assertThat(Posix.atEndOfStream(descriptor)).as("a byte before the end").isFalse();
            assertThat(Posix.atEndOfStream(descriptor)).as("and the byte left where it was").isFalse();

            ByteBuffer one = ByteBuffer.allocate(2);
            assertThat(reader.read(one)).isEqualTo(1);
            assertThat(Posix.atEndOfStream(descriptor)).as("only the end left").isTrue();
        }
    }

    @Test
    void aSendWithoutWaitingToAClosedPeerSaysSo() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel sender = pair.getSocket1()) {
            pair.getSocket2().close();
            int descriptor = Posix.number(sender.getFileDescriptor());

            assertThatThrownBy(() -> Posix.sendWithoutWaiting(descriptor, new byte[] {1}))
                    .isInstanceOf(IOException.class).hasMessageContaining("the peer closed its end (EPIPE)");
        }
    }

    @Test
    void aListenerIsReadableExactlyWhileAConnectionWaitsToBeAccepted() throws Exception {
        AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("l.sock"));
        try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
            listener.bind(address);
            listener.configureBlocking(false);
            int descriptor = Posix.number(listener.getFileDescriptor());
            assertThat(Posix.readableNow(descriptor)).isFalse();

            try (AFUNIXSocketChannel first = AFUNIXSocketChannel.open(address);
                    AFUNIXSocketChannel second = AFUNIXSocketChannel.open(address)) {
                assertThat(Posix.readableNow(descriptor)).isTrue();
                try (AFUNIXSocketChannel accepted = listener.accept()) {
                    assertThat(accepted).isNotNull();
                    assertThat(Posix.readableNow(descriptor)).as("the second still waits").isTrue();
                }
                try (AFUNIXSocketChannel accepted = listener.accept()) {
                    assertThat(accepted).isNotNull();
                    assertThat(Posix.readableNow(descriptor)).isFalse();
                }
            }
        }
    }

    @Test
    void shutdownEndsTheStreamForThePeerAndForAReaderOfTheSameSocket() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel ours = pair.getSocket1(); AFUNIXSocketChannel peer = pair.getSocket2()) {
            int descriptor = Posix.number(ours.getFileDescriptor());
            assertThat(Posix.readableNow(descriptor)).isFalse();
            Posix.shutdown(descriptor, Posix.SHUT_RDWR);
            assertThat(Posix.readableNow(descriptor)).as("our own reads now end").isTrue();
            assertThat(peer.read(ByteBuffer.allocate(1))).as("the peer sees the end").isEqualTo(-1);
        }
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aNonBlockingDescriptorMadeBlockingWaitsForItsData() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel ours = pair.getSocket1(); AFUNIXSocketChannel peer = pair.getSocket2()) {
            ours.configureBlocking(false);
            assertThat(ours.read(ByteBuffer.allocate(1))).as("non-blocking: nothing yet").isZero();

            Posix.makeBlocking(Posix.number(ours.getFileDescriptor()));
            Thread writer = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(150);
                    peer.write(ByteBuffer.wrap(new byte[] {5}));
                } catch (Exception e) {
                    // Without the byte the blocking read would wait for ever; the end of stream fails it.
                    Descriptors.closeQuietly(peer);
                    throw new IllegalStateException(e);
                }
            });
            long started = System.nanoTime();
            assertThat(ours.read(ByteBuffer.allocate(1))).as("the read waited for the byte").isEqualTo(1);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThan(Duration.ofMillis(100));
            writer.join();
        }
    }

    @Test
    void aDescriptorThatIsNotOpenIsReportedReadableSoTheCallerFindsOutItself() {
        // poll(2) answers POLLNVAL for a closed number; the caller's own call then fails properly.
        assertThat(Posix.readableNow(Integer.MAX_VALUE - 1)).isTrue();
    }
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aDescriptorIsReceivedWithItsBytesAsACloseOnExecNumberOfOurOwnThatOutlivesItsCarrier() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> carrier = AFUNIXSocketPair.open();
        AFUNIXSocketPair<AFUNIXSocketChannel> passed = AFUNIXSocketPair.open();
        AFUNIXSocketChannel passedEnd = passed.getSocket1();
        try (AFUNIXSocketChannel farEnd = passed.getSocket2()) {
            byte[] into = new byte[16];
            Posix.Received received;
            try (AFUNIXSocketChannel sender = carrier.getSocket1(); AFUNIXSocketChannel receiver = carrier.getSocket2()) {
                sender.setOutboundFileDescriptors(passedEnd.getFileDescriptor());
                sender.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
                received = Posix.receive(Posix.number(receiver.getFileDescriptor()), into, 4, 12);
            }
            // The sender's copy; without shutdown, which would end the socket for every copy.
            Descriptors.closeWithoutShutdown(passedEnd);

            assertThat(received.bytes()).isEqualTo(3);
            assertThat(into).startsWith(0, 0, 0, 0, 1, 2, 3);
            assertThat(received.truncated()).isFalse();
            assertThat(received.descriptors()).hasSize(1);
            int ours = received.descriptors()[0];
            assertThat(closeOnExec(ours)).as("close-on-exec").isTrue();

            farEnd.configureBlocking(false);
            assertThat(farEnd.read(ByteBuffer.allocate(1))).as("open after its carrier and the sender's copy closed")
                    .isZero();
            Posix.close(ours);
            farEnd.configureBlocking(true);
            assertThat(farEnd.read(ByteBuffer.allocate(1))).as("the last copy closed").isEqualTo(-1);
        }
    }

    @Test
    void descriptorsBeyondTheRoomOfOneReceiveAreReportedAsDiscarded() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel sender = pair.getSocket1(); AFUNIXSocketChannel receiver = pair.getSocket2();
                FileInputStream devNull = new FileInputStream("/dev/null")) {
            FileDescriptor[] many = new FileDescriptor[20];
            Arrays.fill(many, devNull.getFD());
            sender.setOutboundFileDescriptors(many);
            sender.write(ByteBuffer.wrap(new byte[] {1}));

            int before = OpenDescriptors.count();
            Posix.Received received = Posix.receive(Posix.number(receiver.getFileDescriptor()), new byte[1], 0, 1);
            assertThat(OpenDescriptors.count()).as("installed: the ones reported").isEqualTo(before + 16);
            for (int descriptor : received.descriptors()) {
                Posix.close(descriptor);
            }
            assertThat(OpenDescriptors.count()).isEqualTo(before);
            assertThat(received.bytes()).isEqualTo(1);
            assertThat(received.truncated()).isTrue();
            assertThat(received.descriptors()).hasSize(16).doesNotHaveDuplicates();
        }
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aReceiveEndsWithTheSocketsTimeoutAndReportsTheEndOfTheStreamAsNoBytes() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel sender = pair.getSocket1(); AFUNIXSocketChannel receiver = pair.getSocket2()) {
            receiver.socket().setSoTimeout(100);
            int descriptor = Posix.number(receiver.getFileDescriptor());
            assertThatThrownBy(() -> Posix.receive(descriptor, new byte[1], 0, 1))
                    .isInstanceOf(SocketTimeoutException.class);
            sender.close();
            assertThat(Posix.receive(descriptor, new byte[1], 0, 1).bytes()).isZero();
        }
    }

    @Test
    void aDuplicateIsTheSameSocketUnderANumberAtOrAboveTheLowestAskedCloseOnExec() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel ours = pair.getSocket1(); AFUNIXSocketChannel peer = pair.getSocket2()) {
            int original = Posix.number(ours.getFileDescriptor());
            int copy = Posix.duplicate(original, original + 100);
            assertThat(copy).isGreaterThanOrEqualTo(original + 100);
            assertThat(closeOnExec(copy)).isTrue();
            peer.write(ByteBuffer.wrap(new byte[] {1}));
            assertThat(Posix.readableNow(copy)).as("the same socket").isTrue();
            Posix.close(copy);
            assertThat(Files.exists(Path.of("/proc/self/fd/" + copy))).as("closed").isFalse();
            assertThat(Posix.readableNow(original)).as("the original is untouched").isTrue();
        }
    }

    private static boolean closeOnExec(int descriptor) throws IOException {
        // /proc/self/fdinfo/N: "flags: 0...", octal; O_CLOEXEC is 02000000.
        String flags = Files.readAllLines(Path.of("/proc/self/fdinfo/" + descriptor)).stream()
                .filter(line -> line.startsWith("flags:")).findFirst().orElseThrow();
        return (Long.parseLong(flags.substring("flags:".length()).trim(), 8) & 02000000) != 0;
    }
}
