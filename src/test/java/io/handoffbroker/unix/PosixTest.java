package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
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
            Posix.shutdown(descriptor);
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
}
