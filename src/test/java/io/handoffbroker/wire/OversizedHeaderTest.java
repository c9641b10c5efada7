package io.handoffbroker.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.handoffbroker.testing.RawClient;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * "Never allocate before checking the length": an oversized header is refused
 * from its 5 bytes alone. The peer here would hand over any number of body bytes;
 * reading even one of them, or allocating a body-sized buffer, fails the test.
 */
class OversizedHeaderTest {

    /** Far below either limit: what a refused header may cost at most (exception, reason, small buffers). */
    private static final long ALLOCATION_BUDGET = 16 * 1024;

    record Case(String label, FrameLimit limit, long announced) {
    }

    static Stream<Arguments> oversized() {
        return Stream.of(
                Arguments.argumentSet("first frame of 64 KiB + 1 against the Hello limit",
                        new Case("hello", FrameLimit.HELLO, WireProtocol.MAX_HELLO_BODY + 1L)),
                Arguments.argumentSet("16 MiB + 1 against the stream limit",
                        new Case("stream", FrameLimit.ANY, WireProtocol.MAX_FRAME_BODY + 1L)),
                Arguments.argumentSet("4 GiB - 1 (length field all ones, unsigned) against the stream limit",
                        new Case("max", FrameLimit.ANY, 0xFFFF_FFFFL)));
    }

    @ParameterizedTest
    @MethodSource("oversized")
    void theChannelDecoderRefusesAnOversizedHeaderAfterReadingOnlyItsFiveBytes(Case c) {
        decodeOnChannel(c); // warm-up: class loading must not count as the decoder's allocation
        long allocated = decodeOnChannel(c);
        assumeAllocationMeasurable();
        assertThat(allocated).as("bytes allocated while refusing a %d-byte header", c.announced())
                .isLessThan(ALLOCATION_BUDGET);
    }

    @ParameterizedTest
    @MethodSource("oversized")
    void theBlockingReaderRefusesAnOversizedHeaderAfterReadingOnlyItsFiveBytes(Case c) {
        readFromStream(c);
        long allocated = readFromStream(c);
        assumeAllocationMeasurable();
        assertThat(allocated).as("bytes allocated while refusing a %d-byte header", c.announced())
                .isLessThan(ALLOCATION_BUDGET);
    }

    /** Returns the bytes allocated by the decode alone. */
    private static long decodeOnChannel(Case c) {
        ScriptedChannel channel = new ScriptedChannel().bytes(RawClient.header(c.announced()))
                .tripwire("the body of an oversized frame must never be read");
        FrameDecoder decoder = c.limit().isInitialHello()
                ? FrameDecoder.forHello() : FrameDecoder.forStream();
        long before = allocatedSoFar();
        Throwable thrown = null;
        try {
            decoder.readFrom(channel);
        } catch (Throwable t) {
            thrown = t;
        }
        long allocated = allocatedSoFar() - before;
        assertThat(thrown).isInstanceOfSatisfying(FrameTooLongException.class, e -> check(c, e));
        assertThat(channel.delivered()).isEqualTo(WireProtocol.HEADER_LENGTH);
        return allocated;
    }

    /** Returns the bytes allocated by the read alone. */
    private static long readFromStream(Case c) {
        TripwireStream in = new TripwireStream(RawClient.header(c.announced()));
        long before = allocatedSoFar();
        Throwable thrown = null;
        try {
            FrameIO.read(in, c.limit());
        } catch (Throwable t) {
            thrown = t;
        }
        long allocated = allocatedSoFar() - before;
        assertThat(thrown).isInstanceOfSatisfying(FrameTooLongException.class, e -> check(c, e));
        assertThat(in.delivered).isEqualTo(WireProtocol.HEADER_LENGTH);
        return allocated;
    }

    private static void check(Case c, FrameTooLongException e) {
        assertThat(e.announcedLength()).isEqualTo(c.announced());
        assertThat(e.limit()).isEqualTo(c.limit().maxBody());
        assertThat(e.isInitialHello()).isEqualTo(c.limit().isInitialHello());
        if (e.isInitialHello()) {
            assertThat(e.reason()).isEqualTo("initial Hello frame exceeds 64 KiB");
        }
    }

    private static long allocatedSoFar() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        return threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled()
                ? threads.getCurrentThreadAllocatedBytes() : 0;
    }

    private static void assumeAllocationMeasurable() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeThat(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled())
                .as("per-thread allocation accounting").isTrue();
    }

    /** Hands out the header; asking for any byte beyond it fails the test (a socket would deliver body bytes). */
    private static final class TripwireStream extends InputStream {
        private final byte[] header;
        private int delivered;

        TripwireStream(byte[] header) {
            this.header = header;
        }

        @Override
        public int read() {
            if (delivered >= header.length) {
                throw new AssertionError("read the body of an oversized frame");
            }
            return header[delivered++] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (delivered + len > header.length) {
                throw new AssertionError("asked for " + len + " bytes after " + delivered
                        + ": that would read into the body of an oversized frame");
            }
            System.arraycopy(header, delivered, b, off, len);
            delivered += len;
            return len;
        }
    }
}
