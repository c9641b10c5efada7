package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

class ReadinessTest {

    @TempDir
    Path dir;

    @Test
    void aConnectionIsReadableExactlyWhenBytesOrItsEndAreWaiting() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (AFUNIXSocketChannel reader = pair.getSocket1(); AFUNIXSocketChannel writer = pair.getSocket2()) {
            int descriptor = Readiness.number(reader.getFileDescriptor());
            assertThat(Readiness.readableNow(descriptor)).isFalse();

            writer.write(ByteBuffer.wrap(new byte[] {42}));
            assertThat(Readiness.readableNow(descriptor)).isTrue();

            reader.read(ByteBuffer.allocate(1));
            assertThat(Readiness.readableNow(descriptor)).isFalse();

            writer.close();
            assertThat(Readiness.readableNow(descriptor)).as("end of stream").isTrue();
        }
    }

    @Test
    void aListenerIsReadableExactlyWhileAConnectionWaitsToBeAccepted() throws Exception {
        AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("l.sock"));
        try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
            listener.bind(address);
            listener.configureBlocking(false);
            int descriptor = Readiness.number(listener.getFileDescriptor());
            assertThat(Readiness.readableNow(descriptor)).isFalse();

            try (AFUNIXSocketChannel first = AFUNIXSocketChannel.open(address);
                    AFUNIXSocketChannel second = AFUNIXSocketChannel.open(address)) {
                assertThat(Readiness.readableNow(descriptor)).isTrue();
                try (AFUNIXSocketChannel accepted = listener.accept()) {
                    assertThat(accepted).isNotNull();
                    assertThat(Readiness.readableNow(descriptor)).as("the second still waits").isTrue();
                }
                try (AFUNIXSocketChannel accepted = listener.accept()) {
                    assertThat(accepted).isNotNull();
                    assertThat(Readiness.readableNow(descriptor)).isFalse();
                }
            }
        }
    }

    @Test
    void aDescriptorThatIsNotOpenIsReportedReadableSoTheCallerFindsOutItself() {
        // poll(2) answers POLLNVAL for a closed number; the caller's own call then fails properly.
        assertThat(Readiness.readableNow(Integer.MAX_VALUE - 1)).isTrue();
    }
}
